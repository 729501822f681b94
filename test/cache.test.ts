import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ObservationStore, HISTORY_ROWS_KEPT } from '../src/cache/store.ts';
import { migrate, readMigrations, DatabaseTooNewError, MIGRATIONS_DIR } from '../src/cache/migrate.ts';
import { ProbeRunner, ProbeFailedError } from '../src/cache/runner.ts';
import type { ProbeDefinition, ProbeTraceEntry } from '../src/cache/runner.ts';
import { DiscoveryError } from '../src/host/errors.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'lbtopo-cache-'));

test('migrations apply in order, set user_version, and run once', () => {
  const db = new Database(':memory:');
  const applied = migrate(db);
  assert.deepEqual(applied, readMigrations().map((m) => m.version));
  assert.equal(db.pragma('user_version', { simple: true }), readMigrations().length);
  assert.deepEqual(migrate(db), [], 'a second run applies nothing');
});

test('a database from a newer build is refused with a clear message and left untouched', () => {
  const dir = tmp();
  const file = join(dir, 'db.sqlite');
  const db = new Database(file);
  db.pragma('user_version = 99');
  db.close();
  assert.throws(() => new ObservationStore(file), (err: unknown) => err instanceof DatabaseTooNewError && /schema version 99/.test((err as Error).message) && /newer/.test((err as Error).message));
  const again = new Database(file);
  assert.equal(again.pragma('user_version', { simple: true }), 99);
  const tables = again.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type='table'").get() as { n: number };
  assert.equal(tables.n, 0, 'no migration touched it');
  again.close();
  rmSync(dir, { recursive: true });
});

test('a migration directory with a gap is refused', () => {
  const dir = tmp();
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  // One number past the next free one, however many migrations there are.
  writeFileSync(join(dir, `${String(readMigrations().length + 2).padStart(4, '0')}_skip.sql`), 'SELECT 1;');
  assert.throws(() => readMigrations(dir), /without gaps/);
  rmSync(dir, { recursive: true });
});

test('the store is WAL and appends a row only when the payload changes', () => {
  const dir = tmp();
  const store = new ObservationStore(join(dir, 'db.sqlite'));
  assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
  store.record('proc', '', 1000, { a: 1 });
  store.record('proc', '', 2000, { a: 1 });
  store.record('proc', '', 3000, { a: 2 });
  store.record('proc', '', 4000, { a: 2 });
  const history = store.history('proc', '');
  assert.deepEqual(history.map((h) => [h.firstSeen, h.lastSeen, h.payload]), [[3000, 4000, { a: 2 }], [1000, 2000, { a: 1 }]]);
  assert.deepEqual(store.latest('proc', ''), { probe: 'proc', scope: '', firstSeen: 3000, lastSeen: 4000, payload: { a: 2 } });
  assert.equal(store.latest('proc', 'other'), null);
  store.close();
  rmSync(dir, { recursive: true });
});

function countingProbe(value: () => unknown, ttlMs = 60_000): ProbeDefinition<unknown> & { runs: number } {
  const probe = {
    name: 'fake',
    ttlMs,
    runs: 0,
    async run() {
      probe.runs++;
      await new Promise((r) => setTimeout(r, 20));
      return value();
    },
  };
  return probe;
}

test('a fresh observation is served from the cache; maxAge 0 looks again', async () => {
  const store = new ObservationStore(':memory:');
  const runner = new ProbeRunner(store);
  const probe = countingProbe(() => ({ n: 1 }));
  const trace: ProbeTraceEntry[] = [];
  await runner.observe(probe, 's', {}, trace);
  await runner.observe(probe, 's', {}, trace);
  assert.equal(probe.runs, 1);
  assert.deepEqual(trace.map((t) => t.source), ['ran', 'cache']);
  await runner.observe(probe, 's', { maxAgeMs: 0 }, trace);
  assert.equal(probe.runs, 2);
});

test('concurrent callers share one run (single flight)', async () => {
  const runner = new ProbeRunner(new ObservationStore(':memory:'));
  const probe = countingProbe(() => ({ n: 1 }));
  const results = await Promise.all(Array.from({ length: 20 }, () => runner.observe(probe, 's', { maxAgeMs: 0 })));
  assert.equal(probe.runs, 1);
  assert.ok(results.every((r) => (r.value as { n: number }).n === 1));
});

