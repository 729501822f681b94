// Hosts of two versions push side by side: an older host's push (format 1, a recorded payload
// replayed through the real push code) and the current one (format 2, with scrapeUrl) into a
// fleet database at schema 1 and then, migrated while they push, at schema 2.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { startThrowawayPostgres } from '../src/fleet/throwaway.ts';
import type { ThrowawayPostgres } from '../src/fleet/throwaway.ts';
import { migrateFleet, FLEET_SCHEMA_VERSION } from '../src/fleet/migrate.ts';
import { createFleetApp, httpSdTargets } from '../src/fleet/serve.ts';
import { loadConfig } from '../src/config.ts';
import { addRoles, fleetGql, inProcessHost, writeV1Pool } from './fleet-support.ts';
import { FleetPusher, PUSHED_PROBES } from '../src/fleet/push.ts';
import type { TestHost } from './fleet-support.ts';

const RECORDED = JSON.parse(readFileSync(new URL('./fixtures/fleet-push-format1.json', import.meta.url), 'utf8')) as { host: string; format: number; pools: Array<{ id: string }> };

let db: ThrowawayPostgres;
let oldHost: TestHost, newHost: TestHost;

before(async () => {
  db = await startThrowawayPostgres();
  await migrateFleet(db.url(), { upTo: 1 });
  await addRoles(db.url(), ['old-host', 'new-host', 'fold-host'], ['reader']);
  oldHost = inProcessHost('old-host', db.url('old-host'));
  newHost = inProcessHost('new-host', db.url('new-host'));
  writeV1Pool(newHost.lbaasDir);
});

after(async () => {
  for (const h of [oldHost, newHost]) {
    await h?.pusher.stop();
    h?.app.close();
  }
  await db?.destroy();
});

/** What an older build's outbox holds: the recorded payload, queued as it would queue it. */
function queueRecorded(host: TestHost, observedAt: number): void {
  const { _fixture, ...payload } = RECORDED as Record<string, unknown>;
  void _fixture;
  host.app.store.db.prepare('INSERT INTO fleet_outbox (created_at, payload) VALUES (?, ?)').run(observedAt, JSON.stringify({ ...payload, observedAt }));
}

async function hostRows(): Promise<Record<string, unknown>[]> {
  const c = new pg.Client(db.url());
  await c.connect();
  try {
    return (await c.query('SELECT * FROM lbtopo.host ORDER BY name')).rows;
  } finally {
    await c.end();
  }
}

test('the fleet service refuses a database older than it reads, naming the fix', async () => {
  assert.equal(FLEET_SCHEMA_VERSION, 2);
  await assert.rejects(createFleetApp(loadConfig({ LBTOPO_FLEET_DB: db.url('reader') }), { log: () => {} }), /schema version 1, this build reads version 2: run lbtopo fleet migrate/);
});

test('a format-1 host and a format-2 host both push into schema 1', async () => {
  assert.equal(RECORDED.format, 1);
  assert.equal(RECORDED.host, 'old-host');
  queueRecorded(oldHost, Date.now());
  assert.deepEqual(await oldHost.pusher.flush({ heartbeat: false }), { pushed: 1, duplicates: 0 });
  await newHost.pusher.collect();
  assert.deepEqual(await newHost.pusher.flush({ heartbeat: false }), { pushed: 1, duplicates: 0 }, 'the extra scrapeUrl is ignored by schema 1');
  const rows = await hostRows();
  assert.deepEqual(rows.map((r) => [r.name, r.last_seq]), [['new-host', '1'], ['old-host', '1']]);
  assert.ok(!('scrape_url' in rows[0]!), 'schema 1 has no scrape_url');
});

test('migrating to schema 2 while they push: both keep pushing, each as its format allows', async () => {
  assert.deepEqual(await migrateFleet(db.url()), ['0002_scrape_url.sql']);
  queueRecorded(oldHost, Date.now());
  assert.deepEqual(await oldHost.pusher.flush({ heartbeat: false }), { pushed: 1, duplicates: 0 });
  writeV1Pool(newHost.lbaasDir);
  assert.equal(await newHost.pusher.collect(), true);
  assert.deepEqual(await newHost.pusher.flush({ heartbeat: false }), { pushed: 1, duplicates: 0 });
  const rows = await hostRows();
  assert.deepEqual(rows.map((r) => [r.name, r.last_seq, r.scrape_url]), [['new-host', '2', 'http://127.0.0.1:9/new-host/metrics'], ['old-host', '2', null]]);

  const fleet = await createFleetApp(loadConfig({ LBTOPO_FLEET_DB: db.url('reader') }), { log: () => {} });
  try {
    const res = await fleetGql(fleet, '{ hosts { name version } pools { id host { name } } }');
    assert.deepEqual(res.data.hosts.map((h: any) => h.name), ['new-host', 'old-host']);
    const oldPools = res.data.pools.filter((p: any) => p.host.name === 'old-host').map((p: any) => p.id).sort();
    assert.deepEqual(oldPools, RECORDED.pools.map((p) => p.id).sort());
    assert.equal(res.data.pools.filter((p: any) => p.host.name === 'new-host').length, 2);
    assert.deepEqual(httpSdTargets(fleet.cache).map((g) => g.labels.lbtopo_host), ['new-host'], 'only the host that says where to scrape it');
  } finally {
    await fleet.stop();
  }
});

