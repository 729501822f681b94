// Pushing this host's facts to the fleet PostgreSQL (LBTOPO_FLEET_DB), off the request path.
//
// After each look that changed something (debounced) and as a heartbeat every LBTOPO_FLEET_INTERVAL,
// a cycle runs: collect derives the facts through an ordinary session (so the cache and TTLs hold;
// no extra look at the host when a query just looked) and, when they or the observation rows of
// the counter-free probes changed, appends one entry to the SQLite outbox (fleet_outbox) in the
// same transaction that moves the cursor. flush then sends the outbox in seq order, one
// lbtopo.push() statement each (one transaction in PostgreSQL), deleting an entry only once the
// database acknowledged it. The database applies a seq at most once, so a lost acknowledgement
// replayed is not doubled, and nothing leaves the outbox unacknowledged, so nothing is lost.
//
// A database that is down costs the host nothing but a growing outbox: requests never wait for
// a push; a push waits at most the connect and statement timeouts; retries back off (0.5 s
// doubling, at most one interval) and log once per outage.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Config } from '../config.ts';
import type { ObservationStore } from '../cache/store.ts';
import type { ProbeRunner } from '../cache/runner.ts';
import type { TopologySession } from '../topology/session.ts';
import { HAPROXY_HISTORY } from '../topology/probes.ts';
import { hostIdentity } from '../topology/host.ts';
import type { HostIdentity } from '../topology/host.ts';
import { deriveHostFacts } from './facts.ts';
import type { HostFacts } from './facts.ts';

/** Probes whose rows are pushed: those without counters (ip and stats change on every look, proc with RSS). */
export const PUSHED_PROBES = ['lbaas', 'netns', 'ovs', HAPROXY_HISTORY] as const;

/** 1: facts and observations. 2: adds scrapeUrl (fleet schema 0002); older databases ignore it. */
export const PUSH_FORMAT = 2;

export interface ObservationRowPush {
  probe: string;
  scope: string;
  firstSeen: number;
  lastSeen: number;
  hash: string;
  payload: unknown;
}

/** What one push carries (the outbox payload plus seq, or a heartbeat without seq and facts). */
export interface PushPayload {
  format: number;
  host: string;
  outboxId: string;
  kind: HostIdentity['kind'];
  version: string;
  startedAt: number;
  intervalMs: number;
  scrapeUrl?: string;
  seq?: number;
  observedAt?: number;
  pools?: HostFacts['pools'];
  problems?: HostFacts['problems'];
  observations?: ObservationRowPush[];
}

export interface PushStatus {
  /** Outbox entries not yet acknowledged. */
  pending: number;
  lastAckAt: number | null;
  lastError: string | null;
  consecutiveFailures: number;
}

interface Cursor {
  outbox_id: string;
  observation_id: number;
  facts_hash: string | null;
  pushed_seq: number;
}

interface ObservationRow {
  id: number;
  probe: string;
  scope: string;
  first_seen: number;
  last_seen: number;
  hash: string;
  payload: string;
}

export interface FleetPusherOptions {
  config: Config;
  store: ObservationStore;
  runner: ProbeRunner;
  newSession: () => TopologySession;
  log?: (message: string) => void;
  /** Where Prometheus scrapes this host; default LBTOPO_FLEET_SCRAPE_URL, else from LBTOPO_LISTEN. */
  scrapeUrl?: string;
  /** Past this many waiting entries, changes fold into the newest one (default 1000). */
  maxOutboxEntries?: number;
}

export class FleetPusher {
  private readonly config: Config;
  private readonly store: ObservationStore;
  private readonly runner: ProbeRunner;
  private readonly newSession: () => TopologySession;
  private readonly log: (message: string) => void;
  private readonly pool: pg.Pool;
  private readonly scrapeUrl: string | undefined;
  private readonly maxOutboxEntries: number;
  /** The outbox entry being sent: never folded into. */
  private inFlightSeq: number | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private changeTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopObserving: (() => void) | null = null;
  private cycleInFlight: Promise<void> | null = null;
  private again: { heartbeat: boolean } | null = null;
  private followUp: Promise<void> | null = null;
  private deriving = false;
  private nextAttemptAt = 0;
  private stopped = false;
  private readonly state: Omit<PushStatus, 'pending'> = { lastAckAt: null, lastError: null, consecutiveFailures: 0 };

  constructor(options: FleetPusherOptions) {
    const url = options.config.fleetDb;
    if (!url) throw new Error('FleetPusher needs LBTOPO_FLEET_DB');
    this.config = options.config;
    this.store = options.store;
    this.runner = options.runner;
    this.newSession = options.newSession;
    this.log = options.log ?? ((m) => console.error(m));
    this.scrapeUrl = options.scrapeUrl;
    this.maxOutboxEntries = Math.max(2, options.maxOutboxEntries ?? 1000);
    const interval = this.config.fleetIntervalMs;
    this.pool = new pg.Pool({
      connectionString: url,
      max: 1,
      connectionTimeoutMillis: Math.min(5000, Math.max(1000, interval)),
      idleTimeoutMillis: Math.max(10_000, interval * 2),
      statement_timeout: 10_000,
      query_timeout: 15_000,
      application_name: `lbtopo-push ${this.config.host}`,
    });
    // An idle connection the server closed (restart, failover) errors here; the next push reconnects.
    this.pool.on('error', () => undefined);
  }

