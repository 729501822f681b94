import { GraphQLError } from 'graphql';
import { fleetBuilder } from './builder.ts';
import { FleetHostRef, FleetPoolRef, FleetProblemRef } from './refs.ts';
import { HaproxyPresenceEnum, PoolLayoutEnum, ProblemCodeEnum, SeverityEnum } from './enums.ts';
import { hostOf, requireHostName } from './host.ts';
import { fleetProblems } from '../problems.ts';
import type { FleetPool } from '../cache.ts';
import { isUuid } from '../../host/names.ts';

export const MAX_AGE_FLEET =
  'Accepted so that host queries (lbtopo check) run unchanged; the fleet serves what the hosts last pushed: see observedAt and stale, and HOST_STALE among the problems.';

const VipRef = fleetBuilder.objectRef<{ address: string; port: number | null }>('Vip').implement({
  description: 'The virtual IP the pool is reached on.',
  fields: (t) => ({
    address: t.exposeString('address', { description: 'VIP address.' }),
    port: t.exposeInt('port', { nullable: true, description: 'Listening port.' }),
  }),
});

const FleetPoolFilter = fleetBuilder.inputType('PoolFilter', {
  description: 'Conditions a pool must all meet.',
  fields: (t) => ({
    host: t.string({ description: 'Only pools on this host.' }),
    haproxy: t.field({ type: HaproxyPresenceEnum, description: 'MISSING: pools no live haproxy runs, on every host.' }),
    layout: t.field({ type: PoolLayoutEnum, description: 'Only pools of this layout.' }),
    problem: t.field({ type: ProblemCodeEnum, description: 'Only pools with a problem of this code.' }),
    severity: t.field({ type: SeverityEnum, description: 'Only pools with a problem of this severity (with `problem`: both must hold for the same problem).' }),
  }),
});

FleetPoolRef.implement({
  description: 'A load-balancer pool as its host last pushed it.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'The pool UUID.' }),
    layout: t.field({ type: PoolLayoutEnum, description: 'Which LBaaS deployed it.', resolve: (p) => p.layout }),
    loadBalancerId: t.exposeString('loadBalancerId', { nullable: true, description: 'v2 and Octavia: the load balancer id.' }),
    namespaceName: t.exposeString('namespace', { description: 'The namespace its haproxy must run in.' }),
    namespacePresent: t.exposeBoolean('namespacePresent', { nullable: true, description: 'Whether that namespace existed (null: the host could not read its namespaces).' }),
    haproxyPresence: t.field({ type: HaproxyPresenceEnum, nullable: true, description: 'Whether a live haproxy ran it (null: the host could not read /proc).', resolve: (p) => p.haproxy }),
    haproxyPid: t.exposeInt('haproxyPid', { nullable: true, description: 'The pid of its live haproxy.' }),
    vip: t.field({ type: VipRef, nullable: true, description: 'The VIP its config binds.', resolve: (p) => (p.vipAddress ? { address: p.vipAddress, port: p.vipPort } : null) }),
    membersTotal: t.exposeInt('membersTotal', { description: 'Members (server lines) in its config.' }),
    membersUp: t.exposeInt('membersUp', { nullable: true, description: 'Members haproxy reported UP (null: the stats socket did not answer).' }),
    host: t.field({ type: FleetHostRef, description: 'The host it is on.', resolve: (p, _a, ctx) => hostOf(ctx, p.host) }),
    problems: t.field({
      type: [FleetProblemRef],
      description: "Its problems, worst first, as its host diagnosed them.",
      resolve: (p, _a, ctx) => fleetProblems(ctx.cache, ctx.now, { host: p.host }).filter((x) => x.poolId === p.id),
    }),
    observedAt: t.field({ type: 'DateTime', description: 'When its host derived this (its last push that changed facts).', resolve: (p) => p.observedAt }),
    stale: t.boolean({ description: 'Its host is stale: this may be out of date.', resolve: (p, _a, ctx) => ctx.cache.isStale(hostOf(ctx, p.host), ctx.now) }),
  }),
});

fleetBuilder.queryFields((t) => ({
  pools: t.field({
    type: [FleetPoolRef],
    description: 'Pools on every host, sorted by id then host.',
    args: { where: t.arg({ type: FleetPoolFilter, description: 'Conditions.' }), maxAge: t.arg.float({ description: MAX_AGE_FLEET }) },
    resolve: (_root, args, ctx) => {
      const where = args.where;
      if (where?.host != null) requireHostName(where.host);
      let pools: FleetPool[] = where?.host != null ? ctx.cache.poolsOf(where.host).slice().sort((a, b) => a.id.localeCompare(b.id)) : ctx.cache.pools();
      if (where?.layout != null) pools = pools.filter((p) => p.layout === where.layout);
      if (where?.haproxy != null) pools = pools.filter((p) => p.haproxy === where.haproxy);
      if (where?.problem != null || where?.severity != null) {
        const withProblem = new Set(
          fleetProblems(ctx.cache, ctx.now, { code: where.problem ?? null, severity: where.severity ?? null, host: where.host ?? null }).flatMap((x) => (x.poolId ? [`${x.host}\u0000${x.poolId}`] : [])),
        );
        pools = pools.filter((p) => withProblem.has(`${p.host}\u0000${p.id}`));
      }
      return pools;
    },
  }),
  pool: t.field({
    type: FleetPoolRef,
    nullable: true,
    description: 'One pool by UUID: on the host given, else on the host that pushed it most recently (an Octavia pair holds the same pool on two amphorae; `pools` lists both). Null when no host has it.',
    args: { id: t.arg.string({ required: true, description: 'Pool UUID.' }), host: t.arg.string({ description: 'The host to look on.' }), maxAge: t.arg.float({ description: MAX_AGE_FLEET }) },
    resolve: (_root, args, ctx) => {
      if (!isUuid(args.id)) throw new GraphQLError(`not a pool id: ${JSON.stringify(args.id)} (a lower-case UUID)`, { extensions: { code: 'BAD_USER_INPUT' } });
      if (args.host != null) requireHostName(args.host);
      const hits = ctx.cache.poolsWithId(args.id).filter((p) => args.host == null || p.host === args.host);
      return hits.sort((a, b) => hostOf(ctx, b.host).lastPush - hostOf(ctx, a.host).lastPush)[0] ?? null;
    },
  }),
}));
