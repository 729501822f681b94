// The fleet service's view of the fleet database, in memory: every host row and every host's
// pool and problem facts, loaded at start and kept fresh by LISTEN lbtopo_fleet (each push
// notifies; a push that changed facts reloads that host's facts, a heartbeat only moves its
// lastPush). Queries then answer from memory in microseconds. If the LISTEN connection drops,
// it reconnects with backoff and reloads everything (notifications sent meanwhile are lost), and
// a full reload runs every minute anyway as a safety net.
import pg from 'pg';
import type { HostKind } from '../topology/host.ts';
import type { PoolFact, ProblemFact } from './facts.ts';
import { FLEET_SCHEMA_VERSION, fleetSchemaVersion } from './migrate.ts';
import { STALE_INTERVALS } from './codes.ts';

export { STALE_INTERVALS };

export const NOTIFY_CHANNEL = 'lbtopo_fleet';

export interface FleetHost {
  name: string;
  kind: HostKind;
  version: string;
  startedAt: number;
  intervalMs: number;
  lastPush: number;
  factsAt: number | null;
  scrapeUrl: string | null;
}

export interface FleetPool extends PoolFact {
  host: string;
  observedAt: number;
}

export interface FleetProblem extends ProblemFact {
  host: string;
  observedAt: number;
}

export class FleetSchemaError extends Error {}

const HOST_COLUMNS = 'name, kind, version, started_at, interval_ms, last_push, facts_at, scrape_url';
const POOL_COLUMNS = 'host, pool_id, layout, load_balancer_id, namespace, namespace_present, haproxy, haproxy_pid, vip_address, vip_port, members_total, members_up, observed_at';
const PROBLEM_COLUMNS = 'host, key, code, severity, message, pool_id, namespace, pid, ovs_port, interface_name, member_id, file, probe, observed_at';

type Row = Record<string, unknown>;
const ms = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function toHost(r: Row): FleetHost {
  return {
    name: String(r.name),
    kind: r.kind === 'AMPHORA' ? 'AMPHORA' : 'NETWORK_NODE',
    version: String(r.version),
    startedAt: ms(r.started_at),
    intervalMs: Number(r.interval_ms),
    lastPush: ms(r.last_push),
    factsAt: r.facts_at ? ms(r.facts_at) : null,
    scrapeUrl: str(r.scrape_url),
  };
}

function toPool(r: Row): FleetPool {
  return {
    host: String(r.host),
    id: String(r.pool_id),
    layout: r.layout as FleetPool['layout'],
    loadBalancerId: str(r.load_balancer_id),
    namespace: String(r.namespace),
    namespacePresent: r.namespace_present === null ? null : Boolean(r.namespace_present),
    haproxy: r.haproxy === 'RUNNING' || r.haproxy === 'MISSING' ? r.haproxy : null,
    haproxyPid: r.haproxy_pid === null ? null : Number(r.haproxy_pid),
    vipAddress: str(r.vip_address),
    vipPort: r.vip_port === null ? null : Number(r.vip_port),
    membersTotal: Number(r.members_total),
    membersUp: r.members_up === null ? null : Number(r.members_up),
    observedAt: ms(r.observed_at),
  };
}

function toProblem(r: Row): FleetProblem {
  return {
    host: String(r.host),
    key: String(r.key),
    code: r.code as FleetProblem['code'],
    severity: r.severity as FleetProblem['severity'],
    message: String(r.message),
    poolId: str(r.pool_id),
    namespace: str(r.namespace),
    pid: r.pid === null ? null : Number(r.pid),
    ovsPort: str(r.ovs_port),
    interfaceName: str(r.interface_name),
    memberId: str(r.member_id),
    file: str(r.file),
    probe: str(r.probe),
    observedAt: ms(r.observed_at),
  };
}

export class FleetCache {
  readonly hosts = new Map<string, FleetHost>();
  private readonly poolsByHost = new Map<string, FleetPool[]>();
  private readonly problemsByHost = new Map<string, FleetProblem[]>();
  private allPools: FleetPool[] | null = null;
  private byPoolId: Map<string, FleetPool[]> | null = null;
  private allProblems: FleetProblem[] | null = null;
  readonly pool: pg.Pool;
  private readonly url: string;
  private readonly log: (m: string) => void;
  private listener: pg.Client | null = null;
  private stopped = false;
  private reconnectDelay = 500;
  private readonly dirty = new Set<string>();
  private reloading: Promise<void> | null = null;
  private safetyTimer: NodeJS.Timeout | null = null;
  /** Notifications received (tests, metrics). */
  notifications = 0;
  /** Whether the LISTEN connection is up (else the cache may lag until it is). */
  listening = false;

