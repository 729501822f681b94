// The SQLite store behind the cache: the append-on-change observation log and the failure log.
// Writes are BEGIN IMMEDIATE (a deferred read-then-write transaction in WAL mode gets SQLITE_BUSY
// at once, ignoring the busy timeout); the file is WAL so readers never block the server.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
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

/** What went wrong with the cache file, for /ready, the log and each response's extensions. */
export interface StoreHealth {
  file: string;
  /** Writes fail (disk full, read-only): looks are served from memory, not kept. Null when writes work. */
  writeFailure: { since: number; message: string } | null;
  /** Cache files found corrupt and renamed, so a new one could be started (oldest first). */
  setAside: Array<{ at: number; file: string; movedTo: string; reason: string }>;
}

export interface ObservationStoreOptions {
  log?: (message: string) => void;
}

/** better-sqlite3 error codes meaning the file itself is broken (not busy, not full). */
const CORRUPT_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_INDEX', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CORRUPT_VTAB']);

function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CORRUPT_CODES.has(code);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface Statements {
  prune: Database.Statement<[string, string, string, string, number]>;
  pruneFailures: Database.Statement<[string, string, string, string, number]>;
  presentSubjects: Database.Statement<[string], { scope: string }>;
  latest: Database.Statement<[string, string], ObservationRow>;
  insert: Database.Statement<[string, string, number, number, string, string]>;
  touch: Database.Statement<[number, number]>;
  fail: Database.Statement<[string, string, number, string, string]>;
  history: Database.Statement<[string, string, number], ObservationRow>;
  lastFailure: Database.Statement<[string, string], { failed_at: number; kind: string; message: string }>;
  latestMeta: Database.Statement<[string, string], Omit<ObservationRow, 'payload'>>;
  dataVersion: Database.Statement<[], number>;
}

/** How often the file is asked whether another connection wrote to it (PRAGMA data_version). */
const OTHER_WRITERS_CHECK_MS = 50;

/**
 * The store never takes the answers down with it. A write that fails (disk full) keeps what was
 * seen in memory and is reported on its own (health(), the log), and writes resume by themselves
 * when space returns; a read that fails is a cache miss. A cache file found corrupt, at open or
 * later, is renamed aside (FILE.corrupt-<time>) and a new one started, saying so.
 */
export class ObservationStore {
  db!: Database.Database;
  readonly file: string;
  private st!: Statements;
  private recordTx!: (probe: string, scope: string, at: number, payload: unknown) => StoredObservation;
  private writeQueuedTx!: (entries: QueuedLook[]) => void;
  private readonly log: (message: string) => void;
  private writeFailure: StoreHealth['writeFailure'] = null;
  private readonly setAside: StoreHealth['setAside'] = [];
  /**
   * Parsed payloads of the latest rows, by row id: a warm request reads one small row per probe
   * instead of parsing the same JSON again. The row id comes from the file each time, so a write
   * by another process (a CLI next to the server) is still seen.
   */
  private readonly parsed = new Map<string, { id: number; payload: unknown }>();
  /**
   * The latest observation per (probe, scope) as last read or written here: a warm 1000-pool
   * trace asks for about 2,000 of them, and a SQLite look-up each was most of its CPU. Trusted
   * while no other connection has written to the file (PRAGMA data_version, asked at most every
   * OTHER_WRITERS_CHECK_MS): another process's writes (a CLI check on the same file) are seen
   * within that, and until then the older observation is served with its own age.
   */
  private readonly hot = new Map<string, StoredObservation>();
  private dataVersion: number | null = null;
  private otherWritersCheckedAt = -Infinity;
  /** Looks that could not be written (disk full): served from here until a write succeeds. */
  private readonly unsaved = new Map<string, StoredObservation>();
  /**
   * Looks recorded but not yet in the file: written together within FLUSH_MS, or sooner when
   * something reads the file for them (history) or an answer is sent (flushSome()). One transaction
   * per look was ~40 % of a cold 200-pool trace's main thread; one per batch is a few.
   */
  private queued = new Map<string, QueuedLook>();
  private flushTimer: NodeJS.Timeout | undefined;
  /** The hash and first_seen of the latest row each key was given here, so record() need not ask the file. */
  private readonly written = new Map<string, { id: number; hash: string; firstSeen: number }>();
  /** Per subject-history probe, the subjects whose latest summary is not null (recordSubjects). */
  private readonly subjects = new Map<string, Set<string>>();

