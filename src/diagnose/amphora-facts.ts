// The extra facts amphora pools need. An amphora's role (MASTER, BACKUP, SINGLE; topology/amphora.ts)
// decides whether its VIP, default route and policy rule must be there, so whenever an Octavia pool
// is checked with a network rule, the role's inputs are read too: the amphora files, /proc (is
// keepalived alive), the namespace's addresses and its `ip rule`. Nothing here runs for a host
// without Octavia pools unless a host-wide amphora code (HM_TARGETS_INVALID, CERT_EXPIRING) is asked.
import type { Observed } from '../cache/runner.ts';
import type { ProbeName } from '../config.ts';
import type { TopologySession } from '../topology/session.ts';
import { HAPROXY_HISTORY } from '../topology/probes.ts';
import type { HaproxySighting } from '../topology/probes.ts';
import type { HaproxyPeriod } from '../topology/queries.ts';
import type { IpRule } from '../host/ip-rules.ts';
import type { NamespaceNetwork } from '../host/iproute.ts';
import { PROBLEM_CODES } from './codes.ts';
import type { ProblemCode } from './codes.ts';
import type { DiagnosisFacts } from './facts.ts';

type Read = <T>(probe: ProbeName, scope: string, observation: Promise<Observed<T>>) => Promise<T | null>;

/** How many history periods HAPROXY_RESTARTING looks at per config. */
export const RESTART_HISTORY_PERIODS = 50;

export async function gatherAmphoraFacts(session: TopologySession, codes: ReadonlySet<ProblemCode>, facts: DiagnosisFacts, read: Read): Promise<DiagnosisFacts> {
  const needs = new Set<ProbeName>();
  for (const code of codes) for (const p of PROBLEM_CODES[code].needs) needs.add(p);
  const octavia = facts.pools.filter((p) => p.layout === 'octavia');
  const hostWideAmphora = codes.has('HM_TARGETS_INVALID') || codes.has('CERT_EXPIRING');
  const roleAware = octavia.length > 0 && (needs.has('ip') || needs.has('amphora'));
  const out: DiagnosisFacts = { ...facts, networks: new Map(facts.networks), rules: new Map(facts.rules), haproxyHistory: new Map(facts.haproxyHistory) };

  if (hostWideAmphora || roleAware || (octavia.length > 0 && needs.has('stats'))) out.amphora = await read('amphora', '', session.amphora());
  if (roleAware) {
    if (!out.processes) out.processes = await read('proc', '', session.processes());
    if (!out.namespaces) out.namespaces = await read('netns', '', session.namespaces());
    const existing = new Set((out.namespaces ?? []).map((n) => n.name));
    const names = [...new Set(octavia.map((p) => p.namespaceName))].filter((n) => existing.has(n));
    const networks = out.networks as Map<string, NamespaceNetwork>;
    const rules = out.rules as Map<string, IpRule[]>;
    await Promise.all(
      names.map(async (name) => {
        const [net, list] = await Promise.all([
          networks.has(name) ? networks.get(name)! : read('ip', name, session.network(name)),
          read('rule', name, session.rules(name)),
        ]);
        if (net) networks.set(name, net);
        if (list) rules.set(name, list);
      }),
    );
  }
  if (codes.has('HAPROXY_RESTARTING') && octavia.length > 0) {
    // The history includes this diagnosis' own look at /proc once it is recorded.
    if (!out.processes) out.processes = await read('proc', '', session.processes());
    const history = out.haproxyHistory as Map<string, Array<Pick<HaproxyPeriod, 'from' | 'to' | 'processes'>>>;
    for (const path of new Set(octavia.map((p) => p.deployment.configPath))) {
      history.set(
        path,
        session.runner.store.history(HAPROXY_HISTORY, path, RESTART_HISTORY_PERIODS).map((row) => ({ from: row.firstSeen, to: row.lastSeen, processes: (row.payload as HaproxySighting[] | null) ?? [] })),
      );
    }
  }
  return out;
}