  constructor(url: string, log: (m: string) => void = (m) => console.error(m)) {
    this.url = url;
    this.log = log;
    this.pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000, statement_timeout: 10_000, application_name: 'lbtopo-fleet' });
    this.pool.on('error', () => undefined);
  }

  async start(): Promise<void> {
    const version = await fleetSchemaVersion(this.pool);
    if (version < FLEET_SCHEMA_VERSION) {
      throw new FleetSchemaError(`the fleet database is at schema version ${version}, this build reads version ${FLEET_SCHEMA_VERSION}: run lbtopo fleet migrate with an admin URL`);
    }
    await this.listen();
    await this.loadAll();
    this.safetyTimer = setInterval(() => void this.loadAll().catch((e: Error) => this.log(`fleet: reload failed: ${e.message}`)), 60_000);
    this.safetyTimer.unref();
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5000, application_name: 'lbtopo-fleet-listen' });
    client.on('notification', (n) => this.onNotification(n.payload ?? ''));
    const lost = (why: string) => {
      if (this.listener !== client) return;
      this.listener = null;
      this.listening = false;
      client.end().catch(() => undefined);
      if (this.stopped) return;
      this.log(`fleet: LISTEN connection lost (${why}); reconnecting`);
      const delay = this.reconnectDelay;
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, 5000);
      setTimeout(() => void this.reconnect(), delay).unref();
    };
    client.on('error', (e) => lost(e.message));
    client.on('end', () => lost('closed'));
    await client.connect();
    await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    this.listener = client;
    this.listening = true;
    this.reconnectDelay = 500;
  }

  private async reconnect(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.listen();
      await this.loadAll();
      this.log('fleet: LISTEN connection back; facts reloaded');
    } catch (err) {
      this.log(`fleet: reconnect failed: ${(err as Error).message}`);
      const delay = this.reconnectDelay;
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, 5000);
      setTimeout(() => void this.reconnect(), delay).unref();
    }
  }

  private onNotification(payload: string): void {
    this.notifications++;
    let n: { host?: string; facts?: boolean; lastPush?: number };
    try {
      n = JSON.parse(payload) as typeof n;
    } catch {
      return;
    }
    if (!n.host) return;
    const known = this.hosts.get(n.host);
    if (known && !n.facts && typeof n.lastPush === 'number') {
      known.lastPush = Math.max(known.lastPush, n.lastPush);
      return;
    }
    this.dirty.add(n.host);
    void this.reloadDirty();
  }

  /** Reloads the hosts marked by notifications; one reload at a time, picking up what came meanwhile. */
  private reloadDirty(): Promise<void> {
    this.reloading ??= (async () => {
      try {
        while (this.dirty.size > 0 && !this.stopped) {
          const names = [...this.dirty];
          this.dirty.clear();
          await this.loadHosts(names);
        }
      } catch (err) {
        this.log(`fleet: reload failed: ${(err as Error).message}`);
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  /** Waits until notifications received so far are applied (tests). */
  async settled(): Promise<void> {
    while (this.reloading) await this.reloading;
  }

  async loadAll(): Promise<void> {
    const [hosts, pools, problems] = await Promise.all([
      this.pool.query(`SELECT ${HOST_COLUMNS} FROM lbtopo.host`),
      this.pool.query(`SELECT ${POOL_COLUMNS} FROM lbtopo.pool_fact`),
      this.pool.query(`SELECT ${PROBLEM_COLUMNS} FROM lbtopo.problem_fact`),
    ]);
    this.hosts.clear();
    this.poolsByHost.clear();
    this.problemsByHost.clear();
    for (const r of hosts.rows) this.hosts.set(String(r.name), toHost(r));
    for (const r of pools.rows) push(this.poolsByHost, String(r.host), toPool(r));
    for (const r of problems.rows) push(this.problemsByHost, String(r.host), toProblem(r));
    this.allPools = this.allProblems = this.byPoolId = null;
  }

  private async loadHosts(names: string[]): Promise<void> {
    // One snapshot for the three reads, so a host's pools and problems are from the same push.
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const hosts = await client.query(`SELECT ${HOST_COLUMNS} FROM lbtopo.host WHERE name = ANY($1)`, [names]);
      const pools = await client.query(`SELECT ${POOL_COLUMNS} FROM lbtopo.pool_fact WHERE host = ANY($1)`, [names]);
      const problems = await client.query(`SELECT ${PROBLEM_COLUMNS} FROM lbtopo.problem_fact WHERE host = ANY($1)`, [names]);
      await client.query('COMMIT');
      for (const name of names) {
        this.hosts.delete(name);
        this.poolsByHost.delete(name);
        this.problemsByHost.delete(name);
      }
      for (const r of hosts.rows) this.hosts.set(String(r.name), toHost(r));
      for (const r of pools.rows) push(this.poolsByHost, String(r.host), toPool(r));
      for (const r of problems.rows) push(this.problemsByHost, String(r.host), toProblem(r));
      this.allPools = this.allProblems = this.byPoolId = null;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  isStale(host: FleetHost, now = Date.now()): boolean {
    return now - host.lastPush > STALE_INTERVALS * host.intervalMs;
  }

  /** Every pool fact, sorted by pool id then host. */
  pools(): FleetPool[] {
    this.allPools ??= [...this.poolsByHost.values()].flat().sort((a, b) => a.id.localeCompare(b.id) || a.host.localeCompare(b.host));
    return this.allPools;
  }

  /** The pool on every host that holds it (an Octavia pair: two). */
  poolsWithId(id: string): FleetPool[] {
    if (!this.byPoolId) {
      this.byPoolId = new Map();
      for (const p of this.pools()) push(this.byPoolId, p.id, p);
    }
    return this.byPoolId.get(id) ?? [];
  }

  /** Every problem fact the hosts pushed (no HOST_STALE: that is judged at query time). */
  problems(): FleetProblem[] {
    this.allProblems ??= [...this.problemsByHost.values()].flat();
    return this.allProblems;
  }

  poolsOf(host: string): FleetPool[] {
    return this.poolsByHost.get(host) ?? [];
  }

  problemsOf(host: string): FleetProblem[] {
    return this.problemsByHost.get(host) ?? [];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.safetyTimer) clearInterval(this.safetyTimer);
    const l = this.listener;
    this.listener = null;
    await l?.end().catch(() => undefined);
    await this.reloading?.catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
