// The API against a real lab (OVS in user space, qlbaas namespaces, haproxy, members), with faults.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { labUp } from '../src/lab/lab.ts';
import type { Lab, LabPool } from '../src/lab/lab.ts';
import { createApp, serve } from '../src/server.ts';
import type { App } from '../src/server.ts';
import { loadConfig } from '../src/config.ts';
import { readExampleQuery } from '../src/example-queries.ts';
import { appForLab, commandsDuring, gql, ipNetnsIdentify, probesRunDuring, tmpDb } from './support.ts';

const CONTRACT = readExampleQuery('pools-trace');

let lab: Lab;
let app: App;
let healthy: LabPool, killed: LabPool, deadVlan: LabPool, noNamespace: LabPool, noOvsPort: LabPool, v2: LabPool;

before(async () => {
  lab = await labUp({ v1Pools: 5, v2LoadBalancers: 1 });
  const v1 = lab.pools.filter((p) => p.layout === 'v1');
  [healthy, killed, deadVlan, noNamespace, noOvsPort] = v1 as [LabPool, LabPool, LabPool, LabPool, LabPool];
  v2 = lab.pools.find((p) => p.layout === 'v2')!;
  await lab.injectFault(killed.poolId, 'kill-haproxy');
  await lab.injectFault(deadVlan.poolId, 'dead-vlan');
  await lab.injectFault(noNamespace.poolId, 'delete-namespace');
  await lab.injectFault(noOvsPort.poolId, 'delete-ovs-port');
  app = appForLab(lab);
});

