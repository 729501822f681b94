// The fleet over one real lab split between two hosts by state dirs: a network node (the
// neutron-lbaas v1 and v2 pools) and an amphora (the Octavia load balancer), sharing the lab's
// namespaces and OVS, each with its own SQLite, host name and PostgreSQL role, pushing through the
// real push code. What the fleet says about each pool is what its host says about it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { labUp } from '../src/lab/lab.ts';
import type { Lab, LabPool } from '../src/lab/lab.ts';
import { loadConfig } from '../src/config.ts';
import { createApp } from '../src/server.ts';
import { FleetPusher } from '../src/fleet/push.ts';
import { startThrowawayPostgres } from '../src/fleet/throwaway.ts';
import type { ThrowawayPostgres } from '../src/fleet/throwaway.ts';
import { migrateFleet } from '../src/fleet/migrate.ts';
import { createFleetApp } from '../src/fleet/serve.ts';
import type { FleetApp } from '../src/fleet/serve.ts';
import { addRoles, eventually, fleetGql, hostGql } from './fleet-support.ts';
import type { App } from '../src/server.ts';

let lab: Lab;
let db: ThrowawayPostgres;
let fleet: FleetApp;
const hosts: Array<{ name: string; app: App; pusher: FleetPusher; dir: string }> = [];
let killed: LabPool, membersDown: LabPool, later: LabPool, octavia: LabPool;

before(async () => {
  lab = await labUp({ v1Pools: 3, v2LoadBalancers: 1, octaviaLoadBalancers: 1 });
  const v1 = lab.pools.filter((p) => p.layout === 'v1');
  [later, killed, membersDown] = v1 as [LabPool, LabPool, LabPool];
  octavia = lab.pools.find((p) => p.layout === 'octavia')!;
  await lab.injectFault(killed.poolId, 'kill-haproxy');
  await lab.injectFault(membersDown.poolId, 'members-down');

  db = await startThrowawayPostgres();
  await migrateFleet(db.url());
  await addRoles(db.url(), ['node-1', 'amp-1'], ['reader']);
  // Each host's other state dir is an empty one of its own (a state dir that is named must exist).
  const split: Record<string, (empty: string) => Record<string, string>> = {
    'node-1': (empty) => ({ LBTOPO_OCTAVIA_DIR: empty }),
    'amp-1': (empty) => ({ LBTOPO_LBAAS_DIR: empty }),
  };
  for (const [name, other] of Object.entries(split)) {
    const dir = mkdtempSync(join(tmpdir(), `lbtopo-fleet-${name}-`));
    const empty = join(dir, 'empty-state-dir');
    mkdirSync(empty);
    const env = other(empty);
    const config = loadConfig({ ...lab.env(), ...env, LBTOPO_HOST: name, LBTOPO_DB: join(dir, 'topology.sqlite'), LBTOPO_TTL: '0s', LBTOPO_FLEET_DB: db.url(name), LBTOPO_FLEET_INTERVAL: '1s' });
    const app = createApp(config, { log: () => {} });
    const pusher = new FleetPusher({ config, store: app.store, runner: app.runner, newSession: app.newSession, log: () => {} });
    hosts.push({ name, app, pusher, dir });
  }
  fleet = await createFleetApp(loadConfig({ LBTOPO_FLEET_DB: db.url('reader') }), { log: () => {} });
  for (const h of hosts) h.pusher.start();
  await eventually('both hosts in the fleet', async () => (await fleetGql(fleet, '{ pools { id } }')).data?.pools.length === lab.pools.length, 30_000);
});

after(async () => {
  for (const h of hosts) {
    await h.pusher.stop();
    h.app.close();
    rmSync(h.dir, { recursive: true, force: true });
  }
  await fleet?.stop();
  await db?.destroy();
  await lab?.down();
});

const HOST_POOLS = '{ host { name kind } pools(maxAge: 0) { id layout loadBalancerId namespaceName namespace { name } haproxy { pid } vip { address port } members { status } } }';
const FLEET_POOLS = 'query($host: String) { pools(where: { host: $host }) { id layout loadBalancerId namespaceName namespacePresent haproxyPresence haproxyPid vip { address port } membersUp membersTotal host { name kind } } }';

