// Host identity: Query.host, and `host` on the types a fleet view attributes to a host (Pool,
// Namespace, Problem), so an answer copied out of one host says where it came from.
import { builder } from './builder.ts';
import { PoolRef } from './pool.ts';
import { NamespaceRef } from './namespace.ts';
import { ProblemRef } from './problem.ts';
import { HOST_KIND_VALUES, hostIdentity } from '../topology/host.ts';
import type { HostIdentity } from '../topology/host.ts';

const HostKindEnum = builder.enumType('HostKind', { description: 'What kind of load-balancer host this is.', values: HOST_KIND_VALUES });

export const HostRef = builder.objectRef<HostIdentity>('Host').implement({
  description: 'This host: its name in the fleet (LBTOPO_HOST), kind, lbtopo version and start time.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The host name (LBTOPO_HOST, default the hostname); in a fleet, also its PostgreSQL role.' }),
    kind: t.field({ type: HostKindEnum, description: 'NETWORK_NODE or AMPHORA, judged from the state dirs and namespaces it holds.', resolve: (h) => h.kind }),
    version: t.exposeString('version', { description: 'The lbaas-topology version serving.' }),
    startedAt: t.field({ type: 'DateTime', description: 'When this lbtopo process started.', resolve: (h) => h.startedAt }),
  }),
});

builder.queryField('host', (t) =>
  t.field({ type: HostRef, description: 'This host. Reads the state dirs and the namespace list only.', resolve: (_root, _args, ctx) => hostIdentity(ctx.session) }),
);

const seenOn = { type: HostRef, description: 'The host this was seen on.' } as const;
builder.objectField(PoolRef, 'host', (t) => t.field({ ...seenOn, resolve: (_p, _a, ctx) => hostIdentity(ctx.session) }));
builder.objectField(NamespaceRef, 'host', (t) => t.field({ ...seenOn, resolve: (_n, _a, ctx) => hostIdentity(ctx.session) }));
builder.objectField(ProblemRef, 'host', (t) => t.field({ ...seenOn, resolve: (_p, _a, ctx) => hostIdentity(ctx.session) }));