after(async () => {
  app?.close();
  await lab?.down();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- GraphQL JSON
function byId(list: any[], id: string): any {
  const hit = list.find((x) => x.id === id);
  assert.ok(hit, `pool ${id} is listed`);
  return hit;
}

test('the contract query returns exactly the lab facts for a healthy pool', async () => {
  const res = await gql(app, CONTRACT);
  // The only errors are the member statuses of pools whose haproxy is gone: unknown, not DOWN.
  const brokenIndexes = new Set([killed, noNamespace].map((p) => res.data.pools.findIndex((x: { id: string }) => x.id === p.poolId)));
  for (const e of res.errors ?? []) {
    assert.equal(e.extensions?.code, 'STATS_UNAVAILABLE', e.message);
    assert.ok(brokenIndexes.has(e.path![1] as number) && e.path![2] === 'members' && e.path![4] === 'status', JSON.stringify(e.path));
  }
  const labIds = lab.pools.map((p) => p.poolId).sort();
  assert.deepEqual(res.data.pools.map((p: { id: string }) => p.id).sort(), labIds, 'exactly the lab pools');
  for (const expected of [healthy, v2]) {
    const pool = byId(res.data.pools, expected.poolId);
    assert.equal(pool.namespace.name, expected.namespace);
    assert.ok(pool.namespace.routes.some((r: { destination: string; gateway: string }) => r.destination === 'default' && r.gateway === expected.gateway), 'default route via the gateway');
    assert.deepEqual(pool.vipPort, { id: expected.portId, macAddress: expected.mac, ovsPort: { name: expected.tapName, bridge: 'br-int', tag: expected.vlanTag } });
    assert.equal(expected.tapName, `tap${expected.portId.slice(0, 11)}`);
    assert.equal(pool.vipInterface.name, expected.tapName);
    assert.equal(pool.vipInterface.macAddress, expected.mac);
    // An OVS internal port is a tun-like device: the kernel reports UNKNOWN, not UP, while it works.
    assert.equal(pool.vipInterface.operState, 'UNKNOWN');
    assert.deepEqual(pool.vipInterface.addresses.filter((a: { address: string }) => !a.address.startsWith('fe80')), [{ address: expected.vip, prefixLength: expected.prefixLength }]);
    assert.equal(pool.haproxy.pid, lab.haproxyPid(expected.poolId));
    assert.ok(pool.haproxy.argv.includes(expected.configPath));
    const members = Object.fromEntries(pool.members.map((m: { id: string }) => [m.id, m]));
    for (const m of expected.members) {
      assert.equal(members[m.id].address, m.address);
      assert.equal(members[m.id].port, m.port);
      assert.equal(members[m.id].status.split(' ')[0], m.answering ? 'UP' : 'DOWN', `member ${m.address} status`);
    }
  }
});

test('faulted pools say what is missing instead of answering wrong', async () => {
  const res = await gql(app, CONTRACT);
  const k = byId(res.data.pools, killed.poolId);
  assert.equal(k.haproxy, null, 'killed haproxy: no live process even though the pid file remains');
  assert.deepEqual(k.members.map((m: { status: string | null }) => m.status), [null, null], 'member health is unknown, not DOWN');
  const d = byId(res.data.pools, deadVlan.poolId);
  assert.equal(d.vipPort.ovsPort.tag, 4095);
  const n = byId(res.data.pools, noNamespace.poolId);
  assert.equal(n.namespace, null);
  assert.equal(n.vipInterface, null);
  assert.equal(n.vipPort, null);
  // Deleting an OVS internal port deletes its device too, as on a real node.
  const o = byId(res.data.pools, noOvsPort.poolId);
  assert.equal(o.vipInterface, null);
  assert.equal(o.vipPort, null);
  const ports = await gql(app, '{ ovsPorts { name } }');
  assert.ok(!ports.data.ovsPorts.some((p: { name: string }) => p.name === noOvsPort.tapName));
  assert.ok(ports.data.ovsPorts.some((p: { name: string }) => p.name === healthy.tapName));
});

test('{ pools { id } } and { pools { haproxy { pid } } } spawn no process', async () => {
  for (const q of ['{ pools(maxAge: 0) { id } }', '{ pools(maxAge: 0) { haproxy { pid } } }']) {
    const ran = await commandsDuring(app, () => gql(app, q));
    assert.deepEqual(ran, [], q);
  }
});

test('vipInterface addresses read one network per existing qlbaas namespace, no OVS, and spawn nothing', async () => {
  let res: any;
  let ran: string[][] = [];
  const looks = await probesRunDuring(app, async () => { ran = await commandsDuring(app, async () => { res = await gql(app, '{ pools(maxAge: 0) { id vipInterface { addresses { address } } } }'); }); });
  assert.equal(res.errors, undefined);
  assert.deepEqual(ran, [], 'netlink in-process: no ip process');
  assert.equal(looks.filter((l) => l.startsWith('ovs:')).length, 0);
  const ipNamespaces = looks.filter((l) => l.startsWith('ip:')).map((l) => l.slice(3)).sort();
  const expected = lab.pools.filter((p) => p !== noNamespace).map((p) => p.namespace).sort();
  assert.deepEqual(ipNamespaces, expected);
});

test('a query touching OVS for all pools reads OVS once, over JSON-RPC (and ovs-vsctl once when it is off)', async () => {
  const q = '{ pools(maxAge: 0) { vipPort { id ovsPort { tag } } } ovsPorts { name } }';
  let ran: string[][] = [];
  const looks = await probesRunDuring(app, async () => { ran = await commandsDuring(app, () => gql(app, q)); });
  assert.equal(looks.filter((l) => l.startsWith('ovs:')).length, 1);
  assert.deepEqual(ran, []);
  const vsctl = appForLab(lab, { LBTOPO_OVSDB_JSONRPC: 'off' });
  try {
    const spawned = await commandsDuring(vsctl, () => gql(vsctl, q));
    assert.equal(spawned.filter((a) => a[0] === 'ovs-vsctl').length, 1);
  } finally {
    vsctl.close();
  }
});

test('20 concurrent identical requests run each probe once', async () => {
  const fresh = appForLab(lab);
  try {
    const looks = await probesRunDuring(fresh, () => Promise.all(Array.from({ length: 20 }, () => gql(fresh, CONTRACT))));
    assert.equal(new Set(looks).size, looks.length, `no probe ran twice for one scope: ${looks.join('\n')}`);
    assert.equal(looks.filter((l) => l.startsWith('ovs:')).length, 1);
    assert.ok(looks.filter((l) => l.startsWith('ip:')).length >= lab.pools.length - 1);
  } finally {
    fresh.close();
  }
});

test('process -> namespace agrees with ip netns identify', async () => {
  const pid = lab.haproxyPid(healthy.poolId)!;
  const res = await gql(app, 'query($pid: Int!) { process(pid: $pid, maxAge: 0) { pid namespaceNames namespace { name } pool { id } configPath } }', { pid });
  assert.equal(res.errors, undefined);
  assert.deepEqual(res.data.process.namespaceNames, ipNetnsIdentify(pid));
  assert.equal(res.data.process.namespace.name, healthy.namespace);
  assert.equal(res.data.process.pool.id, healthy.poolId);
  assert.equal(res.data.process.configPath, healthy.configPath);
});

test('port by full id and by the 11-character tap prefix', async () => {
  const prefix = healthy.portId.slice(0, 11);
  for (const id of [healthy.portId, prefix]) {
    const res = await gql(app, 'query($id: String!) { port(id: $id) { id idIsPrefix tapName macAddress namespace { name } pool { id } ovsPort { tag } } }', { id });
    assert.equal(res.errors, undefined);
    assert.deepEqual(res.data.port, { id: healthy.portId, idIsPrefix: false, tapName: healthy.tapName, macAddress: healthy.mac, namespace: { name: healthy.namespace }, pool: { id: healthy.poolId }, ovsPort: { tag: healthy.vlanTag } });
  }
  const unknown = await gql(app, '{ port(id: "00000000-0000-4000-8000-000000000000") { id } }');
  assert.equal(unknown.data.port, null);
});

test('port(id) with a well-formed unknown prefix answers from the OVS and interface indexes: no ip per namespace (issue 8 item 4)', async () => {
  const fresh = appForLab(lab);
  try {
    const q = '{ port(id: "0badc0de-99") { id tapName } }';
    // Cold: OVS is read and each namespace not yet seen is looked at once.
    const cold = await probesRunDuring(fresh, () => gql(fresh, q));
    assert.equal(cold.filter((l) => l.startsWith('ovs:')).length, 1);
    // Warm: the latest looks say no namespace holds tap0badc0de-99, so nothing runs at all.
    let res: any;
    const warm = await probesRunDuring(fresh, async () => { res = await gql(fresh, q); });
    assert.equal(res.errors, undefined);
    assert.equal(res.data.port, null);
    assert.deepEqual(warm, [], 'no look in every namespace per request');
    // A known port is still found (confirmed by a look at the one namespace holding it).
    const known = await gql(fresh, `{ port(id: "${healthy.portId.slice(0, 11)}") { id namespace { name } } }`);
    assert.deepEqual(known.data.port, { id: healthy.portId, namespace: { name: healthy.namespace } });
  } finally {
    fresh.close();
  }
});

test('bad input gets a clear error or null and runs no command', async () => {
  const cases: Array<[string, RegExp | null]> = [
    ['{ namespace(name: "qlbaas-x y") { name } }', /not a valid namespace name/],
    ['{ namespace(name: "../../etc") { name } }', /not a valid namespace name/],
    ['{ namespace(name: "a;reboot") { name } }', /not a valid namespace name/],
    ['{ interfaces(namespace: "-n") { name } }', /not a valid namespace name/],
    ['{ process(pid: -1) { pid } }', /not a valid pid/],
    ['{ pool(id: "not-a-uuid") { id } }', /not a pool id/],
    ['{ port(id: "tap1234") { id } }', /not a port id/],
    ['{ pool(id: "00000000-0000-4000-8000-000000000000") { id } }', null],
    ['{ namespace(name: "qlbaas-00000000-0000-4000-8000-000000000000") { name } }', null],
  ];
  for (const [q, message] of cases) {
    let res: any;
    const ran = await commandsDuring(app, async () => { res = await gql(app, q); });
    assert.deepEqual(ran, [], `no command for ${q}`);
    if (message) {
      assert.match(res.errors?.[0]?.message ?? '', message, q);
      assert.equal(res.errors[0].extensions.code, 'BAD_USER_INPUT');
    } else {
      assert.equal(res.errors, undefined, q);
      assert.equal(Object.values(res.data)[0], null, q);
    }
  }
});

test('a namespace deleted between listing and ip gives a partial answer with an error', async () => {
  const lateApp = appForLab(lab, { LBTOPO_TTL_NETNS: '1h', LBTOPO_TTL_IP: '0s' });
  try {
    const doomed = await lab.addOrphanNamespace();
    await gql(lateApp, '{ namespaces { name } }'); // the list, now cached, includes it
    execFileSync('ip', ['netns', 'del', doomed]);
    const res = await gql(lateApp, `{ namespaces(kind: QLBAAS) { name interfaces { name } } }`);
    const entry = res.data.namespaces.find((n: { name: string }) => n.name === doomed);
    assert.equal(entry.interfaces, null, 'the vanished namespace has no interfaces, not an empty list');
    const error = res.errors?.find((e) => e.path?.includes('interfaces') && e.extensions?.scope === doomed);
    assert.ok(error, JSON.stringify(res.errors));
    assert.equal(error.extensions!.code, 'PROBE_FAILED');
    assert.equal(error.extensions!.reason, 'gone');
    const other = res.data.namespaces.find((n: { name: string }) => n.name === healthy.namespace);
    assert.ok(other.interfaces.some((i: { name: string }) => i.name === healthy.tapName), 'the other namespaces are answered');
    const again = await gql(lateApp, '{ pools { id } }');
    assert.equal(again.errors, undefined, 'the server keeps serving');
  } finally {
    lateApp.close();
  }
});

test('when ovs-vsctl fails the last good observation is served, and the response says so', async () => {
  const db = tmpDb();
  // ovs-vsctl as the reader: the JSON-RPC reader's failures have their own tests (ovsdb-jsonrpc).
  const a = appForLab(lab, { LBTOPO_OVSDB_JSONRPC: 'off' }, db);
  const q = `query($id: String!) { pool(id: $id) { vipPort { ovsPort { tag observedAt } } } }`;
  const good = await gql(a, q, { id: healthy.poolId });
  assert.equal(good.data.pool.vipPort.ovsPort.tag, healthy.vlanTag);
  const savedPath = process.env.PATH;
  process.env.PATH = '/usr/sbin:/sbin'; // ip stays reachable, ovs-vsctl (in /usr/bin) does not
  try {
    const res = await gql(a, q.replace('pool(id: $id)', 'pool(id: $id, maxAge: 0)'), { id: healthy.poolId });
    assert.equal(res.data.pool.vipPort.ovsPort.tag, healthy.vlanTag);
    assert.equal(res.data.pool.vipPort.ovsPort.observedAt, good.data.pool.vipPort.ovsPort.observedAt);
    const failure = (res.extensions?.probeFailures as Array<Record<string, unknown>>).find((f) => f.probe === 'ovs');
    assert.equal(failure?.servedStale, true);
    assert.equal(failure?.kind, 'not-found');
  } finally {
    process.env.PATH = savedPath;
    a.close();
  }
});

test('after a restart, data within its TTL comes from the database with no command run', async () => {
  const db = tmpDb();
  const first = appForLab(lab, { LBTOPO_TTL: '1h' }, db);
  const firstRes = await gql(first, CONTRACT);
  first.close();
  const second = appForLab(lab, { LBTOPO_TTL: '1h' }, db);
  let res: any;
  const ran = await commandsDuring(second, async () => { res = await gql(second, CONTRACT); });
  second.close();
  assert.deepEqual(ran, []);
  assert.deepEqual(res.data, firstRes.data);
  assert.ok(res.extensions.probes.every((p: { source: string }) => p.source === 'cache'));
});

test('every response lists the probes that ran or came from the cache', async () => {
  const res = await gql(app, '{ pools(maxAge: 0) { id haproxy { pid } } }');
  const probes = res.extensions!.probes!.map((p) => `${p.probe}:${p.source}`).sort();
  assert.deepEqual(probes, ['lbaas:ran', 'proc:ran']);
});

test('over real HTTP: GraphiQL, health, readiness, and the token', async () => {
  const config = loadConfig({ ...lab.env(), LBTOPO_DB: tmpDb(), LBTOPO_LISTEN: '127.0.0.1:0', LBTOPO_TOKEN: 's3cret' });
  const tokenApp = createApp(config, { log: () => {} });
  const server = await serve(tokenApp);
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.equal((await fetch(`${base}/health`)).status, 200);
    assert.equal((await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ pools { id } }"}' })).status, 401);
    const auth = { authorization: 'Bearer s3cret' };
    assert.equal((await fetch(`${base}/ready`, { headers: auth })).status, 200);
    const page = await fetch(`${base}/graphql`, { headers: { ...auth, accept: 'text/html' } });
    const html = await page.text();
    assert.match(html, /PoolTrace/, 'GraphiQL opens on the trace of one pool');
    assert.ok(html.includes(lab.pools.map((p) => p.poolId).sort()[0]!), 'with the first pool id as its variable');
    const res = await fetch(`${base}/graphql`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ query: CONTRACT }) });
    const body = (await res.json()) as any;
    assert.equal(byId(body.data.pools, healthy.poolId).vipPort.id, healthy.portId);
  } finally {
    server.close();
    tokenApp.close();
  }
});

