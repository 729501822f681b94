// CloudPool: a pool as the API shows it (with its members from the status tree), and Pool.cloud.
import { builder } from './builder.ts';
import { PoolRef } from './pool.ts';
import { CloudLoadBalancerRef } from './cloud-load-balancer.ts';
import type { OctaviaPool } from '../cloud/octavia.ts';
import { cloudLoadBalancer, cloudPoolOf, cloudStatusTree, cloudVipPort } from '../topology/cloud-queries.ts';
import type { TopologySession } from '../topology/session.ts';

const CloudPoolRef = builder.objectRef<OctaviaPool>('CloudPool');
const CloudMemberRef = builder.objectRef<{ id: string; address: string | null; protocolPort: number | null; provisioningStatus: string; operatingStatus: string }>('CloudMember');

CloudMemberRef.implement({
  description: "A member as the API's status tree shows it.",
  fields: (t) => ({
    id: t.exposeString('id', { description: 'Member UUID (the haproxy server name).' }),
    address: t.exposeString('address', { nullable: true, description: 'Its address.' }),
    protocolPort: t.exposeInt('protocolPort', { nullable: true, description: 'Its port.' }),
    provisioningStatus: t.exposeString('provisioningStatus', { description: 'ACTIVE, PENDING_*, ERROR.' }),
    operatingStatus: t.exposeString('operatingStatus', { description: 'ONLINE, ERROR, OFFLINE (also: disabled), DRAINING, NO_MONITOR.' }),
  }),
});

async function vipPortOf(session: TopologySession, pool: OctaviaPool) {
  const lbId = pool.loadBalancerIds[0];
  const lb = lbId ? await cloudLoadBalancer(session, lbId) : null;
  return lb ? cloudVipPort(session, lb) : null;
}

CloudPoolRef.implement({
  description: 'A pool as the load-balancer API shows it (GET /v2/lbaas/pools), with its VIP port binding from Neutron.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'Pool UUID.' }),
    name: t.exposeString('name', { description: 'Its name.' }),
    provisioningStatus: t.exposeString('provisioningStatus', { description: 'ACTIVE, PENDING_*, ERROR, DELETED.' }),
    operatingStatus: t.exposeString('operatingStatus', { description: 'ONLINE, OFFLINE, DEGRADED, ERROR, ... (neutron-lbaas v2 never downgrades it).' }),
    adminStateUp: t.exposeBoolean('adminStateUp', { description: 'admin_state_up.' }),
    lbAlgorithm: t.exposeString('lbAlgorithm', { description: 'ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP, ...' }),
    healthMonitorId: t.exposeString('healthMonitorId', { nullable: true, description: 'Its health monitor.' }),
    loadBalancer: t.field({ type: CloudLoadBalancerRef, nullable: true, description: 'Its load balancer.', resolve: (p, _a, ctx) => (p.loadBalancerIds[0] ? cloudLoadBalancer(ctx.session, p.loadBalancerIds[0]) : null) }),
    bindingHost: t.string({ nullable: true, description: "binding:host_id of the load balancer's VIP port.", resolve: async (p, _a, ctx) => (await vipPortOf(ctx.session, p))?.bindingHost ?? null }),
    vifType: t.string({ nullable: true, description: "binding:vif_type of the load balancer's VIP port.", resolve: async (p, _a, ctx) => (await vipPortOf(ctx.session, p))?.vifType ?? null }),
    vipPortAdminStateUp: t.boolean({ nullable: true, description: "admin_state_up of the VIP port (false on Octavia's placeholder, by design).", resolve: async (p, _a, ctx) => (await vipPortOf(ctx.session, p))?.adminStateUp ?? null }),
    members: t.field({
      type: [CloudMemberRef],
      nullable: true,
      description: "Its members from the load balancer's status tree (one request per load balancer); null when the API has no tree for it.",
      resolve: async (p, _a, ctx) => {
        const lbId = p.loadBalancerIds[0];
        const tree = lbId ? await cloudStatusTree(ctx.session, lbId) : null;
        return tree?.pools.find((x) => x.id === p.id)?.members ?? null;
      },
    }),
  }),
});

builder.objectField(PoolRef, 'cloud', (t) =>
  t.field({
    type: CloudPoolRef,
    nullable: true,
    description: 'What the load-balancer API says of this pool. Null without a cloud (LBTOPO_CLOUD), for neutron-lbaas v1 pools (no API left to ask), or when the API has no such pool (see UNKNOWN_TO_API).',
    resolve: (p, _a, ctx) => cloudPoolOf(ctx.session, p),
  }),
);
