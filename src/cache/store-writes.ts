// The write side of the observation log (store.ts), over one connection: batches of looks
// (a new row only when the payload changed, else last_seen moves; history pruned), subject
// histories and failed looks. It runs on the main thread over the store's own connection (a
// ':memory:' store, a one-shot CLI) or in the store's writer thread (store-writer-thread.ts)
// over a connection of its own, so that a server's SQLite work is not done on the loop that
// answers requests. Either way the store sends it operations in order and applies the replies.
import type Database from 'better-sqlite3';
import { hashOfJson } from '../host/known-json.ts';

/** Rows of history kept per (probe, scope); older ones are deleted as new ones come. */
export const HISTORY_ROWS_KEPT = 200;

/** The scope of the looks marker in a subject history ('' is never a subject: subjects are paths). */
export const LOOKS_SCOPE = '';

/**
 * Rows written per transaction: a slice of this many is ~20 ms, so a 1000-pool round's 2,000
 * looks never hold the file's write lock (or the loop, when written inline) for long.
 */
export const WRITE_SLICE_ROWS = 250;

/** One look to write: its JSON and hash were made when it was recorded. */
export interface LookWrite {
  probe: string;
  scope: string;
  firstSeen: number;
  lastSeen: number;
  json: string;
  hash: string;
}

/** The latest row of a key after a write: the store keeps it so record() need not ask the file. */
export interface WrittenRow {
  id: number;
  hash: string;
  firstSeen: number;
  /** A new row (the payload changed), not a moved last_seen. */
  inserted: boolean;
}

export type WriteOp =
  | { op: 'looks'; looks: LookWrite[] }
  | { op: 'subjects'; probe: string; at: number; summaries: Array<[string, string]> }
  | { op: 'failure'; probe: string; scope: string; at: number; kind: string; message: string };

export type WriteReply =
  | { ok: true; rows?: WrittenRow[]; touched?: string[]; otherWriters: boolean }
  | { ok: false; code: string | null; message: string; otherWriters: boolean };

interface Statements {
  latestMeta: Database.Statement<[string, string], { id: number; first_seen: number; hash: string }>;
  insert: Database.Statement<[string, string, number, number, string, string]>;
  touch: Database.Statement<[number, number]>;
  prune: Database.Statement<[string, string, string, string, number]>;
  fail: Database.Statement<[string, string, number, string, string]>;
  pruneFailures: Database.Statement<[string, string, string, string, number]>;
  presentSubjects: Database.Statement<[string], { scope: string }>;
  dataVersion: Database.Statement<[], number>;
}

export class ObservationWrites {
  private readonly db: Database.Database;
  private readonly st: Statements;
  /** The latest row each key was given over this connection: trusted while nobody else writes. */
  private readonly written = new Map<string, { id: number; hash: string; firstSeen: number }>();
  /** Per subject-history probe, the subjects whose latest summary is not null. */
  private readonly subjects = new Map<string, Set<string>>();
  private dataVersion: number | null = null;

  constructor(db: Database.Database) {
    this.db = db;
    this.st = {
      latestMeta: db.prepare('SELECT id, first_seen, hash FROM observation WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1'),
      insert: db.prepare('INSERT INTO observation (probe, scope, first_seen, last_seen, hash, payload) VALUES (?, ?, ?, ?, ?, ?)'),
      touch: db.prepare('UPDATE observation SET last_seen = ? WHERE id = ?'),
      prune: db.prepare(
        'DELETE FROM observation WHERE probe = ? AND scope = ? AND id <= (SELECT id FROM observation WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
      ),
      fail: db.prepare('INSERT INTO probe_failure (probe, scope, failed_at, kind, message) VALUES (?, ?, ?, ?, ?)'),
      pruneFailures: db.prepare(
        'DELETE FROM probe_failure WHERE probe = ? AND scope = ? AND id <= (SELECT id FROM probe_failure WHERE probe = ? AND scope = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
      ),
      presentSubjects: db.prepare(
        "SELECT o.scope FROM observation o WHERE o.probe = ? AND o.payload != 'null' AND o.id = (SELECT max(id) FROM observation WHERE probe = o.probe AND scope = o.scope)",
      ),
      dataVersion: db.prepare('PRAGMA data_version').pluck() as Database.Statement<[], number>,
    };
  }