  /** Starts the heartbeat and the push-after-change trigger; the first cycle runs now. */
  start(): void {
    this.heartbeatTimer = setInterval(() => void this.cycle({ heartbeat: true }), this.config.fleetIntervalMs);
    this.heartbeatTimer.unref();
    this.stopObserving = this.runner.onObserve((entry) => {
      if (this.deriving || this.stopped || entry.source === 'cache' || entry.source === 'shared') return;
      this.changeTimer ??= setTimeout(() => {
        this.changeTimer = null;
        void this.cycle({ heartbeat: false });
      }, 200);
      this.changeTimer.unref();
    });
    void this.cycle({ heartbeat: true });
  }

  status(): PushStatus {
    const { n } = this.store.db.prepare('SELECT count(*) AS n FROM fleet_outbox').get() as { n: number };
    return { pending: n, ...this.state };
  }

  /** One collect and flush; a call while one runs gets one more run after it (shared by all such calls). */
  cycle(options: { heartbeat: boolean } = { heartbeat: true }): Promise<void> {
    if (this.cycleInFlight) {
      // A change seen meanwhile may be newer than what this cycle derived: run once more after it.
      this.again = { heartbeat: (this.again?.heartbeat ?? false) || options.heartbeat };
      // The caller waits for the cycle that starts after this one, which sees what it asked about.
      return this.cycleInFlight.then(() => this.followUp ?? undefined);
    }
    this.cycleInFlight = (async () => {
      try {
        await this.collect();
        await this.flush({ heartbeat: options.heartbeat });
      } catch (err) {
        this.log(`fleet push: ${(err as Error).message}`);
      } finally {
        this.cycleInFlight = null;
        const again = this.again;
        this.again = null;
        this.followUp = again && !this.stopped ? this.cycle(again) : null;
      }
    })();
    return this.cycleInFlight;
  }

  private cursor(): Cursor {
    return this.store.db.prepare('SELECT outbox_id, observation_id, facts_hash, pushed_seq FROM fleet_cursor WHERE id = 1').get() as Cursor;
  }

  private async identity(session: TopologySession): Promise<Omit<PushPayload, 'format' | 'outboxId'>> {
    const id = await hostIdentity(session);
    const listen = this.config.listen;
    const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
    return {
      host: id.name,
      kind: id.kind,
      version: id.version,
      startedAt: id.startedAt,
      intervalMs: this.config.fleetIntervalMs,
      scrapeUrl: this.scrapeUrl ?? this.config.fleetScrapeUrl ?? `http://${host}:${listen.port}/metrics`,
    };
  }

