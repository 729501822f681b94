// The operating statuses Octavia will report for an amphora load balancer, computed from our own
// stats rows exactly as its health path does (octavia-ovn-facts.md 1.3, 1.4):
//   amphora side  health_daemon.build_stats_message: FRONTEND rows become listeners, BACKEND and
//                 server rows (`show stat -1 6 -1`) pools and members, proxies whose name contains
//                 "prometheus" are skipped, an UP server of weight 0 is DRAIN; an LB whose haproxy
//                 is not running contributes nothing; no heartbeat at all while keepalived is
//                 configured but not running, or when the stats socket does not answer (the
//                 sender's loop fails on it).
//   controller    heartbeat_udp.UpdateHealthDb._update_health / _process_pool_status.
// The database side is taken from the config: every frontend is an enabled listener of an
// enabled, ACTIVE load balancer, every backend a pool, every server line a member. What the
// database knows beyond that (a previous NO_MONITOR, disabled objects not rendered) is unknown
// here and said so in the field descriptions.
import type { HaproxyConfig } from '../host/haproxy-config.ts';
import type { StatsObservation } from './probes.ts';

export type OperatingStatus = 'ONLINE' | 'DEGRADED' | 'ERROR' | 'OFFLINE' | 'DRAINING' | 'NO_MONITOR';

type StatRow = Extract<StatsObservation, { reachable: true }>['rows'][number];

/** Octavia's own rule for its internal proxies (haproxy_query.py): the name contains "prometheus". */
export function isInternalProxy(name: string): boolean {
  return name.includes('prometheus');
}

/**
 * A haproxy server status (after the amphora's weight-0 DRAIN rule) as the health manager maps
 * it (heartbeat_udp.py); null for RESTARTING and anything it does not map: it keeps the previous.
 * The cloud rules (OPERATING_STATUS_DRIFT) compare the API with this same mapping.
 */
export function memberOperatingStatus(status: string): OperatingStatus | null {
  if (status.startsWith('UP')) return 'ONLINE';
  if (status.startsWith('DOWN')) return 'ERROR';
  if (status.startsWith('DRAIN') || status.startsWith('NOLB')) return 'DRAINING';
  if (status.startsWith('MAINT')) return 'OFFLINE';
  if (status.startsWith('no check')) return 'NO_MONITOR';
  return null;
}

export interface MemberStatus {
  id: string;
  /** null: haproxy said RESTARTING (or something Octavia does not map), so Octavia keeps the previous status. */
  operatingStatus: OperatingStatus | null;
}
export interface PoolStatus {
  id: string;
  /** null: Octavia logs an unknown pool status and keeps the previous one. */
  operatingStatus: OperatingStatus | null;
  members: MemberStatus[];
}
export interface ListenerStatus {
  id: string;
  operatingStatus: OperatingStatus | null;
}

export type HeartbeatOutcome = 'SENT' | 'SUPPRESSED_KEEPALIVED_DOWN' | 'SUPPRESSED_STATS_UNREADABLE';

export interface OctaviaStatus {
  loadBalancerId: string;
  heartbeat: HeartbeatOutcome;
  /** Listener entries the heartbeat carries (the health manager compares it with the enabled listeners). */
  heartbeatListeners: number;
  /** Enabled listeners as the config shows them. */
  expectedListeners: number;
  /** Null when no heartbeat is sent: Octavia keeps what it last computed, then fails the amphora over. */
  operatingStatus: OperatingStatus | null;
  listeners: ListenerStatus[];
  pools: PoolStatus[];
}

export interface StatusInput {
  loadBalancerId: string;
  config: HaproxyConfig;
  haproxyRunning: boolean;
  /** The stats socket's answer; null when not read. */
  stats: StatsObservation | null;
  /** keepalived configured (ACTIVE_STANDBY) but not running: the health sender skips the heartbeat. */
  keepalivedDown: boolean;
}

