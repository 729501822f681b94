// The SQLite store behind the cache: the append-on-change observation log and the failure log.
// Writes are BEGIN IMMEDIATE (a deferred read-then-write transaction in WAL mode gets SQLITE_BUSY
// at once, ignoring the busy timeout); the file is WAL so readers never block the server.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrate.ts';

export interface StoredObservation {
  probe: string;
  scope: string;
  firstSeen: number;
  lastSeen: number;
  payload: unknown;
}

export interface StoredFailure {
  probe: string;
  scope: string;
  failedAt: number;
  kind: string;
  message: string;
}

interface ObservationRow {
  id: number;
  first_seen: number;
  last_seen: number;
  hash: string;
  payload: string;
}

/** The scope of the looks marker in a subject history ('' is never a subject: subjects are paths). */
const LOOKS_SCOPE = '';

/** Rows of history kept per (probe, scope); older ones are deleted as new ones come. */
export const HISTORY_ROWS_KEPT = 200;

export class ObservationStore {
  readonly db: Database.Database;
  private readonly pruneStmt: Database.Statement<[string, string, string, string, number]>;
  private readonly presentSubjectsStmt: Database.Statement<[string], { scope: string }>;
  private readonly latestStmt: Database.Statement<[string, string], ObservationRow>;
  private readonly insertStmt: Database.Statement<[string, string, number, number, string, string]>;
  private readonly touchStmt: Database.Statement<[number, number]>;
  private readonly failStmt: Database.Statement<[string, string, number, string, string]>;
  private readonly historyStmt: Database.Statement<[string, string, number], ObservationRow>;
  private readonly lastFailureStmt: Database.Statement<[string, string], { failed_at: number; kind: string; message: string }>;
  private readonly recordTx: (probe: string, scope: string, at: number, payload: unknown) => StoredObservation;
  private readonly latestMetaStmt: Database.Statement<[string, string], Omit<ObservationRow, 'payload'>>;
  /**
   * Parsed payloads of the latest rows, by row id: a warm request reads one small row per probe
   * instead of parsing the same JSON again. The row id comes from the file each time, so a write
   * by another process (a CLI next to the server) is still seen.
   */
  private readonly parsed = new Map<string, { id: number; payload: unknown }>();

  /** `file` ':memory:' gives a private in-memory store (tests). */
  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file, { timeout: 5000 });
    this.db.pragma('journal_mode = WAL');
    migrate(this.db);
    this.latestStmt = this.db.prepare(
      'SELECT id, first_seen, last_seen, hash, payload FROM observation WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1',
    );
    this.insertStmt = this.db.prepare(
      'INSERT INTO observation (probe, scope, first_seen, last_seen, hash, payload) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.touchStmt = this.db.prepare('UPDATE observation SET last_seen = ? WHERE id = ?');
    this.failStmt = this.db.prepare('INSERT INTO probe_failure (probe, scope, failed_at, kind, message) VALUES (?, ?, ?, ?, ?)');
    this.historyStmt = this.db.prepare(
      'SELECT id, first_seen, last_seen, hash, payload FROM observation WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT ?',
    );
    this.lastFailureStmt = this.db.prepare(
      'SELECT failed_at, kind, message FROM probe_failure WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1',
    );
    this.latestMetaStmt = this.db.prepare(
      'SELECT id, first_seen, last_seen, hash FROM observation WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1',
    );
    this.presentSubjectsStmt = this.db.prepare(
      "SELECT o.scope FROM observation o WHERE o.probe = ? AND o.payload != 'null' AND o.id = (SELECT max(id) FROM observation WHERE probe = o.probe AND scope = o.scope)",
    );
    this.pruneStmt = this.db.prepare(
      'DELETE FROM observation WHERE probe = ? AND scope = ? AND id <= (SELECT id FROM observation WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
    );
    const tx = this.db.transaction((probe: string, scope: string, at: number, payload: unknown) => {
      const json = JSON.stringify(payload);
      const hash = createHash('sha256').update(json).digest('hex');
      const latest = this.latestStmt.get(probe, scope);
      if (latest && latest.hash === hash) {
        this.touchStmt.run(at, latest.id);
        return { probe, scope, firstSeen: latest.first_seen, lastSeen: at, payload };
      }
      const { lastInsertRowid } = this.insertStmt.run(probe, scope, at, at, hash, json);
      this.parsed.set(`${probe}\u0000${scope}`, { id: Number(lastInsertRowid), payload });
      this.pruneStmt.run(probe, scope, probe, scope, HISTORY_ROWS_KEPT);
      return { probe, scope, firstSeen: at, lastSeen: at, payload };
    });
    this.recordTx = (probe, scope, at, payload) => tx.immediate(probe, scope, at, payload);
  }

  /** Stores what a probe saw at `at`: a new row only when the payload changed. */
  record(probe: string, scope: string, at: number, payload: unknown): StoredObservation {
    return this.recordTx(probe, scope, at, payload);
  }

  /**
   * Records one look's summaries of every subject under `probe` (scope = subject); a subject
   * whose latest summary is not null but which this look did not see is recorded as null.
   */
  recordSubjects(probe: string, at: number, summaries: ReadonlyMap<string, unknown>): void {
    this.db.transaction(() => {
      for (const [subject, summary] of summaries) if (subject !== LOOKS_SCOPE) this.record(probe, subject, at, summary);
      for (const { scope } of this.presentSubjectsStmt.all(probe)) {
        if (scope !== LOOKS_SCOPE && !summaries.has(scope)) this.record(probe, scope, at, null);
      }
      // One row whose payload never changes: its first_seen is the first look, last_seen the latest.
      this.record(probe, LOOKS_SCOPE, at, 'looked');
    }).immediate();
  }

  /**
   * When the looks behind a subject history began and when the latest was: a subject never seen
   * (a pool whose haproxy was already dead at the first look) was missing over all of it.
   */
  looks(probe: string): { first: number; last: number } | null {
    const row = this.latest(probe, LOOKS_SCOPE);
    return row ? { first: row.firstSeen, last: row.lastSeen } : null;
  }

  latest(probe: string, scope: string): StoredObservation | null {
    const key = `${probe}\u0000${scope}`;
    const meta = this.latestMetaStmt.get(probe, scope);
    if (!meta) return null;
    const memo = this.parsed.get(key);
    if (memo && memo.id === meta.id) {
      return { probe, scope, firstSeen: meta.first_seen, lastSeen: meta.last_seen, payload: memo.payload };
    }
    const row = this.latestStmt.get(probe, scope);
    if (!row) return null;
    const observation = toObservation(probe, scope, row);
    this.parsed.set(key, { id: row.id, payload: observation.payload });
    return observation;
  }

  /** Newest first. */
  history(probe: string, scope: string, limit = 50): StoredObservation[] {
    return this.historyStmt.all(probe, scope, limit).map((row) => toObservation(probe, scope, row));
  }

  recordFailure(probe: string, scope: string, at: number, kind: string, message: string): void {
    this.db.transaction(() => this.failStmt.run(probe, scope, at, kind, message)).immediate();
  }

  lastFailure(probe: string, scope: string): StoredFailure | null {
    const row = this.lastFailureStmt.get(probe, scope);
    return row ? { probe, scope, failedAt: row.failed_at, kind: row.kind, message: row.message } : null;
  }

  /** Readiness: the file answers a query. */
  ping(): void {
    this.db.prepare('SELECT 1').get();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function toObservation(probe: string, scope: string, row: ObservationRow): StoredObservation {
  return { probe, scope, firstSeen: row.first_seen, lastSeen: row.last_seen, payload: JSON.parse(row.payload) };
}
