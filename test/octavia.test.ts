// The API against a lab holding an Octavia amphora beside a neutron-lbaas v1 pool: the amphora's
// pool is read from <octavia dir>/<lb_id>/haproxy.cfg, its namespace is amphora-haproxy, its VIP
// device eth1 (not a neutron tap, so no OVS rule may judge it), its backend `<pool_id>:<listener_id>`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { labUp } from '../src/lab/lab.ts';
import type { Lab, LabPool } from '../src/lab/lab.ts';
import type { App } from '../src/server.ts';
import { readExampleQuery } from '../src/example-queries.ts';
import { appForLab, gql } from './support.ts';

const LONG = { timeout: 5 * 60_000 };

let lab: Lab;
let app: App;
let amphora: LabPool;
let v1: LabPool;

before(async () => {
  const startedAt = Date.now();
  lab = await labUp({ v1Pools: 1, v2LoadBalancers: 0, octaviaLoadBalancers: 1 });
  console.log(`lab ${lab.dir} up in ${Date.now() - startedAt} ms`);
  amphora = lab.pools.find((p) => p.layout === 'octavia')!;
  v1 = lab.pools.find((p) => p.layout === 'v1')!;
  app = appForLab(lab);
}, LONG);

after(async () => {
  app?.close();
  await lab?.down();
}, LONG);

const POOLS = `{
  pools(maxAge: 0) {
    id layout loadBalancerId
    namespace { name }
    vipInterface { name macAddress addresses { address prefixLength } }
    haproxy { pid }
    members { id address status }
    listeners { id }
    vip { address port }
    problems { code severity memberId interfaceName message }
  }
}`;

test('pools lists the amphora pool with exactly what the lab made, and only its non-answering member as a problem', async () => {
  const res = await gql(app, POOLS);
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  assert.deepEqual(res.data.pools.map((p: { id: string }) => p.id).sort(), [amphora.poolId, v1.poolId].sort());
  const pool = res.data.pools.find((p: { id: string }) => p.id === amphora.poolId);
  assert.equal(pool.layout, 'OCTAVIA');
  assert.equal(pool.loadBalancerId, amphora.loadBalancerId);
  assert.deepEqual(pool.namespace, { name: 'amphora-haproxy' });
  assert.equal(pool.vipInterface.name, 'eth1');
  assert.equal(pool.vipInterface.macAddress, amphora.mac);
  assert.deepEqual(
    pool.vipInterface.addresses.filter((a: { address: string }) => !a.address.startsWith('fe80')),
    [{ address: amphora.vip, prefixLength: amphora.prefixLength }],
  );
  assert.deepEqual(pool.haproxy, { pid: lab.haproxyPid(amphora.poolId) });
  assert.ok(pool.haproxy.pid > 0);
  const [up, down] = amphora.members as [LabPool['members'][0], LabPool['members'][0]];
  assert.deepEqual(
    pool.members.map((m: { id: string; status: string }) => ({ id: m.id, status: m.status.split(' ')[0] })).sort((a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id)),
    [{ id: up.id, status: 'UP' }, { id: down.id, status: 'DOWN' }].sort((a, b) => a.id.localeCompare(b.id)),
  );
  assert.deepEqual(pool.listeners, [{ id: amphora.frontendId }]);
  assert.deepEqual(pool.vip, { address: amphora.vip, port: amphora.protocolPort });
  // Healthy but for the member nothing answers on: no OVS or tap rule fires on eth1.
  assert.deepEqual(
    pool.problems.map((p: { code: string; severity: string; memberId: string | null }) => ({ code: p.code, severity: p.severity, memberId: p.memberId })),
    [{ code: 'MEMBER_DOWN', severity: 'INFO', memberId: down.id }],
    JSON.stringify(pool.problems, null, 2),
  );
  // The v1 pool beside it is judged as before.
  const other = res.data.pools.find((p: { id: string }) => p.id === v1.poolId);
  assert.equal(other.layout, 'V1');
  assert.deepEqual(other.problems.map((p: { code: string }) => p.code), ['MEMBER_DOWN']);
});

test('the pool trace of the amphora pool', async () => {
  const res = await gql(app, readExampleQuery('pool-trace'), { id: amphora.poolId });
  console.log(`pool trace of the Octavia pool:\n${JSON.stringify(res.data, null, 2)}`);
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  const pool = res.data.pool;
  assert.equal(pool.layout, 'OCTAVIA');
  assert.equal(pool.configPath, amphora.configPath);
  assert.equal(pool.namespace.name, 'amphora-haproxy');
  assert.ok(pool.namespace.routes.some((r: { destination: string; gateway: string }) => r.destination === 'default' && r.gateway === amphora.gateway));
  assert.equal(pool.vipInterface.name, 'eth1');
  // eth1 is a VM NIC in a real amphora, not a neutron tap: the product gives it no Neutron/OVS port.
  assert.equal(pool.vipPort, null);
  assert.equal(pool.haproxy.namespace.name, 'amphora-haproxy');
  assert.deepEqual(pool.haproxy.argv.slice(0, 5), ['haproxy', '-f', amphora.configPath, '-p', amphora.pidPath]);
  assert.equal(pool.stats.reachable, true);
  assert.deepEqual(pool.problems.map((p: { code: string }) => p.code), ['MEMBER_DOWN']);
});

test('the SINGLE amphora has its policy routing; losing the `from VIP lookup 1` rule is POLICY_ROUTE_MISSING', async () => {
  const res = await gql(app, '{ amphora(maxAge: 0) { topology role } }');
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  assert.deepEqual(res.data.amphora, { topology: 'SINGLE', role: 'SINGLE' });
  await lab.injectFault(amphora.poolId, 'policy-rule-removed');
  const after = await gql(app, `{ pool(id: "${amphora.poolId}", maxAge: 0) { problems { code severity message } } }`);
  assert.equal(after.errors, undefined, JSON.stringify(after.errors));
  const missing = after.data.pool.problems.find((p: { code: string }) => p.code === 'POLICY_ROUTE_MISSING');
  assert.ok(missing, JSON.stringify(after.data.pool.problems));
  assert.equal(missing.severity, 'CRITICAL');
  assert.match(missing.message, new RegExp(`a SINGLE amphora lacks its VIP policy routing \\(rule "from ${amphora.vip.replace(/\./g, '\\.')} lookup 1" missing`));
});

test('kill-haproxy on the amphora: pools(where: { haproxy: MISSING }) lists it, with HAPROXY_MISSING', async () => {
  const pid = lab.haproxyPid(amphora.poolId);
  assert.ok(pid);
  await lab.injectFault(amphora.poolId, 'kill-haproxy');
  assert.equal(lab.haproxyPid(amphora.poolId), null);
  const res = await gql(app, '{ pools(maxAge: 0, where: { haproxy: MISSING }) { id layout haproxy { pid } problems { code severity pid file } } }');
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  assert.deepEqual(res.data.pools.map((p: { id: string }) => p.id), [amphora.poolId], 'only the amphora pool lost its haproxy');
  const [pool] = res.data.pools;
  assert.equal(pool.layout, 'OCTAVIA');
  assert.equal(pool.haproxy, null);
  const codes = pool.problems.map((p: { code: string }) => p.code);
  assert.ok(codes.includes('HAPROXY_MISSING'), JSON.stringify(pool.problems));
  const missing = pool.problems.find((p: { code: string }) => p.code === 'HAPROXY_MISSING');
  assert.equal(missing.severity, 'CRITICAL');
  assert.equal(missing.file, amphora.configPath);
  console.log(`problems of the amphora pool after kill-haproxy: ${JSON.stringify(pool.problems)}`);
});