  /** `file` ':memory:' gives a private in-memory store (tests). */
  constructor(file: string, options: ObservationStoreOptions = {}) {
    this.file = file;
    this.log = options.log ?? ((m) => console.error(m));
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    try {
      this.open();
    } catch (error) {
      if (file === ':memory:' || !isCorruption(error)) throw error;
      this.setFileAside(messageOf(error));
      this.open();
    }
  }

  private open(): void {
    const db = new Database(this.file, { timeout: 5000 });
    try {
      db.pragma('journal_mode = WAL');
      // A cache, not a ledger: in WAL mode NORMAL never corrupts the file and survives a crash of
      // this process; only a power loss can lose the last commits, which the next look redoes.
      // FULL (the default) syncs the WAL at every commit: with ~400 looks recorded per cold
      // 200-pool trace, that was a third of the main thread's time.
      db.pragma('synchronous = NORMAL');
      migrate(db);
      if (this.file !== ':memory:') {
        const check = db.pragma('quick_check', { simple: true });
        if (check !== 'ok') throw Object.assign(new Error(`quick_check: ${String(check)}`), { code: 'SQLITE_CORRUPT' });
      }
    } catch (error) {
      db.close();
      throw error;
    }
    this.db = db;
    this.st = {
      latest: db.prepare('SELECT id, first_seen, last_seen, hash, payload FROM observation WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1'),
      insert: db.prepare('INSERT INTO observation (probe, scope, first_seen, last_seen, hash, payload) VALUES (?, ?, ?, ?, ?, ?)'),
      touch: db.prepare('UPDATE observation SET last_seen = ? WHERE id = ?'),
      fail: db.prepare('INSERT INTO probe_failure (probe, scope, failed_at, kind, message) VALUES (?, ?, ?, ?, ?)'),
      history: db.prepare('SELECT id, first_seen, last_seen, hash, payload FROM observation WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT ?'),
      lastFailure: db.prepare('SELECT failed_at, kind, message FROM probe_failure WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1'),
      latestMeta: db.prepare('SELECT id, first_seen, last_seen, hash FROM observation WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1'),
      dataVersion: db.prepare('PRAGMA data_version').pluck() as Database.Statement<[], number>,
      presentSubjects: db.prepare(
        "SELECT o.scope FROM observation o WHERE o.probe = ? AND o.payload != 'null' AND o.id = (SELECT max(id) FROM observation WHERE probe = o.probe AND scope = o.scope)",
      ),
      prune: db.prepare(
        'DELETE FROM observation WHERE probe = ? AND scope = ? AND id <= (SELECT id FROM observation WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
      ),
      pruneFailures: db.prepare(
        'DELETE FROM probe_failure WHERE probe = ? AND scope = ? AND id <= (SELECT id FROM probe_failure WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
      ),
    };
    // firstSeen: looks of one payload queued together were first seen before `at`.
    const writeOne = (probe: string, scope: string, at: number, payload: unknown, json = JSON.stringify(payload), hash = hashOf(json), firstSeen = at): StoredObservation => {
      const key = `${probe}\u0000${scope}`;
      // What this connection wrote last is the latest row while nobody else writes (flush() checks).
      const mine = this.written.get(key);
      const latest = mine ? { id: mine.id, hash: mine.hash, first_seen: mine.firstSeen } : this.st.latestMeta.get(probe, scope);
      if (latest && latest.hash === hash) {
        this.st.touch.run(at, latest.id);
        this.written.set(key, { id: latest.id, hash, firstSeen: latest.first_seen });
        return { probe, scope, firstSeen: latest.first_seen, lastSeen: at, payload };
      }
      const { lastInsertRowid } = this.st.insert.run(probe, scope, firstSeen, at, hash, json);
      this.parsed.set(key, { id: Number(lastInsertRowid), payload });
      this.written.set(key, { id: Number(lastInsertRowid), hash, firstSeen });
      this.st.prune.run(probe, scope, probe, scope, HISTORY_ROWS_KEPT);
      return { probe, scope, firstSeen, lastSeen: at, payload };
    };
    const tx = db.transaction(writeOne);
    this.recordTx = (probe, scope, at, payload) => tx.immediate(probe, scope, at, payload);
    const batch = db.transaction((entries: QueuedLook[]) => {
      this.checkOtherWriters(true); // under the write lock: what another process wrote is known
      for (const e of entries) writeOne(e.observation.probe, e.observation.scope, e.observation.lastSeen, e.observation.payload, e.json, e.hash, e.observation.firstSeen);
    });
    this.writeQueuedTx = (entries) => batch.immediate(entries);
  }