  /**
   * Whether another connection has written to the file since this one last asked (PRAGMA
   * data_version); if so, what this one remembers of the file is forgotten.
   */
  otherWriters(): boolean {
    const version = this.st.dataVersion.get() as number;
    if (version === this.dataVersion) return false;
    const first = this.dataVersion === null;
    this.dataVersion = version;
    this.written.clear();
    this.subjects.clear();
    return !first;
  }

  /** Forgets what this connection remembers of the file (the store's reader saw another writer). */
  forget(): void {
    this.written.clear();
    this.subjects.clear();
  }

  /** Carries out one operation; never throws (a failure is a reply). */
  apply(op: WriteOp): WriteReply {
    let otherWriters = false;
    const touched: string[] = [];
    try {
      switch (op.op) {
        case 'looks': {
          const rows: WrittenRow[] = [];
          for (let i = 0; i < op.looks.length; i += WRITE_SLICE_ROWS) {
            const slice = op.looks.slice(i, i + WRITE_SLICE_ROWS);
            this.db.transaction(() => {
              // Under the write lock: what another process wrote is known before comparing hashes.
              if (this.otherWriters()) otherWriters = true;
              for (const look of slice) rows.push(this.writeLook(look));
            }).immediate();
          }
          return { ok: true, rows, otherWriters };
        }
        case 'subjects':
          this.db.transaction(() => {
            if (this.otherWriters()) otherWriters = true;
            this.writeSubjects(op.probe, op.at, op.summaries, touched);
          }).immediate();
          return { ok: true, touched, otherWriters };
        case 'failure':
          this.db.transaction(() => {
            this.st.fail.run(op.probe, op.scope, op.at, op.kind, op.message);
            this.st.pruneFailures.run(op.probe, op.scope, op.probe, op.scope, HISTORY_ROWS_KEPT);
          }).immediate();
          return { ok: true, otherWriters };
      }
    } catch (error) {
      // Rolled back: what was remembered inside the transaction is not in the file.
      this.forget();
      const code = (error as { code?: unknown } | null)?.code;
      return { ok: false, code: typeof code === 'string' ? code : null, message: error instanceof Error ? error.message : String(error), otherWriters };
    }
  }

  private writeLook(look: LookWrite): WrittenRow {
    const { probe, scope, hash } = look;
    const key = `${probe}\u0000${scope}`;
    const latest = this.written.get(key) ?? toWritten(this.st.latestMeta.get(probe, scope));
    if (latest && latest.hash === hash) {
      this.st.touch.run(look.lastSeen, latest.id);
      this.written.set(key, latest);
      return { ...latest, inserted: false };
    }
    const id = Number(this.st.insert.run(probe, scope, look.firstSeen, look.lastSeen, hash, look.json).lastInsertRowid);
    const row = { id, hash, firstSeen: look.firstSeen };
    this.written.set(key, row);
    this.st.prune.run(probe, scope, probe, scope, HISTORY_ROWS_KEPT);
    return { ...row, inserted: true };
  }

  /**
   * One look's summaries of every subject under `probe` (scope = subject), as JSON; a subject
   * whose latest summary is not null but which this look did not see is recorded as null.
   */
  private writeSubjects(probe: string, at: number, summaries: Array<[string, string]>, touched: string[]): void {
    let present = this.subjects.get(probe);
    if (!present) {
      present = new Set(this.st.presentSubjects.all(probe).map((r) => r.scope).filter((scope) => scope !== LOOKS_SCOPE));
      this.subjects.set(probe, present);
    }
    const write = (subject: string, json: string) => {
      this.writeLook({ probe, scope: subject, firstSeen: at, lastSeen: at, json, hash: hashOfJson(json) });
      touched.push(subject);
      if (json === 'null') present.delete(subject);
      else present.add(subject);
    };
    const seen = new Set<string>();
    for (const [subject, json] of summaries) {
      if (subject === LOOKS_SCOPE) continue;
      seen.add(subject);
      write(subject, json);
    }
    for (const subject of [...present]) if (!seen.has(subject)) write(subject, 'null');
    // One row whose payload never changes: its first_seen is the first look, last_seen the latest.
    // Not a subject: it is never in `present`, so a later look cannot record it as gone.
    this.writeLook({ probe, scope: LOOKS_SCOPE, firstSeen: at, lastSeen: at, json: '"looked"', hash: hashOfJson('"looked"') });
    touched.push(LOOKS_SCOPE);
  }
}

function toWritten(meta: { id: number; first_seen: number; hash: string } | undefined): { id: number; hash: string; firstSeen: number } | undefined {
  return meta ? { id: meta.id, hash: meta.hash, firstSeen: meta.first_seen } : undefined;
}