  /**
   * Derives the facts and, when they or pushed observation rows changed since the last entry,
   * appends an outbox entry. Returns whether one was appended.
   */
  async collect(): Promise<boolean> {
    const session = this.newSession();
    this.deriving = true;
    let facts: HostFacts;
    let who: Omit<PushPayload, 'format' | 'outboxId'>;
    try {
      [facts, who] = await Promise.all([deriveHostFacts(session), this.identity(session)]);
    } finally {
      this.deriving = false;
    }
    const observedAt = Date.now();
    const factsHash = createHash('sha256').update(JSON.stringify(facts)).digest('hex');
    const db = this.store.db;
    const probes = PUSHED_PROBES.map(() => '?').join(', ');
    const newRows = db.prepare<unknown[], ObservationRow>(`SELECT id, probe, scope, first_seen, last_seen, hash, payload FROM observation WHERE id > ? AND probe IN (${probes}) ORDER BY id`);
    const predecessor = db.prepare<[string, string, number], ObservationRow>(
      'SELECT id, probe, scope, first_seen, last_seen, hash, payload FROM observation WHERE probe = ? AND scope = ? AND id <= ? ORDER BY id DESC LIMIT 1',
    );
    const append = db.transaction((): boolean => {
      const cursor = this.cursor();
      const { maxId } = db.prepare('SELECT coalesce(max(id), 0) AS maxId FROM observation').get() as { maxId: number };
      const rows = newRows.all(cursor.observation_id, ...PUSHED_PROBES);
      if (rows.length === 0 && factsHash === cursor.facts_hash) {
        db.prepare('UPDATE fleet_cursor SET observation_id = ? WHERE id = 1').run(maxId);
        return false;
      }
      // The row a new one follows has its final last_seen now: send it again (an upsert there).
      const seen = new Set<string>();
      const before: ObservationRow[] = [];
      for (const r of rows) {
        const key = `${r.probe}\u0000${r.scope}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const prev = predecessor.get(r.probe, r.scope, cursor.observation_id);
        if (prev) before.push(prev);
      }
      const observations = [...before, ...rows].map((r) => ({ probe: r.probe, scope: r.scope, firstSeen: r.first_seen, lastSeen: r.last_seen, hash: r.hash, payload: JSON.parse(r.payload) as unknown }));
      const payload: Omit<PushPayload, 'seq'> = { format: PUSH_FORMAT, ...who, outboxId: cursor.outbox_id, observedAt, pools: facts.pools, problems: facts.problems, observations };
      const last = db.prepare<[], { seq: number; payload: string; n: number }>('SELECT seq, payload, (SELECT count(*) FROM fleet_outbox) AS n FROM fleet_outbox ORDER BY seq DESC LIMIT 1').get();
      if (last && last.n >= this.maxOutboxEntries && last.seq !== this.inFlightSeq) {
        // A long outage: fold this change into the newest waiting entry instead of adding one.
        // Its facts are superseded (the newest win) and the observation rows are kept, in order,
        // so the replay still loses nothing; the in-flight entry is never touched.
        const merged = JSON.parse(last.payload) as PushPayload;
        const rowKey = (o: ObservationRowPush) => `${o.probe}\u0000${o.scope}\u0000${o.firstSeen}\u0000${o.hash}`;
        const byKey = new Map((merged.observations ?? []).map((o) => [rowKey(o), o]));
        for (const o of observations) byKey.set(rowKey(o), o);
        db.prepare('UPDATE fleet_outbox SET payload = ? WHERE seq = ?').run(JSON.stringify({ ...payload, observations: [...byKey.values()] }), last.seq);
      } else {
        db.prepare('INSERT INTO fleet_outbox (created_at, payload) VALUES (?, ?)').run(observedAt, JSON.stringify(payload));
      }
      db.prepare('UPDATE fleet_cursor SET observation_id = ?, facts_hash = ? WHERE id = 1').run(maxId, factsHash);
      return true;
    });
    return append.immediate();
  }

  /**
   * Sends the outbox in order; with `heartbeat` and nothing to send, a heartbeat. Stops at the
   * first failure (the rest waits, in order) and backs off.
   */
  async flush(options: { heartbeat: boolean } = { heartbeat: true }): Promise<{ pushed: number; duplicates: number }> {
    if (Date.now() < this.nextAttemptAt) return { pushed: 0, duplicates: 0 };
    const db = this.store.db;
    const next = db.prepare<[], { seq: number; payload: string }>('SELECT seq, payload FROM fleet_outbox ORDER BY seq LIMIT 1');
    const ack = db.transaction((seq: number) => {
      db.prepare('DELETE FROM fleet_outbox WHERE seq = ?').run(seq);
      db.prepare('UPDATE fleet_cursor SET pushed_seq = max(pushed_seq, ?) WHERE id = 1').run(seq);
    });
    let pushed = 0;
    let duplicates = 0;
    try {
      for (let row = next.get(); row && !this.stopped; row = next.get()) {
        this.inFlightSeq = row.seq;
        const result = await this.send({ ...(JSON.parse(row.payload) as PushPayload), seq: row.seq });
        ack.immediate(row.seq);
        this.inFlightSeq = null;
        if (result === 'duplicate') duplicates++;
        else pushed++;
      }
      if (pushed + duplicates === 0 && options.heartbeat && !this.stopped) {
        const session = this.newSession();
        await this.send({ format: PUSH_FORMAT, ...(await this.identity(session)), outboxId: this.cursor().outbox_id });
      }
      if (this.state.consecutiveFailures > 0) this.log(`fleet push: the fleet database answers again; outbox replayed (${pushed} pushes)`);
      this.state.consecutiveFailures = 0;
      this.state.lastError = null;
      this.nextAttemptAt = 0;
    } catch (err) {
      this.inFlightSeq = null;
      const message = (err as Error).message || String(err);
      if (this.state.consecutiveFailures === 0) this.log(`fleet push: cannot push to the fleet database (${message}); keeping the outbox and retrying with backoff`);
      this.state.consecutiveFailures++;
      this.state.lastError = message;
      const backoff = Math.min(this.config.fleetIntervalMs, 500 * 2 ** Math.min(this.state.consecutiveFailures - 1, 10));
      this.nextAttemptAt = Date.now() + backoff;
      this.scheduleRetry(backoff);
    }
    return { pushed, duplicates };
  }

  private scheduleRetry(ms: number): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.cycle({ heartbeat: false });
    }, ms);
    this.retryTimer.unref();
  }

  private async send(payload: PushPayload): Promise<string> {
    const r = await this.pool.query<{ r: string }>('SELECT lbtopo.push($1::jsonb) AS r', [JSON.stringify(payload)]);
    this.state.lastAckAt = Date.now();
    return r.rows[0]?.r ?? 'unknown';
  }

  /** Stops timers, waits for a cycle in flight, closes the connection. The outbox stays. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.heartbeatTimer, this.changeTimer, this.retryTimer]) if (t) clearTimeout(t);
    this.heartbeatTimer = this.changeTimer = this.retryTimer = null;
    this.stopObserving?.();
    await this.cycleInFlight?.catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}
