// The fleet against a throwaway PostgreSQL: three hosts (two in-process apps, one real
// `lbtopo serve` process; real state dirs, one real haproxy) push through the real push code;
// `lbtopo fleet`'s API answers for all of them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import pg from 'pg';
import { startThrowawayPostgres } from '../src/fleet/throwaway.ts';
import type { ThrowawayPostgres } from '../src/fleet/throwaway.ts';
import { migrateFleet } from '../src/fleet/migrate.ts';
import { createFleetApp } from '../src/fleet/serve.ts';
import type { FleetApp } from '../src/fleet/serve.ts';
import { loadConfig } from '../src/config.ts';
import { PUSHED_PROBES } from '../src/fleet/push.ts';
import { addRoles, eventually, fleetGql, hostDirs, hostEnv, hostGql, inProcessHost, writeOctaviaLb, writeV1Pool } from './fleet-support.ts';
import type { TestHost } from './fleet-support.ts';

const run = promisify(execFile);

let db: ThrowawayPostgres;
let hostA: TestHost, hostB: TestHost;
let hostC: { proc: ChildProcess; url: string; name: string; octaviaPool: string; stopped: boolean; dir: string };
let fleet: FleetApp;
let fleetServer: Server;
let fleetUrl: string;
let haproxyPid: number | null = null;
let runningPool: string;
const poolsOf: Record<string, string[]> = {};

before(async () => {
  db = await startThrowawayPostgres();
  await migrateFleet(db.url());
  await addRoles(db.url(), ['host-a', 'host-b', 'host-c'], ['fleet-reader']);

  hostA = inProcessHost('host-a', db.url('host-a'));
  poolsOf['host-a'] = [writeV1Pool(hostA.lbaasDir).poolId, writeV1Pool(hostA.lbaasDir).poolId, writeV1Pool(hostA.lbaasDir).poolId];

  hostB = inProcessHost('host-b', db.url('host-b'));
  const stopped = writeV1Pool(hostB.lbaasDir);
  // A real haproxy on one of host-b's pools (in the root namespace, on loopback): RUNNING, not MISSING.
  const port = await freePort();
  const live = writeV1Pool(hostB.lbaasDir, { vip: '127.0.0.1', port });
  runningPool = live.poolId;
  await run('haproxy', ['-f', live.configPath, '-p', live.pidPath]);
  haproxyPid = Number(readFileSync(live.pidPath, 'utf8').trim());
  poolsOf['host-b'] = [stopped.poolId, live.poolId];

  // host-c: a real `lbtopo serve` process on an Octavia amphora's state dir.
  const dirs = hostDirs();
  const octavia = writeOctaviaLb(dirs.octaviaDir);
  poolsOf['host-c'] = [octavia.poolId];
  const proc = spawn(process.execPath, ['src/main.ts', 'serve'], { env: { ...process.env, ...hostEnv('host-c', db.url('host-c'), dirs) }, stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving (http:\/\/[^\s]+)\/graphql/.exec(err);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`lbtopo serve exited ${code}: ${err}`)));
  });
  hostC = { proc, url, name: 'host-c', octaviaPool: octavia.poolId, stopped: false, dir: dirs.dir };

  fleet = await createFleetApp(loadConfig({ LBTOPO_FLEET_DB: db.url('fleet-reader'), LBTOPO_LISTEN: '127.0.0.1:0' }), { log: () => {} });
  fleetServer = createServer(fleet.yoga);
  await new Promise<void>((r) => fleetServer.listen(0, '127.0.0.1', r));
  fleetUrl = `http://127.0.0.1:${(fleetServer.address() as AddressInfo).port}`;

  hostA.pusher.start();
  hostB.pusher.start();
  await eventually('every host in the fleet', async () => (await fleetGql(fleet, '{ pools { id } }')).data?.pools.length === 6);
});

