// CloudLoadBalancer: a load balancer as the API shows it, with its VIP port and listeners.
import { builder } from './builder.ts';
import { CloudPortRef } from './cloud-port.ts';
import { CloudListenerRef } from './cloud-listener.ts';
import type { OctaviaLoadBalancer } from '../cloud/octavia.ts';
import { cloudListener, cloudVipPort } from '../topology/cloud-queries.ts';

export const CloudLoadBalancerRef = builder.objectRef<OctaviaLoadBalancer>('CloudLoadBalancer');

CloudLoadBalancerRef.implement({
  description: 'A load balancer as the load-balancer API shows it (GET /v2/lbaas/loadbalancers).',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'Load balancer UUID.' }),
    name: t.exposeString('name', { description: 'Its name.' }),
    provisioningStatus: t.exposeString('provisioningStatus', { description: 'ACTIVE, PENDING_*, ERROR, DELETED.' }),
    operatingStatus: t.exposeString('operatingStatus', { description: 'ONLINE, OFFLINE, DEGRADED, ERROR, ...' }),
    adminStateUp: t.exposeBoolean('adminStateUp', { description: 'admin_state_up.' }),
    vipAddress: t.exposeString('vipAddress', { nullable: true, description: 'The VIP.' }),
    vipPortId: t.exposeString('vipPortId', { nullable: true, description: 'The VIP port id the API records.' }),
    provider: t.exposeString('provider', { nullable: true, description: 'amphora, ovn, ...' }),
    vipPort: t.field({
      type: CloudPortRef,
      nullable: true,
      description: 'The VIP port in Neutron: the one the API names, else the port whose device_id is this load balancer.',
      resolve: async (lb, _a, ctx) => {
        const port = ctx.session.cloud ? await cloudVipPort(ctx.session, lb) : null;
        return port && ctx.session.cloud ? { ...port, host: ctx.session.cloud.host } : null;
      },
    }),
    listeners: t.field({
      type: [CloudListenerRef],
      description: 'Its listeners.',
      resolve: async (lb, _a, ctx) => (await Promise.all(lb.listenerIds.map((id) => cloudListener(ctx.session, id)))).filter((l) => l !== null),
    }),
  }),
});
