import { GraphQLError } from 'graphql';
import { fleetBuilder } from './builder.ts';
import type { FleetContext } from './builder.ts';
import { FleetHostRef, FleetPoolRef, FleetProblemRef } from './refs.ts';
import { HostKindEnum } from './enums.ts';
import { fleetProblems } from '../problems.ts';
import type { FleetHost } from '../cache.ts';
import { HOST_NAME } from '../../config.ts';

export function requireHostName(name: string): void {
  if (!HOST_NAME.test(name)) throw new GraphQLError(`not a host name: ${JSON.stringify(name)}`, { extensions: { code: 'BAD_USER_INPUT' } });
}

/** The host row of a fact; a fact outlives its host row only between two reloads. */
export function hostOf(ctx: FleetContext, name: string): FleetHost {
  return ctx.cache.hosts.get(name) ?? { name, kind: 'NETWORK_NODE', version: 'unknown', startedAt: 0, intervalMs: 0, lastPush: 0, factsAt: null, scrapeUrl: null };
}

FleetHostRef.implement({
  description: 'A host of the fleet: who it is, as its last push said, and whether it still reports.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The host name (its LBTOPO_HOST, and its PostgreSQL role).' }),
    kind: t.field({ type: HostKindEnum, description: 'NETWORK_NODE or AMPHORA, as the host judged it.', resolve: (h) => h.kind }),
    version: t.exposeString('version', { description: 'The lbaas-topology version the host runs.' }),
    startedAt: t.field({ type: 'DateTime', description: 'When lbtopo started on the host.', resolve: (h) => h.startedAt }),
    lastPush: t.field({ type: 'DateTime', description: 'When its last push (facts or heartbeat) reached the fleet database (the database clock).', resolve: (h) => h.lastPush }),
    factsChangedAt: t.field({ type: 'DateTime', nullable: true, description: 'When its facts last changed.', resolve: (h) => h.factsAt }),
    intervalSeconds: t.float({ description: 'Its heartbeat interval (LBTOPO_FLEET_INTERVAL).', resolve: (h) => h.intervalMs / 1000 }),
    stale: t.boolean({ description: 'No push for more than three intervals: its facts may be out of date.', resolve: (h, _a, ctx) => ctx.cache.isStale(h, ctx.now) }),
    scrapeUrl: t.exposeString('scrapeUrl', { nullable: true, description: 'Where Prometheus scrapes its /metrics (the http_sd target list).' }),
    pools: t.field({ type: [FleetPoolRef], description: 'Its pools, sorted by id.', resolve: (h, _a, ctx) => [...ctx.cache.poolsOf(h.name)].sort((a, b) => a.id.localeCompare(b.id)) }),
    problems: t.field({ type: [FleetProblemRef], description: 'Its problems, worst first (HOST_STALE when it is stale).', resolve: (h, _a, ctx) => fleetProblems(ctx.cache, ctx.now, { host: h.name }) }),
  }),
});

fleetBuilder.queryFields((t) => ({
  hosts: t.field({
    type: [FleetHostRef],
    description: 'Every host that ever pushed, sorted by name.',
    args: { stale: t.arg.boolean({ description: 'true: only hosts silent for more than three intervals; false: only those reporting.' }) },
    resolve: (_root, args, ctx) =>
      [...ctx.cache.hosts.values()].filter((h) => args.stale == null || ctx.cache.isStale(h, ctx.now) === args.stale).sort((a, b) => a.name.localeCompare(b.name)),
  }),
  host: t.field({
    type: FleetHostRef,
    nullable: true,
    description: 'One host by name; null when it never pushed.',
    args: { name: t.arg.string({ required: true, description: 'The host name.' }) },
    resolve: (_root, args, ctx) => {
      requireHostName(args.name);
      return ctx.cache.hosts.get(args.name) ?? null;
    },
  }),
}));
