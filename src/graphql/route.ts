import type { Route } from '../host/iproute.ts';
import { builder } from './builder.ts';
import { NamespaceRef } from './namespace.ts';
import { findNamespace } from '../topology/queries.ts';

export type RouteRecord = Route & { namespace: string; observedAt: number };

export const RouteRef = builder.objectRef<RouteRecord>('Route');

RouteRef.implement({
  description: 'A route in a namespace, from `ip -j route show table all` (both families).',
  fields: (t) => ({
    destination: t.exposeString('destination', { description: '`default` for default routes, else the prefix as ip prints it (10.0.0.0/24, fd00::/64, or a host address).' }),
    gateway: t.exposeString('gateway', { nullable: true, description: 'Next hop address (`via`), null for on-link routes.' }),
    device: t.exposeString('device', { nullable: true, description: 'Outgoing device (`dev`).' }),
    family: t.exposeString('family', { description: 'inet or inet6.' }),
    table: t.string({ description: 'Routing table: main, local, or a number.', resolve: (r) => String(r.table) }),
    protocol: t.exposeString('protocol', { nullable: true, description: 'Who installed it (kernel, static, ...); null when ip omits it (boot, what `route add` uses).' }),
    scope: t.exposeString('scope', { nullable: true, description: 'Route scope (link, host); null for universe.' }),
    type: t.exposeString('type', { nullable: true, description: 'Route type (unicast, local, broadcast, ...).' }),
    preferredSource: t.exposeString('preferredSource', { nullable: true, description: 'Source address hint (`src`).' }),
    metric: t.exposeInt('metric', { nullable: true, description: 'Route metric.' }),
    flags: t.exposeStringList('flags', { description: 'Route flags as ip prints them (e.g. onlink, linkdown).' }),
    namespaceName: t.exposeString('namespace', { description: 'Name of the namespace the route is in.' }),
    namespace: t.field({ type: NamespaceRef, nullable: true, description: 'The namespace the route is in.', resolve: (r, _a, ctx) => findNamespace(ctx.session, r.namespace) }),
    observedAt: t.field({ type: 'DateTime', description: 'When `ip` last showed this route.', resolve: (r) => r.observedAt }),
  }),
});
