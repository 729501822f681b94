// The SQLite store behind the cache: the append-on-change observation log and the failure log.
// Writes are BEGIN IMMEDIATE (a deferred read-then-write transaction in WAL mode gets SQLITE_BUSY
// at once, ignoring the busy timeout); the file is WAL so readers never block the server.
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrate.ts';
import { LOOKS_SCOPE, ObservationWrites, WRITE_SLICE_ROWS } from './store-writes.ts';
import { hashOfJson, knownJsonOf } from '../host/known-json.ts';
import type { LookWrite, WriteOp, WriteReply } from './store-writes.ts';
import { WriterThread } from './store-writer.ts';
import type { WriterMessage } from './store-writer-thread.ts';

export { HISTORY_ROWS_KEPT } from './store-writes.ts';

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
  /**
   * Write in a thread of the store's own (a long-lived server), so the SQLite work of a cold
   * look at every namespace is not done on the loop that answers requests. Files only: a
   * ':memory:' store is written where it is read.
   */
  writerThread?: boolean;
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
  latest: Database.Statement<[string, string], ObservationRow>;
  history: Database.Statement<[string, string, number], ObservationRow>;
  lastFailure: Database.Statement<[string, string], { failed_at: number; kind: string; message: string }>;
  latestMeta: Database.Statement<[string, string], Omit<ObservationRow, 'payload'>>;
}

/** How often the file is asked whether another connection wrote to it (PRAGMA data_version). */
const OTHER_WRITERS_CHECK_MS = 50;

/** How long history() or close() waits for the writer thread before writing without it. */
const WRITER_WAIT_MS = 15_000;

/** A look recorded and not yet answered for by the writer. */
interface QueuedLook {
  observation: StoredObservation;
  json: string;
  hash: string;
}

/** An operation sent to the writer and what to do with its answer (kept to replay it if the thread ends). */
interface SentOp {
  op: WriteOp;
  answered(reply: WriteReply): void;
}

/**
 * The store never takes the answers down with it. A write that fails (disk full) keeps what was
 * seen in memory and is reported on its own (health(), the log), and writes resume by themselves
 * when space returns; a read that fails is a cache miss. A cache file found corrupt, at open or
 * later, is renamed aside (FILE.corrupt-<time>) and a new one started, saying so.
 *
 * Reads are answered here, from memory or this connection. Writes are queued by record() and
 * written together within FLUSH_MS (store-writes.ts), in this thread or, with `writerThread`,
 * in a thread of their own: a look is served from memory from the moment it is recorded until
 * the file holds it.
 */