test('the refresh mutation looks again now, bypassing a fresh cache, and says what ran', async () => {
  const fresh = appForLab(lab, { LBTOPO_TTL: '1h' });
  try {
    await gql(fresh, '{ ovsPorts { name } }');
    let res: any;
    const ran = await commandsDuring(fresh, async () => { res = await gql(fresh, 'mutation { refresh(probes: [OVS, LBAAS]) { probe source error } }'); });
    assert.equal(res.errors, undefined);
    assert.deepEqual(res.data.refresh.map((r: { probe: string; source: string }) => `${r.probe}:${r.source}`).sort(), ['lbaas:ran', 'ovs:ran']);
    assert.deepEqual(ran, [], 'OVS read over JSON-RPC, nothing spawned');
  } finally {
    fresh.close();
  }
});

test('an ovs-vsctl that prints garbage or hangs gives a clear error on the OVS fields only', async () => {
  const bin = mkdtempSync(join(tmpdir(), 'lbtopo-fakebin-'));
  // Stand-ins for a broken ovs-vsctl on the PATH: these test the API's handling of a bad command,
  // not discovery (which the real ovs-vsctl tests cover).
  const fake = (body: string) => {
    writeFileSync(join(bin, 'ovs-vsctl'), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, 'ovs-vsctl'), 0o755);
  };
  const savedPath = process.env.PATH;
  const broken = appForLab(lab, { LBTOPO_COMMAND_TIMEOUT: '500ms', LBTOPO_OVSDB_JSONRPC: 'off' });
  try {
    process.env.PATH = `${bin}:${savedPath}`;
    for (const [body, reason] of [['echo "this is not JSON"', 'parse'], ['sleep 30', 'timeout']] as const) {
      fake(body);
      const t0 = Date.now();
      const res = await gql(broken, `query($id: String!) { pool(id: $id, maxAge: 0) { id vipInterface { name } vipPort { ovsPort { tag } } } }`, { id: healthy.poolId });
      assert.ok(Date.now() - t0 < 5000, 'a hanging command is cut at the timeout');
      assert.equal(res.data.pool.vipInterface.name, healthy.tapName, 'what did not need OVS is answered');
      assert.equal(res.data.pool.vipPort.ovsPort, null);
      const error = res.errors?.find((e) => e.extensions?.probe === 'ovs');
      assert.equal(error?.extensions?.code, 'PROBE_FAILED', JSON.stringify(res.errors));
      assert.equal(error?.extensions?.reason, reason);
      assert.match(error!.message, /ovs-vsctl/);
      if (reason === 'parse') {
        // Without OVS a port is still found by its tap; only the prefix of its id is known, and it says so.
        const prefix = healthy.portId.slice(0, 11);
        const port = await gql(broken, `{ port(id: "${prefix}", maxAge: 0) { id idIsPrefix tapName namespace { name } } }`);
        assert.deepEqual(port.data.port, { id: prefix, idIsPrefix: true, tapName: healthy.tapName, namespace: { name: healthy.namespace } });
      }
    }
  } finally {
    process.env.PATH = savedPath;
    broken.close();
  }
  const after = await gql(app, '{ pools { id } }');
  assert.equal(after.errors, undefined, 'the server keeps serving');
});

