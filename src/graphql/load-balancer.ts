// LoadBalancer: a neutron-lbaas v2 or Octavia load balancer deployed on this host (one state dir,
// one haproxy config with a frontend per listener and a backend per pool), beside the API's view.
import { builder } from './builder.ts';
import { ListenerRef, PoolLayoutEnum, PoolRef } from './pool.ts';
import { CloudLoadBalancerRef } from './cloud-load-balancer.ts';
import { applyMaxAge, badUserInput, MAX_AGE_DESCRIPTION } from './arguments.ts';
import { isUuid } from '../host/names.ts';
import type { LbaasDeployment } from '../host/lbaas-state.ts';
import { listPools } from '../topology/queries.ts';
import { cloudLoadBalancer } from '../topology/cloud-queries.ts';
import type { TopologySession } from '../topology/session.ts';

type LoadBalancerRecord = LbaasDeployment & { observedAt: number };
const LoadBalancerRef = builder.objectRef<LoadBalancerRecord>('LoadBalancer');

async function listLoadBalancers(session: TopologySession): Promise<LoadBalancerRecord[]> {
  const obs = await session.deployments();
  return obs.value.filter((d) => d.layout !== 'v1').map((d) => ({ ...d, observedAt: obs.observedAt }));
}

LoadBalancerRef.implement({
  description: 'A load balancer deployed on this host (neutron-lbaas v2 or an Octavia amphora): its state dir and haproxy config, its pools and listeners, and what the API says of it.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'The load balancer UUID (its state dir name).' }),
    layout: t.field({ type: PoolLayoutEnum, description: 'V2 or OCTAVIA.', resolve: (d) => d.layout }),
    namespaceName: t.exposeString('namespace', { description: 'The namespace its haproxy runs in (qlbaas-<id>, or amphora-haproxy).' }),
    stateDir: t.exposeString('stateDir', { description: 'The state directory.' }),
    configPath: t.exposeString('configPath', { description: 'The haproxy config file.' }),
    listeners: t.field({ type: [ListenerRef], description: 'Its listeners (haproxy frontends).', resolve: (d) => d.config?.frontends ?? [] }),
    pools: t.field({ type: [PoolRef], description: 'Its pools (haproxy backends).', resolve: async (d, _a, ctx) => (await listPools(ctx.session)).filter((p) => p.deployment.stateDir === d.stateDir) }),
    cloud: t.field({
      type: CloudLoadBalancerRef,
      nullable: true,
      description: 'What the load-balancer API says of it; null without a cloud (LBTOPO_CLOUD) or when the API does not know it (see UNKNOWN_TO_API).',
      resolve: (d, _a, ctx) => cloudLoadBalancer(ctx.session, d.id),
    }),
    observedAt: t.field({ type: 'DateTime', description: 'When the state dirs were read.', resolve: (d) => d.observedAt }),
  }),
});

builder.queryFields((t) => ({
  loadBalancers: t.field({
    type: [LoadBalancerRef],
    description: 'The v2 and Octavia load balancers deployed on this host, sorted by id (state dirs only).',
    args: { maxAge: t.arg.float({ description: MAX_AGE_DESCRIPTION }) },
    resolve: async (_root, args, ctx) => {
      applyMaxAge(ctx, args.maxAge);
      return (await listLoadBalancers(ctx.session)).sort((a, b) => a.id.localeCompare(b.id));
    },
  }),
  loadBalancer: t.field({
    type: LoadBalancerRef,
    nullable: true,
    description: 'One load balancer deployed on this host, by UUID; null when this host has none such.',
    args: { id: t.arg.string({ required: true, description: 'Load balancer UUID.' }), maxAge: t.arg.float({ description: MAX_AGE_DESCRIPTION }) },
    resolve: async (_root, args, ctx) => {
      if (!isUuid(args.id)) throw badUserInput(`not a load balancer id: ${JSON.stringify(args.id)} (a lower-case UUID)`);
      applyMaxAge(ctx, args.maxAge);
      return (await listLoadBalancers(ctx.session)).find((d) => d.id === args.id) ?? null;
    },
  }),
}));