export class ObservationStore {
  db!: Database.Database;
  readonly file: string;
  private st!: Statements;
  /** The writes over this connection: the store's writer without a thread, and its fallback. */
  private writes!: ObservationWrites;
  private thread: WriterThread | null = null;
  private readonly wantThread: boolean;
  /** Operations the thread has not answered yet, by seq, oldest first. */
  private readonly sentOps = new Map<number, SentOp>();
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
   * OTHER_WRITERS_CHECK_MS, or by the writer thread as often): another process's writes (a CLI
   * check on the same file) are seen within that, and until then the older observation is
   * served with its own age.
   */
  private readonly hot = new Map<string, StoredObservation>();
  private otherWritersCheckedAt = -Infinity;
  /** Looks that could not be written (disk full): served from here until a write succeeds. */
  private readonly unsaved = new Map<string, StoredObservation>();
  /**
   * Looks recorded but not yet sent to be written: sent together within FLUSH_MS, or sooner when
   * something reads the file for them (history) or an answer is sent (flushSome()). One
   * transaction per look was ~40 % of a cold 200-pool trace's main thread; one per batch is a few.
   */
  private queued = new Map<string, QueuedLook>();
  /** Looks sent to be written, not yet answered for: still served from memory. */
  private readonly sent = new Map<string, QueuedLook>();
  private flushTimer: NodeJS.Timeout | undefined;
  /** The hash and first_seen of the latest row each key was given, so record() need not ask the file. */
  private readonly written = new Map<string, { hash: string; firstSeen: number }>();
  /**
   * settled() callers, each with the last operation sent when it was called: it is woken by the
   * answer to that one, not when nothing is in flight (under a steady stream of writes, never).
   */
  private settledWaiters: Array<{ upTo: number; wake: () => void }> = [];
  /** The seq of the last operation sent to the thread. */
  private lastSentSeq = 0;

  /** `file` ':memory:' gives a private in-memory store (tests). */
  constructor(file: string, options: ObservationStoreOptions = {}) {
    this.file = file;
    this.log = options.log ?? ((m) => console.error(m));
    this.wantThread = Boolean(options.writerThread) && file !== ':memory:';
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
      history: db.prepare('SELECT id, first_seen, last_seen, hash, payload FROM observation WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT ?'),
      lastFailure: db.prepare('SELECT failed_at, kind, message FROM probe_failure WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1'),
      latestMeta: db.prepare('SELECT id, first_seen, last_seen, hash FROM observation WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1'),
    };
    this.writes = new ObservationWrites(db);
    this.writes.otherWriters(); // the baseline
    if (this.wantThread) this.startThread();
  }

  private startThread(): void {
    try {
      const thread: WriterThread = new WriterThread(this.file, OTHER_WRITERS_CHECK_MS, (m) => this.onWriterMessage(m), (reason) => {
        if (this.thread === thread) this.writeWithoutThread(reason);
      });
      this.thread = thread;
    } catch (error) {
      this.thread = null;
      this.log(`lbtopo: the cache's writer thread could not start (${messageOf(error)}); the cache file is written from the main thread`);
    }
  }

  private onWriterMessage(message: WriterMessage): void {
    if (message.seq === null) {
      if ('openFailed' in message) this.writeWithoutThread(`the store's writer thread could not open ${this.file}: ${message.openFailed}`);
      else this.forgetFile();
      return;
    }
    const sent = this.sentOps.get(message.seq);
    if (!sent) return;
    this.sentOps.delete(message.seq);
    sent.answered(message.reply);
    this.wakeSettled(message.seq);
  }

  /** The thread ended or is stuck: what it did not answer for is written here, and from now on. */
  private writeWithoutThread(reason: string): void {
    this.log(`lbtopo: ${reason}; the cache file is written from the main thread`);
    const unanswered = this.dropThread();
    this.writes.forget(); // the thread wrote meanwhile
    this.resubmit(unanswered);
  }

  /** Ends the writer thread at once; returns what it had not answered for, oldest first. */
  private dropThread(): SentOp[] {
    const thread = this.thread;
    this.thread = null;
    thread?.terminate();
    const unanswered = [...this.sentOps.values()];
    this.sentOps.clear();
    return unanswered;
  }

  /** Sends again what a dropped thread had not answered for; its settled() callers are woken. */
  private resubmit(unanswered: SentOp[]): void {
    for (const sent of unanswered) this.submit(sent.op, sent.answered);
    this.wakeSettled(Infinity);
  }

  /** Sends one operation to the writer; `answered` runs with its reply (at once without a thread). */
  private submit(op: WriteOp, answered: (reply: WriteReply) => void): void {
    if (this.thread) {
      this.lastSentSeq = this.thread.send(op);
      this.sentOps.set(this.lastSentSeq, { op, answered });
      return;
    }
    answered(this.writes.apply(op));
  }

  /** Waits, blocking, until the writer has answered for everything sent. */
  private drain(): void {
    const thread = this.thread;
    if (!thread || this.sentOps.size === 0) return;
    if (!thread.receiveUntil(() => this.sentOps.size === 0 || this.thread !== thread, WRITER_WAIT_MS) && this.thread === thread) {
      this.writeWithoutThread(`the store's writer thread did not answer in ${WRITER_WAIT_MS} ms`);
    }
  }

  /** Wakes the settled() callers whose last operation is answered (seq: the latest answered). */
  private wakeSettled(seq: number): void {
    if (this.settledWaiters.length === 0) return;
    const waiting = this.settledWaiters;
    this.settledWaiters = waiting.filter((w) => w.upTo > seq);
    for (const w of waiting) if (w.upTo <= seq) w.wake();
  }

  /** Another connection wrote to the file: what this store remembers of it is read again. */
  private forgetFile(): void {
    this.hot.clear();
    this.written.clear();
    this.writes.forget();
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
    this.log(`lbtopo: the cache file ${this.file} is corrupt (${reason}); it was set aside as ${movedTo} and a new one started`);
  }

  /** A failure of the file in use: corrupt files are replaced; anything else is reported. */
  private failed(what: 'write' | 'read', error: { code?: unknown; message: string }): void {
    if (isCorruption(error) && this.file !== ':memory:') {
      // Both connections go: the thread's (what it has not answered for is written again, in the new file) and this one.
      const unanswered = this.dropThread();
      try {
        this.db.close();
      } catch {
        // Closing a broken handle may fail too; the file is replaced either way.
      }
      try {
        this.setFileAside(messageOf(error));
        this.open();
      } catch (reopen) {
        this.log(`lbtopo: could not start a new cache file ${this.file}: ${messageOf(reopen)}`);
      }
      this.resubmit(unanswered); // into the new file
      if (this.db.open) return;
    }
    if (what === 'write' && this.writeFailure === null) {
      this.writeFailure = { since: Date.now(), message: error.message };
      this.log(`lbtopo: the cache file ${this.file} cannot be written (${error.message}): looks are served from memory until it can`);
    }
  }

  private wrote(): void {
    if (this.writeFailure === null) return;
    this.log(`lbtopo: the cache file ${this.file} can be written again (it could not since ${new Date(this.writeFailure.since).toISOString()})`);
    this.writeFailure = null;
  }

  /** A failed write's reply as an error failed() can judge. */
  private replyFailed(reply: Extract<WriteReply, { ok: false }>): void {
    this.failed('write', { code: reply.code ?? undefined, message: reply.message });
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
    // Serialized by the worker that read it, when it came from one (src/host/known-json.ts).
    const made = knownJsonOf(payload);
    const json = made?.json ?? JSON.stringify(payload);
    const hash = made?.hash ?? hashOfJson(json);
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
    const queued = this.queued.get(key) ?? this.sent.get(key);
    if (queued) return queued.hash === hash ? queued.observation.firstSeen : at;
    const unsaved = this.unsaved.get(key);
    if (unsaved) return hashOfJson(JSON.stringify(unsaved.payload)) === hash ? unsaved.firstSeen : at;
    // Another process may have written since: then only this first_seen in memory is off, until
    // the write (which compares with the file) and the next read.
    const written = this.written.get(key);
    if (written) return written.hash === hash ? written.firstSeen : at;
    try {
      const meta = this.st.latestMeta.get(probe, scope);
      return meta && meta.hash === hash ? meta.first_seen : at;
    } catch {
      return at; // the write reports the file's trouble
    }
  }

  /**
   * Writes the queued looks now and waits until the file holds them. Never throws: when the file
   * cannot be written, they are kept in memory (served from there) and the failure is reported.
   */
  flush(): void {
    while (this.queued.size > 0) this.flushSome(Infinity);
    this.drain();
  }

  /**
   * Sends the queued looks to be written, oldest first. Written here, at most `rows` of them in
   * one transaction (a slice of WRITE_SLICE_ROWS is ~20 ms, so a 1000-pool round's 2,000 looks
   * never hold the loop that answers requests for long); the rest wait for the next turn. The
   * writer thread takes them all (it writes slices of its own). Never throws (see flush()).
   */
  flushSome(rows = WRITE_SLICE_ROWS): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.queued.size === 0) return;
    const limit = this.thread ? Infinity : rows;
    const entries: Array<[string, QueuedLook]> = [];
    for (const entry of this.queued) {
      if (entries.length >= limit) break;
      entries.push(entry);
    }
    for (const [key] of entries) this.queued.delete(key);
    if (this.queued.size > 0) this.flushTimer = setTimeout(() => this.flushSome(), 0).unref();
    this.writeEntries(entries);
  }

  /**
   * Resolves once the looks recorded so far are written (or have failed to be, as health() then
   * says): an answer waits for this, so a write that fails is said in it. Without a thread, one
   * slice is written before it resolves and the rest just after. Undefined when there is nothing
   * to wait for.
   */
  settled(): Promise<void> | undefined {
    // Without a thread, one slice is written now (the rest follow at once, see flushSome()).
    if (!this.thread) this.flushSome();
    while (this.queued.size > 0 && this.thread) this.flushSome(Infinity);
    if (this.sentOps.size === 0) return undefined; // nothing to wait for: a warm answer is not held a tick
    const upTo = this.lastSentSeq;
    return new Promise((wake) => this.settledWaiters.push({ upTo, wake }));
  }

  private writeEntries(entries: Array<[string, QueuedLook]>): void {
    for (const [key, e] of entries) this.sent.set(key, e);
    const looks: LookWrite[] = entries.map(([, e]) => ({ probe: e.observation.probe, scope: e.observation.scope, firstSeen: e.observation.firstSeen, lastSeen: e.observation.lastSeen, json: e.json, hash: e.hash }));
    this.submit({ op: 'looks', looks }, (reply) => {
      if (reply.otherWriters) this.forgetFile();
      entries.forEach(([key, e], i) => {
        if (this.sent.get(key) === e) this.sent.delete(key);
        if (!reply.ok) {
          this.unsaved.set(key, e.observation);
          this.written.delete(key);
          return;
        }
        const row = reply.rows![i]!;
        this.unsaved.delete(key);
        this.written.set(key, { hash: row.hash, firstSeen: row.firstSeen });
        if (row.inserted) this.parsed.set(key, { id: row.id, payload: e.observation.payload });
        // What was just written is what the file holds.
        this.hot.set(key, row.firstSeen === e.observation.firstSeen ? e.observation : { ...e.observation, firstSeen: row.firstSeen });
      });
      if (reply.ok) this.wrote();
      else this.replyFailed(reply);
    });
  }

  /**
   * Records one look's summaries of every subject under `probe` (scope = subject); a subject
   * whose latest summary is not null but which this look did not see is recorded as null.
   */
  recordSubjects(probe: string, at: number, summaries: ReadonlyMap<string, unknown>): void {
    const list: Array<[string, string]> = [];
    for (const [subject, summary] of summaries) {
      list.push([subject, JSON.stringify(summary)]);
      this.hot.delete(`${probe}\u0000${subject}`);
    }
    this.hot.delete(`${probe}\u0000${LOOKS_SCOPE}`);
    this.submit({ op: 'subjects', probe, at, summaries: list }, (reply) => {
      if (reply.otherWriters) this.forgetFile();
      for (const subject of reply.ok ? reply.touched ?? [] : []) this.hot.delete(`${probe}\u0000${subject}`);
      if (reply.ok) this.wrote();
      else this.replyFailed(reply); // history is what is lost while the disk is full
    });
  }

  /**
   * When the looks behind a subject history began and when the latest was: a subject never seen
   * (a pool whose haproxy was already dead at the first look) was missing over all of it.
   */
  looks(probe: string): { first: number; last: number } | null {
    this.drain();
    const row = this.latest(probe, LOOKS_SCOPE);
    return row ? { first: row.firstSeen, last: row.lastSeen } : null;
  }

  latest(probe: string, scope: string): StoredObservation | null {
    const key = `${probe}\u0000${scope}`;
    const queued = this.queued.get(key) ?? this.sent.get(key);
    if (queued) return queued.observation;
    const unsaved = this.unsaved.get(key);
    let stored: StoredObservation | null;
    try {
      stored = this.latestStored(probe, scope, key);
    } catch (error) {
      this.failed('read', error as Error);
      stored = null;
    }
    if (unsaved && (!stored || unsaved.lastSeen >= stored.lastSeen)) return unsaved;
    return stored;
  }

  private latestStored(probe: string, scope: string, key: string): StoredObservation | null {
    this.checkOtherWriters();
    const hot = this.hot.get(key);
    if (hot) return hot;
    const observation = this.latestFromFile(probe, scope, key);
    if (observation) this.hot.set(key, observation);
    return observation;
  }

  /**
   * Forgets what this store knows of the file once another connection has written to it
   * (data_version moved): its rows are read again. With a writer thread, the thread asks (this
   * connection's data_version moves with every write of the thread's).
   */
  private checkOtherWriters(): void {
    if (this.thread) return;
    const t = performance.now();
    if (t - this.otherWritersCheckedAt < OTHER_WRITERS_CHECK_MS) return;
    this.otherWritersCheckedAt = t;
    if (this.writes.otherWriters()) {
      this.hot.clear();
      this.written.clear();
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
    this.flush();
    try {
      return this.st.history.all(probe, scope, limit).map((row) => toObservation(probe, scope, row));
    } catch (error) {
      this.failed('read', error as Error);
      return [];
    }
  }

  /** Failed looks are kept as history is: the newest HISTORY_ROWS_KEPT per (probe, scope). */
  recordFailure(probe: string, scope: string, at: number, kind: string, message: string): void {
    this.submit({ op: 'failure', probe, scope, at, kind, message }, (reply) => {
      if (reply.otherWriters) this.forgetFile();
      if (reply.ok) this.wrote();
      else this.replyFailed(reply);
    });
  }

  lastFailure(probe: string, scope: string): StoredFailure | null {
    this.drain();
    try {
      const row = this.st.lastFailure.get(probe, scope);
      return row ? { probe, scope, failedAt: row.failed_at, kind: row.kind, message: row.message } : null;
    } catch (error) {
      this.failed('read', error as Error);
      return null;
    }
  }

  /** Readiness: the file answers a query (a corrupt one is replaced first). */
  ping(): void {
    try {
      this.db.prepare('SELECT count(*) FROM observation').get();
    } catch (error) {
      this.failed('read', error as Error);
      this.db.prepare('SELECT 1').get();
    }
  }

  close(): void {
    if (this.db.open) {
      this.flush();
      const thread = this.thread;
      this.thread = null;
      thread?.close(WRITER_WAIT_MS);
      this.db.close();
    }
  }
}

/** How long a recorded look may wait to be written with others. */
const FLUSH_MS = 20;

function toObservation(probe: string, scope: string, row: ObservationRow): StoredObservation {
  return { probe, scope, firstSeen: row.first_seen, lastSeen: row.last_seen, payload: JSON.parse(row.payload) };
}