/** What build_stats_message puts in the heartbeat for this LB. */
function heartbeatOf(rows: readonly StatRow[]): { listeners: Map<string, string>; pools: Map<string, { status: string; members: Map<string, string> }> } {
  const listeners = new Map<string, string>();
  const pools = new Map<string, { status: string; members: Map<string, string> }>();
  for (const row of rows) {
    if (isInternalProxy(row.pxname)) continue;
    if (row.type === 'frontend') {
      listeners.set(row.pxname, row.status ?? '');
      continue;
    }
    if (row.type !== 'backend' && row.type !== 'server') continue;
    // The controller keys pools by the part before the last ':' of `<pool_id>:<listener_id>`.
    const poolId = row.pxname.includes(':') ? row.pxname.slice(0, row.pxname.lastIndexOf(':')) : row.pxname;
    const pool = pools.get(poolId) ?? { status: '', members: new Map<string, string>() };
    pools.set(poolId, pool);
    if (row.type === 'backend') pool.status = row.status ?? '';
    else pool.members.set(row.svname, row.status === 'UP' && row.weight === 0 ? 'DRAIN' : (row.status ?? ''));
  }
  return { listeners, pools };
}

export function octaviaStatusOf(input: StatusInput): OctaviaStatus {
  const { config } = input;
  const frontends = config.frontends.filter((f) => !isInternalProxy(f.name));
  const backends = config.backends.filter((b) => !isInternalProxy(b.name));
  const expectedListeners = frontends.filter((f) => !f.disabled).length;
  const base = { loadBalancerId: input.loadBalancerId, expectedListeners };
  const unknown = (heartbeat: HeartbeatOutcome): OctaviaStatus => ({
    ...base,
    heartbeat,
    heartbeatListeners: 0,
    operatingStatus: null,
    listeners: frontends.map((f) => ({ id: f.name, operatingStatus: null })),
    pools: backends.map((b) => ({ id: b.poolId, operatingStatus: null, members: b.servers.map((s) => ({ id: s.id, operatingStatus: null })) })),
  });
  if (input.keepalivedDown) return unknown('SUPPRESSED_KEEPALIVED_DOWN');
  let message = { listeners: new Map<string, string>(), pools: new Map<string, { status: string; members: Map<string, string> }>() };
  if (input.haproxyRunning) {
    if (!input.stats || !input.stats.reachable) return unknown('SUPPRESSED_STATS_UNREADABLE');
    message = heartbeatOf(input.stats.rows);
  }

  let lb: OperatingStatus = 'ONLINE';
  const listeners: ListenerStatus[] = frontends.map((f) => {
    const status = message.listeners.get(f.name);
    if (status === undefined) return { id: f.name, operatingStatus: f.disabled ? 'OFFLINE' : 'ERROR' };
    if (status === 'OPEN') return { id: f.name, operatingStatus: 'ONLINE' };
    if (status === 'FULL') {
      if (lb === 'ONLINE') lb = 'DEGRADED';
      return { id: f.name, operatingStatus: 'DEGRADED' };
    }
    return { id: f.name, operatingStatus: null };
  });

  const pools: PoolStatus[] = backends.map((b) => {
    const pool = message.pools.get(b.poolId);
    // Not in the message: "potential offline", set OFFLINE once no listener processed it.
    if (!pool) return { id: b.poolId, operatingStatus: 'OFFLINE', members: b.servers.map((s) => ({ id: s.id, operatingStatus: 'OFFLINE' as const })) };
    let poolStatus: OperatingStatus | null = null;
    if (pool.status === 'UP') poolStatus = 'ONLINE';
    else if (pool.status === 'DOWN') {
      poolStatus = 'ERROR';
      lb = 'ERROR';
    }
    const members: MemberStatus[] = b.servers.map((s) => {
      const status = pool.members.get(s.id);
      // Missing: OFFLINE unless the database already says NO_MONITOR (not known here).
      if (status === undefined) return { id: s.id, operatingStatus: 'OFFLINE' };
      const operatingStatus = memberOperatingStatus(status);
      // A member in ERROR degrades an ONLINE pool, and the load balancer with it.
      if (operatingStatus === 'ERROR' && poolStatus === 'ONLINE') {
        poolStatus = 'DEGRADED';
        if (lb === 'ONLINE') lb = 'DEGRADED';
      }
      return { id: s.id, operatingStatus };
    });
    return { id: b.poolId, operatingStatus: poolStatus, members };
  });

  return { ...base, heartbeat: 'SENT', heartbeatListeners: message.listeners.size, operatingStatus: lb, listeners, pools };
}
