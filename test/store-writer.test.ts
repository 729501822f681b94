// The store's writer thread (src/cache/store-writer.ts, store-writer-thread.ts): a server writes
// the cache file off its main loop. What it writes must be exactly what the main-thread writer
// writes, a look is served from memory until the file holds it, another process's writes are
// still seen, and a thread that dies loses nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ObservationStore, HISTORY_ROWS_KEPT } from '../src/cache/store.ts';
import { fromKnownJson, jsonWithFields, knownJsonOf, toKnownJson, withKnownJson } from '../src/host/known-json.ts';

const fileIn = () => join(mkdtempSync(join(tmpdir(), 'lbtopo-writer-')), 'db.sqlite');

/** A day of a small host in looks: payloads that change and stay, subjects that come and go, failures. */
function replayDay(store: ObservationStore): void {
  for (let round = 0; round < HISTORY_ROWS_KEPT + 30; round++) {
    const at = 1_000 + round * 10;
    // More looks in one batch than a write slice holds.
    for (let ns = 0; ns < 300; ns++) store.record('ip', `ns-${ns}`, at, { links: ns, counters: ns % 7 === 0 ? round : 0 });
    store.record('ovs', 'unix:/db.sock', at, { tag: Math.floor(round / 50) });
    const live = new Map<string, unknown>([['/a/conf', [{ pid: 1 }]]]);
    if (round % 40 < 20) live.set('/b/conf', [{ pid: 100 + Math.floor(round / 40) }]);
    store.recordSubjects('haproxy-by-config', at, live);
    if (round % 9 === 0) store.recordFailure('stats', '/sock', at, 'timeout', `look ${round}`);
    if (round % 25 === 0) store.flushSome();
  }
  store.flush();
}

function rowsOf(file: string): { observations: unknown[]; failures: unknown[] } {
  const db = new Database(file, { readonly: true });
  try {
    return {
      observations: db.prepare('SELECT probe, scope, first_seen, last_seen, hash, payload FROM observation ORDER BY probe, scope, id').all(),
      failures: db.prepare('SELECT probe, scope, failed_at, kind, message FROM probe_failure ORDER BY probe, scope, id').all(),
    };
  } finally {
    db.close();
  }
}

test('the writer thread writes exactly the rows the main-thread writer writes', () => {
  const inline = fileIn();
  const threaded = fileIn();
  const a = new ObservationStore(inline);
  replayDay(a);
  a.close();
  const b = new ObservationStore(threaded, { writerThread: true });
  replayDay(b);
  assert.deepEqual(b.history('ovs', 'unix:/db.sock').map((h) => h.payload), [{ tag: 4 }, { tag: 3 }, { tag: 2 }, { tag: 1 }, { tag: 0 }]);
  b.close();
  const want = rowsOf(inline);
  const got = rowsOf(threaded);
  assert.ok(want.observations.length > 1000, `a real amount of history (${want.observations.length} rows)`);
  assert.equal(got.observations.length, want.observations.length);
  assert.deepEqual(got, want);
});

test('with a writer thread, a look is served at once, the file holds it once settled, and another connection wrote it', async () => {
  const file = fileIn();
  const store = new ObservationStore(file, { writerThread: true });
  try {
    const version = () => store.db.pragma('data_version', { simple: true }) as number;
    const before = version();
    const payload = withKnownJson({ interfaces: ['tap1'] }, JSON.stringify({ interfaces: ['tap1'] }));
    store.record('ip', 'ns-1', 5000, payload);
    assert.deepEqual(store.latest('ip', 'ns-1')?.payload, { interfaces: ['tap1'] }, 'served before it is written');
    await store.settled();
    assert.notEqual(version(), before, 'the file was written by another connection: the thread');
    const row = store.db.prepare("SELECT payload, first_seen, last_seen FROM observation WHERE probe = 'ip' AND scope = 'ns-1'").get();
    assert.deepEqual(row, { payload: '{"interfaces":["tap1"]}', first_seen: 5000, last_seen: 5000 });
    store.record('ip', 'ns-1', 6000, { interfaces: ['tap1'] });
    await store.settled();
    assert.deepEqual(store.latest('ip', 'ns-1'), { probe: 'ip', scope: 'ns-1', firstSeen: 5000, lastSeen: 6000, payload: { interfaces: ['tap1'] } });
    assert.equal((store.db.prepare('SELECT count(*) AS n FROM observation').get() as { n: number }).n, 1, 'the same payload again moved last_seen');
  } finally {
    store.close();
  }
});

