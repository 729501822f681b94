// Members: the server lines of a pool's backend, joined with the stats socket's rows by
// (pxname = backend name, svname = member id). A stats socket that does not answer makes the
// live fields unknown, never DOWN: unknown is not the same as down.
import type { HaproxyServer } from '../host/haproxy-config.ts';
import type { StatsObservation } from './probes.ts';
import { statsIndex } from './indexes.ts';

type StatRow = Extract<StatsObservation, { reachable: true }>['rows'][number];
import type { TopologySession } from './session.ts';
import type { PoolRecord } from './pools.ts';
import type { Seen } from './queries.ts';

export interface MemberRecord {
  pool: Seen<PoolRecord>;
  server: HaproxyServer;
}

export class StatsUnavailableError extends Error {
  override readonly name = 'StatsUnavailableError';
  readonly socketPath: string;
  readonly reason: string;
  constructor(socketPath: string, reason: string, detail: string) {
    super(`haproxy stats socket ${socketPath} did not answer (${reason}): ${detail}`);
    this.socketPath = socketPath;
    this.reason = reason;
  }
}

export function membersOf(pool: Seen<PoolRecord>): MemberRecord[] {
  return (pool.backend?.servers ?? []).map((server) => ({ pool, server }));
}

/** The stats rows of a pool's socket; throws StatsUnavailableError when the socket did not answer. */
export async function statsRowsOf(session: TopologySession, pool: PoolRecord): Promise<StatRow[]> {
  const obs = await session.stats(pool.deployment.socketPath);
  const result = obs.value;
  if (!result.reachable) throw new StatsUnavailableError(pool.deployment.socketPath, result.reason, result.error);
  return result.rows;
}

/** The member's row (null when haproxy does not list it); throws when the socket did not answer. */
export async function memberStatsOf(session: TopologySession, member: MemberRecord): Promise<StatRow | null> {
  const rows = await statsRowsOf(session, member.pool);
  const backend = member.pool.backend?.name;
  return backend === undefined ? null : statsIndex(rows).serverRow(backend, member.server.id) ?? null;
}