after(async () => {
  if (hostC && !hostC.stopped) hostC.proc.kill('SIGTERM');
  if (haproxyPid) {
    try {
      process.kill(haproxyPid, 'SIGTERM');
    } catch {}
  }
  await hostA?.pusher.stop();
  await hostB?.pusher.stop();
  hostA?.app.close();
  hostB?.app.close();
  fleetServer?.close();
  await fleet?.stop();
  await db?.destroy();
  for (const dir of [hostA?.dir, hostB?.dir, hostC?.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function hostCGql(query: string): Promise<any> {
  const r = await fetch(`${hostC.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return r.json();
}

test('each host says who it is: name from LBTOPO_HOST, kind from what it holds, host on pools and problems', async () => {
  const q = '{ host { name kind version startedAt } pools { id host { name } } problems { code host { name } } }';
  const a = await hostGql(hostA.app, q);
  assert.equal(a.data.host.name, 'host-a');
  assert.equal(a.data.host.kind, 'NETWORK_NODE');
  assert.ok(a.data.pools.every((p: any) => p.host.name === 'host-a'));
  assert.ok(a.data.problems.length > 0 && a.data.problems.every((p: any) => p.host.name === 'host-a'));
  const c = await hostCGql(q);
  assert.equal(c.data.host.name, 'host-c');
  assert.equal(c.data.host.kind, 'AMPHORA', 'an Octavia load balancer in the base path makes an amphora');
});

test('the fleet attributes every pool to the host that holds it, and lists the hosts with their kinds', async () => {
  const res = await fleetGql(fleet, '{ hosts { name kind stale lastPush } pools { id host { name } observedAt stale } }');
  assert.equal(res.errors, undefined);
  assert.deepEqual(res.data.hosts.map((h: any) => [h.name, h.kind, h.stale]), [['host-a', 'NETWORK_NODE', false], ['host-b', 'NETWORK_NODE', false], ['host-c', 'AMPHORA', false]]);
  const byHost: Record<string, string[]> = {};
  for (const p of res.data.pools) (byHost[p.host.name] ??= []).push(p.id);
  for (const [host, ids] of Object.entries(poolsOf)) assert.deepEqual(byHost[host]?.sort(), [...ids].sort(), host);
  const one = await fleetGql(fleet, 'query($id: String!) { pool(id: $id) { id host { name } haproxyPresence membersTotal vip { address } } }', { id: runningPool });
  assert.deepEqual(one.data.pool, { id: runningPool, host: { name: 'host-b' }, haproxyPresence: 'RUNNING', membersTotal: 2, vip: { address: '127.0.0.1' } });
});

test("the fleet's MISSING list is the union of the hosts' own lists", async () => {
  const q = '{ pools(where: { haproxy: MISSING }) { id } }';
  const expected = [
    ...(await hostGql(hostA.app, q)).data.pools.map((p: any) => `host-a/${p.id}`),
    ...(await hostGql(hostB.app, q)).data.pools.map((p: any) => `host-b/${p.id}`),
    ...(await hostCGql(q)).data.pools.map((p: any) => `host-c/${p.id}`),
  ].sort();
  assert.equal(expected.length, 5, 'every pool but the one with a live haproxy');
  const fleetList = (await fleetGql(fleet, '{ pools(where: { haproxy: MISSING }) { id host { name } } }')).data.pools.map((p: any) => `${p.host.name}/${p.id}`).sort();
  assert.deepEqual(fleetList, expected);
  const onB = (await fleetGql(fleet, '{ pools(where: { haproxy: MISSING, host: "host-b" }) { id } }')).data.pools.map((p: any) => p.id);
  assert.deepEqual(onB, poolsOf['host-b']!.filter((id) => id !== runningPool));
});

test('problems carry their host; filters by host, code and severity', async () => {
  const all = (await fleetGql(fleet, '{ problems { code severity host { name } poolId } }')).data.problems;
  const hostProblems = (await hostGql(hostB.app, '{ problems { code poolId } }')).data.problems;
  const fleetB = all.filter((p: any) => p.host.name === 'host-b').map((p: any) => `${p.code}/${p.poolId}`).sort();
  assert.deepEqual(fleetB, hostProblems.map((p: any) => `${p.code}/${p.poolId}`).sort());
  const crit = (await fleetGql(fleet, '{ problems(severity: CRITICAL, host: "host-a") { severity host { name } } }')).data.problems;
  assert.ok(crit.length > 0 && crit.every((p: any) => p.severity === 'CRITICAL' && p.host.name === 'host-a'));
  const withCode = (await fleetGql(fleet, '{ pools(where: { problem: HAPROXY_MISSING }) { id } }')).data.pools.map((p: any) => p.id);
  assert.ok(!withCode.includes(runningPool) && withCode.length === 5);
  const bad = await fleetGql(fleet, '{ problems(host: "no such host!") { code } }');
  assert.match(bad.errors?.[0]?.message ?? '', /not a host name/);
});

test('row-level security: a host cannot write another host\'s rows, the reader cannot write at all', async () => {
  const a = new pg.Client(db.url('host-a'));
  const reader = new pg.Client(db.url('fleet-reader'));
  await a.connect();
  await reader.connect();
  try {
    const before = (await reader.query("SELECT pool_id, haproxy FROM lbtopo.pool_fact WHERE host = 'host-b' ORDER BY pool_id")).rows;
    await assert.rejects(
      a.query("INSERT INTO lbtopo.pool_fact (host, pool_id, layout, namespace, haproxy, members_total, observed_at) VALUES ('host-b', 'forged', 'v1', 'qlbaas-x', 'RUNNING', 0, now())"),
      /new row violates row-level security policy/,
    );
    const update = await a.query("UPDATE lbtopo.pool_fact SET haproxy = 'RUNNING' WHERE host = 'host-b'");
    assert.equal(update.rowCount, 0, "host-b's rows are invisible to host-a");
    await assert.rejects(a.query('SELECT lbtopo.push($1)', [{ host: 'host-b', seq: 999999, pools: [] }]), /came from role "host-a"/);
    await assert.rejects(reader.query("DELETE FROM lbtopo.pool_fact WHERE host = 'host-b'"), /permission denied/);
    await assert.rejects(reader.query('SELECT lbtopo.push($1)', [{ host: 'fleet-reader' }]), /permission denied/);
    const after = (await reader.query("SELECT pool_id, haproxy FROM lbtopo.pool_fact WHERE host = 'host-b' ORDER BY pool_id")).rows;
    assert.deepEqual(after, before, 'nothing changed');
  } finally {
    await a.end();
    await reader.end();
  }
});

test('after pg_ctl stop and start the host replays its outbox in order: nothing lost, nothing doubled; its own answers never waited', async () => {
  const removed = poolsOf['host-a']![0]!;
  await db.stop();
  try {
    // Two changes during the outage, each noticed by a look and queued.
    const added = writeV1Pool(hostA.lbaasDir).poolId;
    await eventually('the first change queued', async () => hostA.pusher.status().pending >= 1 && hostA.pusher.status().consecutiveFailures > 0);
    rmSync(`${hostA.lbaasDir}/${removed}`, { recursive: true });
    const pendingBefore = hostA.pusher.status().pending;
    await eventually('the second change queued', async () => hostA.pusher.status().pending > pendingBefore);
    poolsOf['host-a'] = [...poolsOf['host-a']!.filter((id) => id !== removed), added];
    // The host answers from its own cache and probes while the fleet database is down.
    const own = await hostGql(hostA.app, '{ pools { id } }');
    assert.deepEqual(own.data.pools.map((p: any) => p.id).sort(), [...poolsOf['host-a']!].sort());
  } finally {
    await db.start();
  }
  const queued = hostA.app.store.db.prepare('SELECT seq, payload FROM fleet_outbox ORDER BY seq').all() as Array<{ seq: number; payload: string }>;
  assert.ok(queued.length >= 2);
  await eventually('outbox replayed', async () => hostA.pusher.status().pending === 0 && hostA.pusher.status().consecutiveFailures === 0, 30_000);
  await eventually('the fleet shows the new state', async () => {
    const ids = (await fleetGql(fleet, '{ pools(where: { host: "host-a" }) { id } }')).data?.pools.map((p: any) => p.id).sort();
    return JSON.stringify(ids) === JSON.stringify([...poolsOf['host-a']!].sort());
  }, 30_000);

  const admin = new pg.Client(db.url());
  await admin.connect();
  try {
    const remote = async () =>
      (await admin.query("SELECT probe, scope, (extract(epoch FROM first_seen) * 1000)::bigint AS first, hash FROM lbtopo.observation WHERE host = 'host-a' ORDER BY 1, 2, 3")).rows.map(
        (r) => `${r.probe}|${r.scope}|${r.first}|${r.hash}`,
      );
    const local = (hostA.app.store.db.prepare(`SELECT probe, scope, first_seen, hash FROM observation WHERE probe IN (${PUSHED_PROBES.map(() => '?').join(',')}) ORDER BY 1, 2, 3`).all(...PUSHED_PROBES) as Array<{ probe: string; scope: string; first_seen: number; hash: string }>).map(
      (r) => `${r.probe}|${r.scope}|${r.first_seen}|${r.hash}`,
    );
    // The outbox is empty, so every local row up to now was pushed; rows since are not yet (a newer look).
    const pushedCursor = (hostA.app.store.db.prepare('SELECT observation_id FROM fleet_cursor').get() as { observation_id: number }).observation_id;
    const localPushed = (hostA.app.store.db.prepare(`SELECT probe, scope, first_seen, hash FROM observation WHERE id <= ? AND probe IN (${PUSHED_PROBES.map(() => '?').join(',')})`).all(pushedCursor, ...PUSHED_PROBES) as Array<{ probe: string; scope: string; first_seen: number; hash: string }>).map(
      (r) => `${r.probe}|${r.scope}|${r.first_seen}|${r.hash}`,
    );
    const remoteRows = await remote();
    for (const row of localPushed) assert.ok(remoteRows.includes(row), `pushed: ${row}`);
    assert.equal(new Set(remoteRows).size, remoteRows.length, 'no row twice');
    assert.ok(remoteRows.every((r) => local.includes(r)), 'nothing the host did not see');
    // Every lbaas payload of the outage reached the fleet: with the added pool and the removed one, then without it.
    const lbaas = (await admin.query("SELECT payload FROM lbtopo.observation WHERE host = 'host-a' AND probe = 'lbaas' ORDER BY first_seen")).rows.map((r) => (r.payload as Array<{ id: string }>).map((d) => d.id));
    assert.ok(lbaas.some((ids) => ids.includes(removed) && ids.length === 4), 'the intermediate state (both pools) was pushed');
    assert.deepEqual(lbaas.at(-1)!.sort(), [...poolsOf['host-a']!].sort());

    // A replay of pushes already applied (an acknowledgement lost) doubles nothing.
    const counts = async () => (await admin.query("SELECT (SELECT count(*) FROM lbtopo.observation WHERE host = 'host-a') AS o, (SELECT count(*) FROM lbtopo.pool_fact WHERE host = 'host-a') AS p, (SELECT last_seq FROM lbtopo.host WHERE name = 'host-a') AS s")).rows[0];
    const before = await counts();
    await hostA.pusher.stop();
    const insert = hostA.app.store.db.prepare('INSERT INTO fleet_outbox (seq, created_at, payload) VALUES (?, ?, ?)');
    for (const q of queued) insert.run(q.seq, Date.now(), q.payload);
    const { FleetPusher } = await import('../src/fleet/push.ts');
    const again = new FleetPusher({ config: hostA.app.config, store: hostA.app.store, runner: hostA.app.runner, newSession: hostA.app.newSession, log: () => {} });
    const result = await again.flush({ heartbeat: false });
    assert.deepEqual(result, { pushed: 0, duplicates: queued.length });
    assert.deepEqual(await counts(), before);
    await again.stop();
  } finally {
    await admin.end();
  }
  // host-a pushes on (the stale test needs it alive).
  hostA.pusher = new (await import('../src/fleet/push.ts')).FleetPusher({ config: hostA.app.config, store: hostA.app.store, runner: hostA.app.runner, newSession: hostA.app.newSession, log: () => {} });
  hostA.pusher.start();
});

test('fleet serve keeps the host rules: loopback unless a token is set, and the token on every path but /health', async () => {
  const refused = await run(process.execPath, ['src/main.ts', 'fleet', 'serve', '--listen', '0.0.0.0:4999'], { env: { ...process.env, LBTOPO_TOKEN: '', LBTOPO_FLEET_DB: db.url('fleet-reader') } }).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /refusing to listen on 0\.0\.0\.0:4999 without LBTOPO_TOKEN/);
  const guarded = await createFleetApp(loadConfig({ LBTOPO_FLEET_DB: db.url('fleet-reader'), LBTOPO_TOKEN: 'fleet-secret' }), { log: () => {} });
  try {
    const ask = (path: string, token?: string) =>
      guarded.yoga.fetch(`http://fleet.test${path}`, { method: path === '/graphql' ? 'POST' : 'GET', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, ...(path === '/graphql' ? { body: '{"query":"{ hosts { name } }"}' } : {}) });
    for (const path of ['/graphql', '/metrics', '/http_sd']) {
      assert.equal((await ask(path)).status, 401, path);
      assert.equal((await ask(path, 'wrong')).status, 401, path);
      assert.equal((await ask(path, 'fleet-secret')).status, 200, path);
    }
    assert.equal((await ask('/health')).status, 200);
  } finally {
    await guarded.stop();
  }
});

test('http_sd lists every host for Prometheus, and the targets answer /metrics', async () => {
  const groups = (await (await fetch(`${fleetUrl}/http_sd`)).json()) as Array<{ targets: string[]; labels: Record<string, string> }>;
  assert.deepEqual(groups.map((g) => g.labels.lbtopo_host), ['host-a', 'host-b', 'host-c']);
  const c = groups.find((g) => g.labels.lbtopo_host === 'host-c')!;
  assert.deepEqual(c.targets, [new URL(hostC.url).host]);
  assert.equal(c.labels.__metrics_path__, '/metrics');
  const metrics = await (await fetch(`http://${c.targets[0]}${c.labels.__metrics_path__}`)).text();
  assert.match(metrics, /^lbtopo_pools 1$/m);
});

test('lbtopo check --url against the fleet: CRITICAL (exit 2) over every host\'s problems', async () => {
  const r = await run(process.execPath, ['src/main.ts', 'check', '--url', fleetUrl]).then(
    () => ({ code: 0, stdout: '' }),
    (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
  );
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stdout, /^LBAAS CRITICAL - .*\|.* pools=6;/);
});

test('a stopped host goes stale, and its facts and the fleet metrics say so', async () => {
  hostC.proc.kill('SIGTERM');
  hostC.stopped = true;
  await eventually('host-c stale', async () => {
    const res = await fleetGql(fleet, '{ hosts(stale: true) { name } }');
    return JSON.stringify(res.data?.hosts) === JSON.stringify([{ name: 'host-c' }]);
  }, 20_000);
  const res = await fleetGql(fleet, '{ hosts(stale: false) { name } pools { host { name } stale } problems(code: HOST_STALE) { host { name } severity message } }');
  assert.deepEqual(res.data.hosts.map((h: any) => h.name), ['host-a', 'host-b']);
  for (const p of res.data.pools) assert.equal(p.stale, p.host.name === 'host-c', `pool on ${p.host.name}`);
  assert.deepEqual(res.data.problems.map((p: any) => [p.host.name, p.severity]), [['host-c', 'WARNING']]);
  assert.match(res.data.problems[0].message, /no push for \d+s/);
  const metrics = await (await fetch(`${fleetUrl}/metrics`)).text();
  assert.match(metrics, /^lbtopo_fleet_hosts\{state="stale"\} 1$/m);
  assert.match(metrics, /^lbtopo_fleet_hosts\{state="up"\} 2$/m);
  assert.match(metrics, /^lbtopo_fleet_problems\{code="HOST_STALE",severity="WARNING",host="host-c"\} 1$/m);
  assert.match(metrics, /^lbtopo_fleet_problems\{code="HAPROXY_MISSING",severity="CRITICAL",host="host-a"\} 3$/m);
});