test('with a writer thread, what another process writes to the file is seen within a poll', async () => {
  const file = fileIn();
  const store = new ObservationStore(file, { writerThread: true });
  try {
    store.record('proc', '', 1000, { n: 1 });
    await store.settled();
    assert.deepEqual(store.latest('proc', '')?.payload, { n: 1 });
    // A CLI check on the same file, a newer look.
    const other = new ObservationStore(file);
    other.record('proc', '', 2000, { n: 2 });
    other.close();
    const t0 = Date.now();
    while (Date.now() - t0 < 2000 && (store.latest('proc', '')?.payload as { n: number }).n !== 2) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(store.latest('proc', '')?.payload, { n: 2 });
    assert.ok(Date.now() - t0 < 1000, `seen after ${Date.now() - t0} ms`);
  } finally {
    store.close();
  }
});

test('a writer thread that dies loses nothing: what it had not answered for is written from the main thread, and said', async () => {
  const file = fileIn();
  const log: string[] = [];
  const store = new ObservationStore(file, { writerThread: true, log: (m) => log.push(m) });
  try {
    for (let i = 0; i < 500; i++) store.record('stats', `/sock-${i}`, 1000, { up: i });
    store.flushSome();
    // The thread is killed with its work in flight (as a crash of it would end it).
    (store as unknown as { thread: { terminate(): void; worker: { terminate(): Promise<number> } } }).thread.worker.terminate();
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 500; i < 600; i++) store.record('stats', `/sock-${i}`, 2000, { up: i });
    await store.settled();
    assert.ok(log.some((m) => /writer thread exited/.test(m) && /main thread/.test(m)), log.join('\n'));
    const n = (store.db.prepare("SELECT count(DISTINCT scope) AS n FROM observation WHERE probe = 'stats'").get() as { n: number }).n;
    assert.equal(n, 600, 'every look is in the file');
    assert.equal(store.health().writeFailure, null);
  } finally {
    store.close();
  }
});

test('a value that crossed from a worker as JSON is recorded with that JSON, byte for byte', () => {
  const fields = { inode: 4026532000, readBy: { reader: 'netlink' } };
  for (const value of [{}, { interfaces: [{ name: 'tap1', mtu: 1500, addresses: [] }], routes: [] }, { a: null, 'we"ird': 'x\u2028y' }]) {
    const json = JSON.stringify(value);
    assert.equal(jsonWithFields(json, fields), JSON.stringify({ ...value, ...fields }));
    assert.equal(jsonWithFields(json, {}), json);
  }
  const sent = toKnownJson({ pid: 1, cmdline: ['haproxy', '-f', '/x'], gone: undefined });
  const value = fromKnownJson<Record<string, unknown>>(sent);
  assert.deepEqual(value, { pid: 1, cmdline: ['haproxy', '-f', '/x'] });
  assert.equal(knownJsonOf(value)?.json, sent.json);
  const store = new ObservationStore(':memory:');
  store.record('proc', '', 1000, value);
  store.flush();
  const row = store.db.prepare("SELECT payload, hash FROM observation WHERE probe = 'proc'").get();
  assert.deepEqual(row, { payload: sent.json, hash: sent.hash });
  store.close();
});

test('settled() waits for what was sent before it, not for a stream of writes that never pauses', async () => {
  const store = new ObservationStore(fileIn(), { writerThread: true });
  let i = 0;
  // More than the thread writes in the time: something is always in flight.
  const filler = 'x'.repeat(2000);
  const stream = setInterval(() => {
    for (let k = 0; k < 50; k++) store.record('stats', `/sock-${i % 500}`, 1000 + i++, { up: i, filler });
    store.flushSome();
  }, 1);
  try {
    await new Promise((r) => setTimeout(r, 50));
    store.record('ip', 'ns-mine', 5000, { mine: true });
    const settled = await Promise.race([Promise.resolve(store.settled()).then(() => true), new Promise((r) => setTimeout(() => r(false), 3000))]);
    assert.equal(settled, true, 'settled while the stream went on');
    assert.ok((store as unknown as { sentOps: Map<number, unknown> }).sentOps.size > 0, 'writes were still in flight when it settled');
    const row = store.db.prepare("SELECT payload FROM observation WHERE probe = 'ip' AND scope = 'ns-mine'").get();
    assert.deepEqual(row, { payload: '{"mine":true}' }, 'what it waited for is in the file');
  } finally {
    clearInterval(stream);
    store.close();
  }
});
