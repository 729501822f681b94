import { builder } from './builder.ts';
import type { ProbeTraceEntry } from '../cache/runner.ts';
import { refreshProbes } from '../topology/refresh.ts';

const ProbeNameEnum = builder.enumType('ProbeName', {
  description: 'The looks at the host everything is built from.',
  values: {
    LBAAS: { value: 'lbaas', description: 'LBaaS state dirs and haproxy configs (files only).' },
    NETNS: { value: 'netns', description: 'Named namespaces (readdir + stat).' },
    PROC: { value: 'proc', description: 'One /proc scan (files only).' },
    IP: { value: 'ip', description: 'One `ip -batch` per namespace (interfaces, addresses, counters, routes).' },
    OVS: { value: 'ovs', description: 'One ovs-vsctl transaction over Bridge, Port and Interface.' },
    STATS: { value: 'stats', description: 'One haproxy stats socket conversation per pool socket.' },
    CLOUD: { value: 'cloud', description: 'The cloud (LBTOPO_CLOUD): one Neutron or Octavia list call per resource type, and the status tree of each load balancer deployed here. Nothing without a cloud.' },
    AMPHORA: { value: 'amphora', description: "An amphora's keepalived, agent, certificate and LVS files (files only)." },
    RULE: { value: 'rule', description: '`ip rule` (both families) of an amphora namespace.' },
  } as const,
});

const ProbeRunRef = builder.objectRef<ProbeTraceEntry>('ProbeRun').implement({
  description: 'One look at the host made (or served from the cache) for a request.',
  fields: (t) => ({
    probe: t.exposeString('probe', { description: 'Probe name (lbaas, netns, proc, ip, ovs, stats, amphora, rule).' }),
    scope: t.exposeString('scope', { description: 'What it looked at: a namespace, an OVSDB target, a socket path; empty for host-wide probes.' }),
    source: t.exposeString('source', { description: 'ran, shared (joined a run in progress), cache, stale (the run failed; last good observation served) or failed.' }),
    durationMs: t.exposeFloat('durationMs', { description: 'How long it took.' }),
    observedAt: t.field({ type: 'DateTime', nullable: true, description: 'When the served observation was made.', resolve: (e) => e.observedAt }),
    error: t.string({ nullable: true, description: 'Why the run failed, if it did.', resolve: (e) => (e.error ? `${e.error.kind}: ${e.error.message}` : null) }),
  }),
});

builder.mutationField('refresh', (t) =>
  t.field({
    type: [ProbeRunRef],
    description: 'Looks at the host again now, bypassing the cache, and stores what it sees. Changes nothing on the host. Without `probes`, refreshes every probe (ip for every namespace, stats for every pool socket).',
    args: { probes: t.arg({ type: [ProbeNameEnum], description: 'Only these probes.' }) },
    resolve: (_root, args, ctx) => refreshProbes(ctx.session, args.probes ?? undefined),
  }),
);
