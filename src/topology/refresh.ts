// The refresh mutation: every selected probe looks at the host now (maxAge 0) for every scope
// it has (each namespace for ip, each pool's socket for stats). The background refresher uses it
// too, with its own freshness.
import type { ProbeTraceEntry } from '../cache/runner.ts';
import type { ProbeName } from '../config.ts';
import { PROBE_NAMES } from '../config.ts';
import type { TopologySession } from './session.ts';
import { listPools } from './queries.ts';

/**
 * `now: false` keeps the session's own freshness (the background refresher's, which looks again
 * only at what would expire before its next round) instead of looking at everything now.
 * `concurrency` bounds the per-namespace and per-socket looks in flight: the refresher's 2,000
 * looks of a 1000-pool host, started in one go, held the loop that answers requests for 300 ms.
 */
export async function refreshProbes(session: TopologySession, probes: readonly ProbeName[] = PROBE_NAMES, options: { now?: boolean; concurrency?: number } = {}): Promise<ProbeTraceEntry[]> {
  if (options.now ?? true) session.requireFreshness(0);
  const each = <T>(items: readonly T[], look: (item: T) => Promise<unknown>): Promise<unknown>[] => {
    if (!options.concurrency) return items.map((item) => settle(look(item)));
    let next = 0;
    const lane = async () => {
      while (next < items.length) await settle(look(items[next++]!));
    };
    return Array.from({ length: Math.min(options.concurrency, items.length) }, lane);
  };
  const wanted = new Set(probes);
  const start = session.trace.length;
  const settle = (p: Promise<unknown>) => p.catch(() => undefined);
  const jobs: Promise<unknown>[] = [];
  if (wanted.has('lbaas')) jobs.push(settle(session.deployments()));
  if (wanted.has('netns')) jobs.push(settle(session.namespaces()));
  if (wanted.has('proc')) jobs.push(settle(session.processes()));
  if (wanted.has('ovs')) jobs.push(settle(session.ovs()));
  if (wanted.has('amphora')) jobs.push(settle(session.amphora()));
  if (wanted.has('rule')) {
    const amphoraNamespaces = new Set((await listPools(session).catch(() => [])).filter((p) => p.layout === 'octavia').map((p) => p.namespaceName));
    const existing = (await session.namespaces()).value.filter((ns) => amphoraNamespaces.has(ns.name));
    jobs.push(...existing.map((ns) => settle(session.rules(ns.name))));
  }
  if (wanted.has('ip')) {
    const namespaces = (await session.namespaces()).value;
    jobs.push(...each(namespaces, (ns) => session.network(ns.name)));
  }
  if (wanted.has('stats')) {
    const sockets = new Set((await listPools(session)).map((p) => p.deployment.socketPath));
    jobs.push(...each([...sockets], (s) => session.stats(s)));
  }
  if (wanted.has('cloud') && session.cloud) {
    for (const probe of ['ports', 'loadBalancers', 'listeners', 'pools'] as const) jobs.push(settle(session.cloudList(probe)));
    const lbIds = new Set((await listPools(session)).flatMap((p) => (p.layout !== 'v1' && p.loadBalancerId ? [p.loadBalancerId] : [])));
    jobs.push(...[...lbIds].map((id) => settle(session.cloudStatus(id))));
  }
  await Promise.all(jobs);
  return session.trace.slice(start);
}