test('a failed look serves the last good observation, marked stale with the error', async () => {
  const store = new ObservationStore(':memory:');
  const runner = new ProbeRunner(store, () => {});
  let fail = false;
  const probe: ProbeDefinition<unknown> = {
    name: 'ovs',
    ttlMs: 0,
    run: async () => {
      if (fail) throw new DiscoveryError('timeout', ['ovs-vsctl'], 'timed out after 5000 ms');
      return { ports: 3 };
    },
  };
  const good = await runner.observe(probe, 'db');
  fail = true;
  const trace: ProbeTraceEntry[] = [];
  const stale = await runner.observe(probe, 'db', { maxAgeMs: 0 }, trace);
  assert.deepEqual(stale.value, { ports: 3 });
  assert.equal(stale.stale, true);
  assert.equal(stale.observedAt, good.observedAt);
  assert.equal(stale.error?.kind, 'timeout');
  assert.equal(trace[0]?.source, 'stale');
  assert.equal(store.lastFailure('ovs', 'db')?.kind, 'timeout');
  // A probe with no good observation fails outright, naming the probe and why.
  await assert.rejects(runner.observe(probe, 'other-db'), (err: unknown) => err instanceof ProbeFailedError && err.kind === 'timeout' && /ovs-vsctl/.test(err.message));
});

test('a vanished object is not served from old observations', async () => {
  const runner = new ProbeRunner(new ObservationStore(':memory:'), () => {});
  let gone = false;
  const probe: ProbeDefinition<unknown> = {
    name: 'ip',
    ttlMs: 0,
    run: async () => {
      if (gone) throw new DiscoveryError('gone', ['ip', '-n', 'x'], 'namespace x does not exist');
      return { interfaces: [] };
    },
  };
  await runner.observe(probe, 'x');
  gone = true;
  await assert.rejects(runner.observe(probe, 'x'), (err: unknown) => err instanceof ProbeFailedError && err.kind === 'gone');
});

test('after a restart, observations within their TTL come from the file with nothing run', async () => {
  const dir = tmp();
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'db.sqlite');
  const probe = countingProbe(() => ({ host: 'seen' }));
  const first = new ProbeRunner(new ObservationStore(file));
  await first.observe(probe, '');
  first.store.close();
  const second = new ProbeRunner(new ObservationStore(file));
  const obs = await second.observe(probe, '');
  assert.equal(probe.runs, 1, 'the second process ran nothing');
  assert.deepEqual(obs.value, { host: 'seen' });
  second.store.close();
  rmSync(dir, { recursive: true });
});

test('history is bounded per probe and scope; the newest rows stay', () => {
  const store = new ObservationStore(':memory:');
  for (let i = 0; i < HISTORY_ROWS_KEPT + 25; i++) store.record('stats', '/sock', i, { uptime: i });
  store.record('stats', '/other', 1, { uptime: 0 });
  const rows = store.history('stats', '/sock', 10_000);
  assert.equal(rows.length, HISTORY_ROWS_KEPT);
  assert.deepEqual(rows[0]!.payload, { uptime: HISTORY_ROWS_KEPT + 24 });
  assert.equal(store.history('stats', '/other').length, 1, 'other scopes untouched');
});

test('subject summaries: a new row only on change, and a subject a look did not see becomes null', () => {
  const store = new ObservationStore(':memory:');
  store.recordSubjects('haproxy-by-config', 1000, new Map([['/a/conf', [{ pid: 1 }]], ['/b/conf', [{ pid: 2 }]]]));
  store.recordSubjects('haproxy-by-config', 2000, new Map([['/a/conf', [{ pid: 1 }]], ['/b/conf', [{ pid: 2 }]]]));
  store.recordSubjects('haproxy-by-config', 3000, new Map([['/a/conf', [{ pid: 1 }]]]));
  store.recordSubjects('haproxy-by-config', 4000, new Map([['/a/conf', [{ pid: 1 }]]]));
  assert.deepEqual(store.history('haproxy-by-config', '/a/conf').map((h) => [h.firstSeen, h.lastSeen]), [[1000, 4000]]);
  assert.deepEqual(store.history('haproxy-by-config', '/b/conf').map((h) => [h.firstSeen, h.lastSeen, h.payload]), [[3000, 3000, null], [1000, 2000, [{ pid: 2 }]]],
    'the later look without /b/conf does not touch its null row again');
});