  /** Renames the broken file (and its -wal, -shm) to FILE.corrupt-<time>, so a new one can start. */
  private setFileAside(reason: string): void {
    const at = Date.now();
    const movedTo = `${this.file}.corrupt-${new Date(at).toISOString().replace(/[:.]/g, '-')}`;
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(this.file + suffix)) renameSync(this.file + suffix, movedTo + suffix);
    }
    this.setAside.push({ at, file: this.file, movedTo, reason });
    this.parsed.clear();
    this.written.clear();
    this.hot.clear();
    this.subjects.clear();
    this.log(`lbtopo: the cache file ${this.file} is corrupt (${reason}); it was set aside as ${movedTo} and a new one started`);
  }

  /** A failure of the file in use: corrupt files are replaced; anything else is reported. */
  private failed(what: 'write' | 'read', error: unknown): void {
    if (isCorruption(error) && this.file !== ':memory:') {
      try {
        this.db.close();
      } catch {
        // Closing a broken handle may fail too; the file is replaced either way.
      }
      try {
        this.setFileAside(messageOf(error));
        this.open();
        return;
      } catch (reopen) {
        this.log(`lbtopo: could not start a new cache file ${this.file}: ${messageOf(reopen)}`);
      }
    }
    if (what === 'write' && this.writeFailure === null) {
      this.writeFailure = { since: Date.now(), message: messageOf(error) };
      this.log(`lbtopo: the cache file ${this.file} cannot be written (${messageOf(error)}): looks are served from memory until it can`);
    }
  }

  private wrote(): void {
    if (this.writeFailure === null) return;
    this.log(`lbtopo: the cache file ${this.file} can be written again (it could not since ${new Date(this.writeFailure.since).toISOString()})`);
    this.writeFailure = null;
  }

  health(): StoreHealth {
    return { file: this.file, writeFailure: this.writeFailure, setAside: [...this.setAside] };
  }

  /**
   * Stores what a probe saw at `at`: a new row only when the payload changed. Never throws. The
   * look is served (latest()) at once and written with the others of its batch within FLUSH_MS.
   */
  record(probe: string, scope: string, at: number, payload: unknown): StoredObservation {
    const key = `${probe}\u0000${scope}`;
    this.hot.delete(key);
    const json = JSON.stringify(payload);
    const hash = hashOf(json);
    // A change of a look still queued: write that one first, so the log keeps every change.
    const pending = this.queued.get(key);
    if (pending && pending.hash !== hash) {
      this.queued.delete(key);
      this.writeEntries([[key, pending]]);
    }
    const observation = { probe, scope, firstSeen: this.firstSeenOf(key, probe, scope, hash, at), lastSeen: at, payload };
    this.queued.set(key, { observation, json, hash });
    this.flushTimer ??= setTimeout(() => this.flushSome(), FLUSH_MS).unref();
    return observation;
  }

  /** Since when the payload with this hash has been seen (`at` when it is new). */
  private firstSeenOf(key: string, probe: string, scope: string, hash: string, at: number): number {
    const queued = this.queued.get(key);
    if (queued) return queued.hash === hash ? queued.observation.firstSeen : at;
    const unsaved = this.unsaved.get(key);
    if (unsaved) return hashOf(JSON.stringify(unsaved.payload)) === hash ? unsaved.firstSeen : at;
    // Another process may have written since: then only this first_seen in memory is off, until
    // the flush (which compares with the file) and the next read.
    const written = this.written.get(key);
    if (written) return written.hash === hash ? written.firstSeen : at;
    try {
      const meta = this.st.latestMeta.get(probe, scope);
      return meta && meta.hash === hash ? meta.first_seen : at;
    } catch {
      return at; // the flush reports the file's trouble
    }
  }

  /**
   * Writes the queued looks now, in one transaction. Never throws: when the file cannot be
   * written, they are kept in memory (served from there) and the failure is reported.
   */
  flush(): void {
    while (this.queued.size > 0) this.flushSome(Infinity);
  }

  /**
   * Writes at most `rows` of the queued looks (oldest first) in one transaction; the rest wait
   * for the next. A slice of FLUSH_ROWS is ~20 ms, so a 1000-pool round's 2,000 looks never hold
   * the loop that answers requests for long. Never throws (see flush()).
   */
  flushSome(rows = FLUSH_ROWS): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.queued.size === 0) return;
    const entries: Array<[string, QueuedLook]> = [];
    for (const entry of this.queued) {
      if (entries.length >= rows) break;
      entries.push(entry);
    }
    for (const [key] of entries) this.queued.delete(key);
    if (this.queued.size > 0) this.flushTimer = setTimeout(() => this.flushSome(), 0).unref();
    this.writeEntries(entries);
  }

  private writeEntries(entries: Array<[string, QueuedLook]>): void {
    try {
      this.writeQueuedTx(entries.map(([, e]) => e));
      // What was just written is what the file holds.
      for (const [key, e] of entries) {
        this.unsaved.delete(key);
        this.hot.set(key, e.observation);
      }
      this.wrote();
    } catch (error) {
      this.failed('write', error);
      for (const [key, e] of entries) {
        this.unsaved.set(key, e.observation);
        this.written.delete(key); // set inside the transaction that rolled back
      }
    }
  }

  /**
   * Records one look's summaries of every subject under `probe` (scope = subject); a subject
   * whose latest summary is not null but which this look did not see is recorded as null.
   */
  recordSubjects(probe: string, at: number, summaries: ReadonlyMap<string, unknown>): void {
    const touched: string[] = [];
    try {
      this.db.transaction(() => {
        this.checkOtherWriters(true);
        const present = this.presentSubjectsOf(probe);
        const write = (subject: string, summary: unknown) => {
          this.recordTx(probe, subject, at, summary);
          touched.push(subject);
          if (summary === null) present.delete(subject);
          else present.add(subject);
        };
        for (const [subject, summary] of summaries) if (subject !== LOOKS_SCOPE) write(subject, summary);
        for (const scope of [...present]) if (!summaries.has(scope)) write(scope, null);
        // One row whose payload never changes: its first_seen is the first look, last_seen the latest.
        this.recordTx(probe, LOOKS_SCOPE, at, 'looked');
        touched.push(LOOKS_SCOPE);
      }).immediate();
      this.wrote();
    } catch (error) {
      this.subjects.delete(probe); // changed inside the transaction that rolled back
      for (const subject of touched) this.written.delete(`${probe}\u0000${subject}`);
      this.failed('write', error); // history is what is lost while the disk is full
    }
    for (const subject of touched) this.hot.delete(`${probe}\u0000${subject}`);
  }

  /** The subjects of `probe` whose latest summary is not null (asked of the file once, then kept). */
  private presentSubjectsOf(probe: string): Set<string> {
    let present = this.subjects.get(probe);
    if (!present) {
      present = new Set(this.st.presentSubjects.all(probe).map((r) => r.scope).filter((scope) => scope !== LOOKS_SCOPE));
      this.subjects.set(probe, present);
    }
    return present;
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
    const queued = this.queued.get(key);
    if (queued) return queued.observation;
    const unsaved = this.unsaved.get(key);
    let stored: StoredObservation | null;
    try {
      stored = this.latestStored(probe, scope, key);
    } catch (error) {
      this.failed('read', error);
      stored = null;
    }
    if (unsaved && (!stored || unsaved.lastSeen >= stored.lastSeen)) return unsaved;
    return stored;
  }

  private latestStored(probe: string, scope: string, key: string): StoredObservation | null {
    this.checkOtherWriters(false);
    const hot = this.hot.get(key);
    if (hot) return hot;
    const observation = this.latestFromFile(probe, scope, key);
    if (observation) this.hot.set(key, observation);
    return observation;
  }

  /**
   * Forgets what this connection knows of the file once another connection has written to it
   * (data_version moved): its rows are read again. `now` asks the file whatever the interval.
   */
  private checkOtherWriters(now: boolean): void {
    const t = performance.now();
    if (!now && t - this.otherWritersCheckedAt < OTHER_WRITERS_CHECK_MS) return;
    this.otherWritersCheckedAt = t;
    const version = this.st.dataVersion.get() as number;
    if (version !== this.dataVersion) {
      this.dataVersion = version;
      this.hot.clear();
      this.written.clear();
      this.subjects.clear();
    }
  }

  private latestFromFile(probe: string, scope: string, key: string): StoredObservation | null {
    const meta = this.st.latestMeta.get(probe, scope);
    if (!meta) return null;
    const memo = this.parsed.get(key);
    if (memo && memo.id === meta.id) {
      return { probe, scope, firstSeen: meta.first_seen, lastSeen: meta.last_seen, payload: memo.payload };
    }
    const row = this.st.latest.get(probe, scope);
    if (!row) return null;
    const observation = toObservation(probe, scope, row);
    this.parsed.set(key, { id: row.id, payload: observation.payload });
    return observation;
  }

  /** Newest first. */
  history(probe: string, scope: string, limit = 50): StoredObservation[] {
    if (this.queued.size > 0) this.flush();
    try {
      return this.st.history.all(probe, scope, limit).map((row) => toObservation(probe, scope, row));
    } catch (error) {
      this.failed('read', error);
      return [];
    }
  }

  /** Failed looks are kept as history is: the newest HISTORY_ROWS_KEPT per (probe, scope). */
  recordFailure(probe: string, scope: string, at: number, kind: string, message: string): void {
    try {
      this.db.transaction(() => {
        this.st.fail.run(probe, scope, at, kind, message);
        this.st.pruneFailures.run(probe, scope, probe, scope, HISTORY_ROWS_KEPT);
      }).immediate();
      this.wrote();
    } catch (error) {
      this.failed('write', error);
    }
  }

  lastFailure(probe: string, scope: string): StoredFailure | null {
    try {
      const row = this.st.lastFailure.get(probe, scope);
      return row ? { probe, scope, failedAt: row.failed_at, kind: row.kind, message: row.message } : null;
    } catch (error) {
      this.failed('read', error);
      return null;
    }
  }

  /** Readiness: the file answers a query (a corrupt one is replaced first). */
  ping(): void {
    try {
      this.db.prepare('SELECT count(*) FROM observation').get();
    } catch (error) {
      this.failed('read', error);
      this.db.prepare('SELECT 1').get();
    }
  }

  close(): void {
    if (this.db.open) {
      this.flush();
      this.db.close();
    }
  }
}

/** How long a recorded look may wait to be written with others, and how many are written at once. */
const FLUSH_MS = 20;
const FLUSH_ROWS = 250;

interface QueuedLook {
  observation: StoredObservation;
  json: string;
  hash: string;
}

function hashOf(json: string): string {
  return createHash('sha256').update(json).digest('hex');
}

function toObservation(probe: string, scope: string, row: ObservationRow): StoredObservation {
  return { probe, scope, firstSeen: row.first_seen, lastSeen: row.last_seen, payload: JSON.parse(row.payload) };
}
