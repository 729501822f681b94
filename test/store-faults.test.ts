// Our own storage failing (issue 8 items 13-15), on real files: a small tmpfs filled to the last
// byte, a cache file of garbage and one with a corrupted page, and the failure log's bound.
// The API is a real app over crafted state dirs (the lbaas probe reads files only), so no lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { loadConfig } from '../src/config.ts';
import { createApp } from '../src/server.ts';
import type { App } from '../src/server.ts';
import { ObservationStore, HISTORY_ROWS_KEPT } from '../src/cache/store.ts';
import { gql } from './support.ts';

function stateDirWithPools(count: number, membersEach = 2): string {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-store-faults-'));
  for (let i = 0; i < count; i++) addPool(dir, i, membersEach);
  return dir;
}

function poolId(i: number): string {
  return `aaaaaaaa-0000-4000-8000-${String(i).padStart(12, '0')}`;
}

function addPool(dir: string, i: number, members: number): void {
  const id = poolId(i);
  mkdirSync(join(dir, id), { recursive: true });
  const servers = Array.from({ length: members }, (_, m) => `  server ${id.slice(0, 8)}-m${m} 10.${(m >> 16) & 255}.${(m >> 8) & 255}.${m & 255}:80 weight 1 check inter 5s`).join('\n');
  writeFileSync(join(dir, id, 'conf'), `global\n  daemon\nfrontend vip-${i}\n  bind 10.200.0.${i + 1}:80\n  default_backend ${id}\nbackend ${id}\n  balance roundrobin\n${servers}\n`);
}

function appOn(lbaasDir: string, db: string, log: string[] = [], writerThread = false): App {
  const empty = mkdtempSync(join(tmpdir(), 'lbtopo-none-')); // an empty octavia dir and netns dir
  return createApp(loadConfig({ LBTOPO_DB: db, LBTOPO_LBAAS_DIR: lbaasDir, LBTOPO_OCTAVIA_DIR: empty, LBTOPO_NETNS_DIR: empty }), { log: (m) => log.push(m), writerThread });
}

/** Each store test runs twice: written on the main thread (the CLI) and in the writer thread (serve). */
const WRITERS = [['main thread', false], ['writer thread', true]] as const;

async function ready(app: App): Promise<{ status: number; body: string }> {
  const res = await app.yoga.fetch('http://lbtopo.test/ready');
  return { status: res.status, body: await res.text() };
}

const POOL_IDS = '{ pools(maxAge: 0) { id } }';