// Last in the file: it kills the v2 pool's haproxy.
test('haproxyHistory says when a pool\'s haproxy disappeared', async () => {
  const historian = appForLab(lab);
  try {
    const q = `query($id: String!) { pool(id: $id, maxAge: 0) { haproxy { pid } haproxyHistory { from to running processes { pid } } } }`;
    const before = await gql(historian, q, { id: v2.poolId });
    const pid = before.data.pool.haproxy.pid;
    assert.deepEqual(before.data.pool.haproxyHistory.map((p: { running: boolean }) => p.running), [true]);
    await gql(historian, q, { id: v2.poolId }); // the same state again: no new period
    const killedAt = Date.now();
    await lab.injectFault(v2.poolId, 'kill-haproxy');
    const after = await gql(historian, q, { id: v2.poolId });
    assert.equal(after.data.pool.haproxy, null);
    const [now, then] = after.data.pool.haproxyHistory;
    assert.equal(after.data.pool.haproxyHistory.length, 2);
    assert.equal(now.running, false);
    assert.deepEqual(now.processes, []);
    assert.equal(then.running, true);
    assert.deepEqual(then.processes, [{ pid }]);
    assert.ok(Date.parse(then.to) <= killedAt && Date.parse(now.from) >= killedAt, 'the disappearance lies between the two periods');
    assert.ok(Date.parse(then.to) > Date.parse(then.from), 'the second look extended the first period');
  } finally {
    historian.close();
  }
});
