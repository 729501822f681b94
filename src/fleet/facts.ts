// The derived facts a host pushes to the fleet: per pool what the fleet's questions need (which
// host holds it, its layout and namespace, whether haproxy runs, its VIP, members up of total),
// and the host's problems. Small and free of counters, so they change only when the host does,
// and the fleet answers from them without rebuilding anything from raw payloads.
import type { TopologySession } from '../topology/session.ts';
import { listPools } from '../topology/queries.ts';
import { liveHaproxyOf, vipOf } from '../topology/pools.ts';
import type { PoolRecord } from '../topology/pools.ts';
import type { StatsObservation } from '../topology/probes.ts';
import { diagnoseHost } from '../diagnose/diagnose.ts';
import { problemKey } from '../diagnose/codes.ts';
import type { Problem } from '../diagnose/codes.ts';

export interface PoolFact {
  id: string;
  layout: PoolRecord['layout'];
  loadBalancerId: string | null;
  namespace: string;
  /** Null: the namespace list could not be read. */
  namespacePresent: boolean | null;
  /** Null: /proc could not be read. */
  haproxy: 'RUNNING' | 'MISSING' | null;
  haproxyPid: number | null;
  vipAddress: string | null;
  vipPort: number | null;
  membersTotal: number;
  /** Null: the stats socket did not answer (unknown is not 0). */
  membersUp: number | null;
}

export type ProblemFact = Omit<Problem, 'processStartedAt'> & { key: string };

export interface HostFacts {
  /** Null when the state dirs could not be read: the fleet keeps the pools it had (the problems say why). */
  pools: PoolFact[] | null;
  problems: ProblemFact[];
}

/** Members UP (or without a check) in the pool's backend, as the stats socket says; null when it did not answer. */
export function membersUpOf(pool: PoolRecord, answer: StatsObservation | null): number | null {
  if (!answer?.reachable || !pool.backend) return null;
  const backend = pool.backend.name;
  const ids = new Set(pool.backend.servers.map((s) => s.id));
  return answer.rows.filter((r) => r.type === 'server' && r.pxname === backend && ids.has(r.svname) && /^(UP|no check)/.test(r.status ?? '')).length;
}

/** Derives the facts through the session: the same probes, cache and TTLs as any query. */
export async function deriveHostFacts(session: TopologySession): Promise<HostFacts> {
  const pools = await listPools(session).catch(() => null);
  const [namespaces, processes] = await Promise.all([
    session.namespaces().then((o) => (o.stale ? null : o.value), () => null),
    session.processes().then((o) => (o.stale ? null : o.value), () => null),
  ]);
  const names = namespaces ? new Set(namespaces.map((n) => n.name)) : null;
  const poolFacts = pools
    ? await Promise.all(
        pools.map(async (pool): Promise<PoolFact> => {
          const live = processes ? liveHaproxyOf(pool, processes) : null;
          const vip = vipOf(pool);
          const answer = await session.stats(pool.deployment.socketPath).then((o) => (o.stale ? null : o.value), () => null);
          return {
            id: pool.id,
            layout: pool.layout,
            loadBalancerId: pool.loadBalancerId,
            namespace: pool.namespaceName,
            namespacePresent: names ? names.has(pool.namespaceName) : null,
            haproxy: processes ? (live ? 'RUNNING' : 'MISSING') : null,
            haproxyPid: live?.pid ?? null,
            vipAddress: vip?.address ?? null,
            vipPort: vip?.port ?? null,
            membersTotal: pool.backend?.servers.length ?? 0,
            membersUp: membersUpOf(pool, answer),
          };
        }),
      )
    : null;
  const problems = (await diagnoseHost(session)).map((problem): ProblemFact => {
    const { processStartedAt: _start, ...fact } = problem;
    return { ...fact, key: problemKey(problem) };
  });
  return { pools: poolFacts, problems };
}
