// CloudLoadBalancer: a load balancer as the API shows it, with its VIP port and listeners.
import { builder } from './builder.ts';
import { CloudPortRef } from './cloud-port.ts';
import { CloudListenerRef } from './cloud-listener.ts';
import type { OctaviaAmphora, OctaviaLoadBalancer } from '../cloud/octavia.ts';
import { cloudAmphoraeOf, cloudListener, cloudVipPort } from '../topology/cloud-queries.ts';

export const CloudLoadBalancerRef = builder.objectRef<OctaviaLoadBalancer>('CloudLoadBalancer');
const CloudAmphoraRef = builder.objectRef<OctaviaAmphora>('CloudAmphora');

CloudAmphoraRef.implement({
  description: 'An amphora as Octavia shows it (GET /v2/octavia/amphorae; admin only).',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'Amphora UUID (amphora_id in its amphora-agent.conf).' }),
    status: t.exposeString('status', { description: 'BOOTING, ALLOCATED, READY, PENDING_*, ERROR, DELETED, FAILOVER_STOPPED.' }),
    role: t.exposeString('role', { nullable: true, description: 'STANDALONE, MASTER or BACKUP: the assigned role (after a failover the live VRRP state may differ).' }),
    computeId: t.exposeString('computeId', { nullable: true, description: 'Its Nova instance.' }),
    lbNetworkIp: t.exposeString('lbNetworkIp', { nullable: true, description: 'Its address on the management network (heartbeats come from it).' }),
    vrrpIp: t.exposeString('vrrpIp', { nullable: true, description: 'Its address on the VIP network.' }),
    haIp: t.exposeString('haIp', { nullable: true, description: 'The VIP it carries.' }),
    vrrpPortId: t.exposeString('vrrpPortId', { nullable: true, description: 'Its VRRP port (the VIP is in its allowed_address_pairs).' }),
    certExpiration: t.exposeString('certExpiration', { nullable: true, description: 'When its agent certificate expires.' }),
  }),
});

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
    amphorae: t.field({
      type: [CloudAmphoraRef],
      description: 'Its amphorae (one list of every amphora per request; empty for providers without amphorae).',
      resolve: (lb, _a, ctx) => cloudAmphoraeOf(ctx.session, lb.id),
    }),
    listeners: t.field({
      type: [CloudListenerRef],
      description: 'Its listeners.',
      resolve: async (lb, _a, ctx) => (await Promise.all(lb.listenerIds.map((id) => cloudListener(ctx.session, id)))).filter((l) => l !== null),
    }),
  }),
});