for (const [writer, writerThread] of WRITERS) {
  test(`disk full (${writer}): what was seen is served, the store failure is reported on its own, and writes resume when space returns (item 13)`, async () => {
    const mount = mkdtempSync(join(tmpdir(), 'lbtopo-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mount]);
    const log: string[] = [];
    let app: App | undefined;
    try {
      const lbaas = stateDirWithPools(3);
      app = appOn(lbaas, join(mount, 'topology.sqlite'), log, writerThread);
      assert.equal((await gql(app, POOL_IDS)).data.pools.length, 3);
      // Fill the filesystem to the last byte.
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${join(mount, 'fill')}`, 'bs=4k'], { stdio: 'ignore' });
      } catch {
        // dd exits 1 on ENOSPC: that is the point.
      }
      // A new pool with a large config: its look cannot be written, and must be served anyway.
      addPool(lbaas, 3, 4000);
      const res = await gql(app, POOL_IDS);
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      assert.deepEqual(res.data.pools.map((p: { id: string }) => p.id), [0, 1, 2, 3].map(poolId), 'every pool answered, the new one included');
      const store = (res.extensions as Record<string, any>).store;
      assert.match(store.writeFailure.message, /full/i, JSON.stringify(store));
      assert.equal(store.file, join(mount, 'topology.sqlite'));
      assert.equal(res.extensions?.probeFailures, undefined, 'no probe is reported failed: the probe worked, the store did not');
      const r = await ready(app);
      assert.equal(r.status, 200);
      assert.match(r.body, /cannot be written/);
      assert.ok(log.some((m) => /cannot be written/.test(m)), 'said in the log');
      // Space returns: the next look is written and the failure is gone.
      rmSync(join(mount, 'fill'));
      const after = await gql(app, POOL_IDS);
      assert.equal(after.data.pools.length, 4);
      assert.equal((after.extensions as Record<string, unknown>).store, undefined);
      assert.ok(log.some((m) => /can be written again/.test(m)));
      assert.equal((app.store.latest('lbaas', '')!.payload as unknown[]).length, 4, 'the look is in the file now');
    } finally {
      app?.close();
      execFileSync('umount', [mount]);
    }
  });

  test(`a cache file of garbage (${writer}) is set aside with the time, a new one is started, and the server answers (item 14)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lbtopo-corrupt-'));
    const db = join(dir, 'topology.sqlite');
    writeFileSync(db, 'this is not a database, it is a text file that someone wrote here by mistake\n'.repeat(100));
    const log: string[] = [];
    const app = appOn(stateDirWithPools(2), db, log, writerThread);
    try {
      const res = await gql(app, POOL_IDS);
      assert.equal(res.errors, undefined);
      assert.equal(res.data.pools.length, 2);
      const aside = readdirSync(dir).filter((f) => /^topology\.sqlite\.corrupt-\d{4}-\d\d-\d\dT/.test(f));
      assert.equal(aside.length, 1, readdirSync(dir).join(' '));
      assert.match(readFileSync(join(dir, aside[0]!), 'utf8'), /not a database/, 'the old file is kept, renamed');
      const r = await ready(app);
      assert.equal(r.status, 200);
      assert.ok(r.body.includes(db) && r.body.includes(aside[0]!), r.body);
      assert.ok(log.some((m) => m.includes(db) && /corrupt/.test(m)));
      assert.match(JSON.stringify(res.extensions), /set aside/);
    } finally {
      app.close();
    }
  });

}

test('a cache file with a corrupted page is found at open and replaced (item 14)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-corrupt-page-'));
  const file = join(dir, 'topology.sqlite');
  const store = new ObservationStore(file, { log: () => {} });
  for (let i = 0; i < 200; i++) store.record('ip', `ns-${i}`, 1000 + i, { interfaces: 'x'.repeat(500), i });
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.close();
  // Overwrite pages in the middle of the file (the header stays valid, so it opens).
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(4096 * 4, 0xa5), 0, 4096 * 4, 4096 * 3);
  closeSync(fd);
  const log: string[] = [];
  const again = new ObservationStore(file, { log: (m) => log.push(m) });
  try {
    assert.equal(again.health().setAside.length, 1);
    assert.ok(existsSync(again.health().setAside[0]!.movedTo));
    assert.equal(again.latest('ip', 'ns-1'), null, 'a new, empty file');
    again.record('ip', 'ns-1', 5000, { ok: true });
    assert.deepEqual(again.latest('ip', 'ns-1')?.payload, { ok: true });
    assert.match(log.join('\n'), /corrupt/);
  } finally {
    again.close();
  }
});

test('probe_failure is pruned like history (item 15)', () => {
  const store = new ObservationStore(':memory:');
  for (let i = 0; i < HISTORY_ROWS_KEPT + 150; i++) store.recordFailure('ip', 'ns', i, 'timeout', `look ${i}`);
  store.recordFailure('ip', 'other', 1, 'exit', 'once');
  const count = (scope: string) => (store.db.prepare('SELECT count(*) AS n FROM probe_failure WHERE scope = ?').get(scope) as { n: number }).n;
  assert.equal(count('ns'), HISTORY_ROWS_KEPT);
  assert.equal(count('other'), 1);
  assert.equal(store.lastFailure('ip', 'ns')?.message, `look ${HISTORY_ROWS_KEPT + 149}`, 'the newest are kept');
  store.close();
  void Database;
});
