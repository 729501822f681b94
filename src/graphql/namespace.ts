import type { NamedNamespace } from '../host/netns.ts';
import { builder } from './builder.ts';
import { InterfaceRef } from './interface.ts';
import { RouteRef } from './route.ts';
import { ProcessRef } from './process.ts';
import { PoolRef } from './pool.ts';
import { ProblemRef, problemFilterArgs } from './problem.ts';
import { applyMaxAge, MAX_AGE_DESCRIPTION, requireNamespaceName } from './arguments.ts';
import { diagnoseNamespace } from '../diagnose/diagnose.ts';
import { orphanNamespaces } from '../diagnose/rules.ts';
import { findNamespace, interfacesOf, listNamespaceRecords, poolsInNamespace, namespaceNetwork, processesInNamespace } from '../topology/queries.ts';
import type { Seen } from '../topology/queries.ts';

export const NamespaceRef = builder.objectRef<Seen<NamedNamespace>>('Namespace');

export const NamespaceKindEnum = builder.enumType('NamespaceKind', {
  description: 'What made a namespace, judged from its name prefix.',
  values: {
    QLBAAS: { value: 'qlbaas', description: 'neutron-lbaas haproxy namespace: qlbaas-<pool id> (v1) or qlbaas-<load balancer id> (v2).' },
    QROUTER: { value: 'qrouter', description: 'neutron L3 agent router.' },
    QDHCP: { value: 'qdhcp', description: 'neutron DHCP agent, one per network.' },
    SNAT: { value: 'snat', description: 'DVR centralised SNAT.' },
    FIP: { value: 'fip', description: 'DVR floating IP namespace.' },
    OVNMETA: { value: 'ovnmeta', description: 'OVN metadata agent, one per network.' },
    AMPHORA_HAPROXY: { value: 'amphora-haproxy', description: 'Octavia amphora haproxy namespace.' },
    OTHER: { value: 'other', description: 'Any other name.' },
  } as const,
});

NamespaceRef.implement({
  description: 'A named network namespace (a bind mount in LBTOPO_NETNS_DIR, as `ip netns` lists them).',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The namespace name, e.g. qlbaas-<pool id>.' }),
    kind: t.field({ type: NamespaceKindEnum, description: 'Kind from the name prefix.', resolve: (ns) => ns.kind }),
    uuid: t.exposeString('uuid', { nullable: true, description: 'The UUID after the prefix, when it is one.' }),
    inode: t.exposeFloat('inode', { description: 'nsfs inode: the N of net:[N] in /proc/PID/ns/net of processes inside.' }),
    path: t.exposeString('path', { description: 'Path of the bind mount.' }),
    interfaces: t.field({ type: [InterfaceRef], nullable: true, description: 'Devices inside (runs `ip` in the namespace).', resolve: (ns, _a, ctx) => interfacesOf(ctx.session, ns.name) }),
    routes: t.field({
      type: [RouteRef],
      nullable: true,
      description: 'Routes of all tables, IPv4 and IPv6 (runs `ip` in the namespace; the same run as interfaces).',
      resolve: async (ns, _a, ctx) => {
        const net = await namespaceNetwork(ctx.session, ns.name);
        return net.routes.map((r) => ({ ...r, namespace: ns.name, observedAt: net.observedAt }));
      },
    }),
    processes: t.field({ type: [ProcessRef], nullable: true, description: 'Processes whose network namespace this is (one /proc scan).', resolve: (ns, _a, ctx) => processesInNamespace(ctx.session, ns) }),
    pools: t.field({ type: [PoolRef], nullable: true, description: 'Pools whose haproxy belongs in this namespace (a v2 load balancer can hold several).', resolve: (ns, _a, ctx) => poolsInNamespace(ctx.session, ns.name) }),
    pool: t.field({ type: PoolRef, nullable: true, description: 'The pool of this namespace; for a v2 load balancer with several pools, the first by id (see pools).', resolve: async (ns, _a, ctx) => (await poolsInNamespace(ctx.session, ns.name))[0] ?? null }),
    orphaned: t.boolean({
      description: 'A qlbaas- namespace that no LBaaS state dir names (a leftover of a deleted pool). Reads the state dirs only.',
      resolve: async (ns, _a, ctx) => orphanNamespaces([ns], (await ctx.session.deployments()).value).length > 0,
    }),
    problems: t.field({
      type: [ProblemRef],
      nullable: true,
      description: "What is wrong here: the problems of the pools whose haproxy belongs in this namespace, and ORPHAN_NAMESPACE. Runs the probes the checks need, for this namespace's pools only.",
      args: problemFilterArgs(t.arg),
      resolve: (ns, args, ctx) => diagnoseNamespace(ctx.session, ns.name, { code: args.code ?? null, severity: args.severity ?? null }),
    }),
    observedAt: t.field({ type: 'DateTime', description: 'When the namespace list that showed it was read.', resolve: (ns) => ns.observedAt }),
  }),
});


builder.queryFields((t) => ({
  namespace: t.field({
    type: NamespaceRef,
    nullable: true,
    description: 'One named namespace by name; null when there is none.',
    args: { name: t.arg.string({ required: true, description: 'The namespace name.' }), maxAge: t.arg.float({ description: MAX_AGE_DESCRIPTION }) },
    resolve: (_root, args, ctx) => {
      requireNamespaceName(args.name);
      applyMaxAge(ctx, args.maxAge);
      return findNamespace(ctx.session, args.name);
    },
  }),
  namespaces: t.field({
    type: [NamespaceRef],
    nullable: true,
    description: 'Named namespaces, sorted by name.',
    args: {
      kind: t.arg({ type: NamespaceKindEnum, description: 'Only namespaces of this kind.' }),
      orphaned: t.arg.boolean({ description: 'true: only qlbaas- namespaces no LBaaS state dir names (leftovers); false: all the others. Reads the state dirs, runs no command.' }),
      maxAge: t.arg.float({ description: MAX_AGE_DESCRIPTION }),
    },
    resolve: async (_root, args, ctx) => {
      applyMaxAge(ctx, args.maxAge);
      let namespaces = (await listNamespaceRecords(ctx.session)).filter((ns) => args.kind == null || ns.kind === args.kind);
      if (args.orphaned != null) {
        const orphans = new Set(orphanNamespaces(namespaces, (await ctx.session.deployments()).value).map((ns) => ns.name));
        namespaces = namespaces.filter((ns) => orphans.has(ns.name) === args.orphaned);
      }
      return namespaces;
    },
  }),
}));