test('a recreated SQLite outbox (new outbox id) restarts the sequence instead of being taken for replays', async () => {
  const c = new pg.Client(db.url());
  await c.connect();
  try {
    const before = (await c.query("SELECT last_seq FROM lbtopo.host WHERE name = 'new-host'")).rows[0].last_seq;
    assert.equal(before, '2');
    const fresh = inProcessHost('new-host', db.url('new-host'));
    writeV1Pool(fresh.lbaasDir);
    await fresh.pusher.collect();
    assert.deepEqual(await fresh.pusher.flush({ heartbeat: false }), { pushed: 1, duplicates: 0 });
    const after = (await c.query("SELECT last_seq, (SELECT count(*) FROM lbtopo.pool_fact WHERE host = 'new-host') AS pools FROM lbtopo.host WHERE name = 'new-host'")).rows[0];
    assert.deepEqual(after, { last_seq: '1', pools: '1' });
    await fresh.pusher.stop();
    fresh.app.close();
  } finally {
    await c.end();
  }
});

test('a long outage folds changes into the newest waiting entry, and the replay still loses nothing', async () => {
  // Collected while the database is unreachable (nothing listens on port 1), at most 2 entries kept.
  const host = inProcessHost('fold-host', 'postgresql://fold-host@127.0.0.1:1/postgres');
  const offline = new FleetPusher({ config: host.app.config, store: host.app.store, runner: host.app.runner, newSession: host.app.newSession, log: () => {}, maxOutboxEntries: 2 });
  const ids: string[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      ids.push(writeV1Pool(host.lbaasDir).poolId);
      assert.equal(await offline.collect(), true);
      await offline.flush({ heartbeat: false });
    }
    assert.equal(offline.status().pending, 2, 'four changes, two entries');
    assert.ok(offline.status().consecutiveFailures > 0);
    await offline.stop();
    const online = new FleetPusher({ config: { ...host.app.config, fleetDb: db.url('fold-host') }, store: host.app.store, runner: host.app.runner, newSession: host.app.newSession, log: () => {} });
    assert.deepEqual(await online.flush({ heartbeat: false }), { pushed: 2, duplicates: 0 });
    await online.stop();
    const c = new pg.Client(db.url());
    await c.connect();
    try {
      const pools = (await c.query("SELECT pool_id FROM lbtopo.pool_fact WHERE host = 'fold-host' ORDER BY pool_id")).rows.map((r) => r.pool_id);
      assert.deepEqual(pools, [...ids].sort());
      const remote = (await c.query("SELECT probe, scope, (extract(epoch FROM first_seen) * 1000)::bigint AS f, hash FROM lbtopo.observation WHERE host = 'fold-host'")).rows.map((r) => `${r.probe}|${r.scope}|${r.f}|${r.hash}`).sort();
      const local = (host.app.store.db.prepare(`SELECT probe, scope, first_seen, hash FROM observation WHERE probe IN (${PUSHED_PROBES.map(() => '?').join(',')})`).all(...PUSHED_PROBES) as Array<{ probe: string; scope: string; first_seen: number; hash: string }>).map((r) => `${r.probe}|${r.scope}|${r.first_seen}|${r.hash}`).sort();
      assert.deepEqual(remote, local, 'every observation row of the outage, once');
      assert.ok(local.filter((r) => r.startsWith('lbaas|')).length >= 4);
    } finally {
      await c.end();
    }
  } finally {
    host.app.close();
  }
});

test('a fleet database that accepts connections but never answers does not hold up the host: its answers come while the push waits', async () => {
  // A loopback listener that takes the TCP connection and says nothing (a hung server, a black-holed pgbouncer).
  const { createServer } = await import('node:net');
  const sockets: import('node:net').Socket[] = [];
  const silent = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  const host = inProcessHost('hung-host', `postgresql://hung-host@127.0.0.1:${port}/postgres`, { LBTOPO_FLEET_INTERVAL: '2s' });
  try {
    writeV1Pool(host.lbaasDir);
    let pushDone = false;
    const push = host.pusher.cycle().then(() => (pushDone = true));
    await new Promise((r) => setTimeout(r, 300));
    const answer = await fetchPools(host);
    assert.equal(answer.length, 1);
    assert.equal(pushDone, false, 'the host answered while its push was still waiting');
    await push;
    const status = host.pusher.status();
    assert.equal(status.pending, 1, 'the change waits in the outbox');
    assert.match(status.lastError ?? '', /timeout/i);
  } finally {
    await host.pusher.stop();
    host.app.close();
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

async function fetchPools(host: TestHost): Promise<unknown[]> {
  const r = await host.app.yoga.fetch('http://lbtopo.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ pools(maxAge: 0) { id } problems { code } }' }) });
  return ((await r.json()) as { data: { pools: unknown[] } }).data.pools;
}