test('each pool is in the fleet once, on its own host, with the facts its host reports', async () => {
  const kinds: Record<string, string> = {};
  for (const h of hosts) {
    // Let the pusher see this host as the query below does (members settle within a look).
    await h.pusher.cycle();
    await fleet.cache.settled();
    const own = (await hostGql(h.app, HOST_POOLS)).data;
    kinds[h.name] = own.host.kind;
    const expected = own.pools.map((p: any) => ({
      id: p.id,
      layout: p.layout,
      loadBalancerId: p.loadBalancerId,
      namespaceName: p.namespaceName,
      namespacePresent: p.namespace !== null,
      haproxyPresence: p.haproxy ? 'RUNNING' : 'MISSING',
      haproxyPid: p.haproxy?.pid ?? null,
      vip: p.vip ? { address: p.vip.address, port: p.vip.port } : null,
      membersUp: p.haproxy ? p.members.filter((m: any) => /^UP/.test(m.status ?? '')).length : null,
      membersTotal: p.members.length,
      host: { name: h.name, kind: own.host.kind },
    }));
    const got = (await fleetGql(fleet, FLEET_POOLS, { host: h.name })).data.pools;
    assert.deepEqual(got, expected, h.name);
  }
  assert.deepEqual(kinds, { 'node-1': 'NETWORK_NODE', 'amp-1': 'AMPHORA' });
  const octaviaInFleet = (await fleetGql(fleet, 'query($id: String!) { pool(id: $id) { host { name } layout membersUp } }', { id: octavia.poolId })).data.pool;
  assert.deepEqual(octaviaInFleet, { host: { name: 'amp-1' }, layout: 'OCTAVIA', membersUp: 1 });
  const down = (await fleetGql(fleet, 'query($id: String!) { pool(id: $id) { membersUp membersTotal problems { code } } }', { id: membersDown.poolId })).data.pool;
  assert.equal(down.membersUp, 0);
  assert.ok(down.problems.some((p: any) => p.code === 'ALL_MEMBERS_DOWN'));
});

test("the fleet's problems are each host's own, attributed; MISSING lists the killed pool only", async () => {
  for (const h of hosts) {
    const own = (await hostGql(h.app, '{ problems { key } }')).data.problems.map((p: any) => p.key).sort();
    const inFleet = (await fleetGql(fleet, 'query($h: String) { problems(host: $h) { key host { name } } }', { h: h.name })).data.problems;
    assert.deepEqual(inFleet.map((p: any) => p.key).sort(), own, h.name);
  }
  const missing = (await fleetGql(fleet, '{ pools(where: { haproxy: MISSING }) { id host { name } } }')).data.pools;
  assert.deepEqual(missing, [{ id: killed.poolId, host: { name: 'node-1' } }]);
});

test('a haproxy killed while the hosts run reaches the fleet by itself (push after the change, NOTIFY), with its history', async () => {
  const before = fleet.cache.notifications;
  await lab.injectFault(later.poolId, 'kill-haproxy');
  const missing = await eventually('the fleet sees the new MISSING pool', async () => {
    const list = (await fleetGql(fleet, '{ pools(where: { haproxy: MISSING }) { id host { name } observedAt } }')).data?.pools ?? [];
    return list.length === 2 ? list : null;
  }, 30_000);
  assert.deepEqual(missing.map((p: any) => p.id).sort(), [killed.poolId, later.poolId].sort());
  assert.ok(fleet.cache.notifications > before, 'the cache learnt it from NOTIFY');
  const c = new pg.Client(db.url('reader'));
  await c.connect();
  try {
    const rows = (await c.query("SELECT payload FROM lbtopo.observation WHERE host = 'node-1' AND probe = 'haproxy-by-config' AND scope = $1 ORDER BY first_seen", [later.configPath])).rows;
    assert.ok(rows.length >= 2, 'a period with haproxy, then one without');
    assert.ok((rows[0]!.payload as unknown[]).length > 0);
    assert.equal(rows.at(-1)!.payload, null, 'the disappearance is in the fleet history');
  } finally {
    await c.end();
  }
});
