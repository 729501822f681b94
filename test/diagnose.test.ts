// The diagnoses against a real lab with every fault injected, one per pool, beside healthy pools:
// each rule fires on its fault, names the right objects, and stays quiet elsewhere. Also the
// problem filters (and that those needing no probe run no command), /metrics, and an unreadable
// OVS giving CHECK_INCOMPLETE instead of invented problems.
//
// The lab's healthy pools are not problem-free: by design each pool has one member that answers
// and one that does not (10.77.255.11, nothing listens), so MEMBER_DOWN (INFO) is expected on
// every pool whose stats socket answers and that still has a member up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { labUp, POOL_FAULTS } from '../src/lab/lab.ts';
import type { Lab, LabPool, PoolFault } from '../src/lab/lab.ts';
import type { App } from '../src/server.ts';
import { appForLab, commandsDuring, gql, probesRunDuring } from './support.ts';

let lab: Lab;
let app: App;
/** The lab pools by role: 'healthy-0', 'healthy-1', 'v2', each fault's name, 'ovs-port-missing'. */
const pools = new Map<string, LabPool>();
/** haproxy pids as the lab started them, before any fault. */
const pidBefore = new Map<string, number>();

const FAULTS: readonly PoolFault[] = POOL_FAULTS;

/** What each role must show, and nothing else. */
const EXPECTED: Record<string, string[]> = {
  'healthy-0': ['MEMBER_DOWN'],
  'healthy-1': ['MEMBER_DOWN'],
  v2: ['MEMBER_DOWN'],
  'kill-haproxy': ['HAPROXY_MISSING', 'HAPROXY_PID_STALE'],
  'delete-namespace': ['NAMESPACE_MISSING', 'HAPROXY_MISSING', 'HAPROXY_PID_STALE'],
  // Deleting an OVS internal port deletes its tap: the VIP interface is gone (address and
  // routes with it, not reported separately), and haproxy can no longer reach any member.
  'delete-ovs-port': ['VIP_INTERFACE_MISSING', 'ALL_MEMBERS_DOWN'],
  'dead-vlan': ['OVS_DEAD_VLAN', 'ALL_MEMBERS_DOWN'],
  // A link set down loses its routes; bringing it up does not restore the default route.
  'link-down': ['INTERFACE_DOWN', 'NO_DEFAULT_ROUTE', 'ALL_MEMBERS_DOWN'],
  'no-default-route': ['NO_DEFAULT_ROUTE', 'MEMBER_DOWN'],
  'config-newer': ['HAPROXY_CONFIG_NEWER', 'MEMBER_DOWN'],
  'multiple-haproxy': ['HAPROXY_MULTIPLE', 'MEMBER_DOWN'],
  'haproxy-outside-namespace': ['HAPROXY_OUTSIDE_NAMESPACE', 'ALL_MEMBERS_DOWN'],
  // Member health is unknown without the socket: no member problem, not "down".
  'stats-socket-removed': ['STATS_SOCKET_DEAD'],
  // The last IPv4 address gone takes the routes through the device with it.
  'vip-address-removed': ['VIP_ADDRESS_MISSING', 'NO_DEFAULT_ROUTE', 'ALL_MEMBERS_DOWN'],
  'iface-id-mismatch': ['IFACE_ID_MISMATCH', 'MEMBER_DOWN'],
  // The device left in the namespace is a tap wired to nothing: up, no carrier.
  'ovs-interface-error': ['OVS_INTERFACE_ERROR', 'INTERFACE_DOWN', 'ALL_MEMBERS_DOWN'],
  'members-down': ['ALL_MEMBERS_DOWN'],
  'ovs-port-missing': ['OVS_PORT_MISSING', 'INTERFACE_DOWN', 'ALL_MEMBERS_DOWN'],
};

function pool(role: string): LabPool {
  const p = pools.get(role);
  assert.ok(p, `lab pool ${role}`);
  return p;
}

function roleOf(poolId: string): string | null {
  for (const [role, p] of pools) if (p.poolId === poolId) return role;
  return null;
}

function expectedKeys(): string[] {
  const keys = Object.entries(EXPECTED).flatMap(([role, codes]) => codes.map((c) => `${c} ${role}`));
  keys.push(`ORPHAN_NAMESPACE ${lab.orphanNamespaces[0]}`, `ORPHAN_OVS_PORT ${lab.orphanOvsPorts[0]}`);
  return keys.sort();
}

interface ProblemJson {
  code: string;
  severity: string;
  message: string;
  poolId: string | null;
  namespaceName: string | null;
  ovsPortName: string | null;
  probe: string | null;
  [key: string]: unknown;
}

/** (code, role) of the problems that concern this lab; other labs' leftovers on the machine are ignored. */
function labKeys(problems: ProblemJson[]): string[] {
  const keys: string[] = [];
  for (const p of problems) {
    const role = p.poolId ? roleOf(p.poolId) : null;
    if (role) keys.push(`${p.code} ${role}`);
    else if (p.code === 'ORPHAN_NAMESPACE' && lab.orphanNamespaces.includes(p.namespaceName ?? '')) keys.push(`${p.code} ${p.namespaceName}`);
    else if (p.code === 'ORPHAN_OVS_PORT' && lab.orphanOvsPorts.includes(p.ovsPortName ?? '')) keys.push(`${p.code} ${p.ovsPortName}`);
    else if (p.code === 'CHECK_INCOMPLETE') keys.push(`${p.code} ${p.probe}`);
  }
  return keys.sort();
}

const PROBLEM_FIELDS = 'code severity message key poolId namespaceName pid ovsPortName interfaceName memberId file probe';

async function allProblems(): Promise<ProblemJson[]> {
  const res = await gql(app, `{ problems(maxAge: 0) { ${PROBLEM_FIELDS} } }`);
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return res.data.problems;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  lab = await labUp({ v1Pools: 17, v2LoadBalancers: 1 });
  const v1 = lab.pools.filter((p) => p.layout === 'v1');
  pools.set('healthy-0', v1[0]!);
  pools.set('healthy-1', v1[1]!);
  pools.set('v2', lab.pools.find((p) => p.layout === 'v2')!);
  FAULTS.forEach((fault, i) => pools.set(fault, v1[i + 2]!));
  pools.set('ovs-port-missing', v1[16]!);
  for (const p of lab.pools) pidBefore.set(p.poolId, lab.haproxyPid(p.poolId)!);
  for (const fault of FAULTS) await lab.injectFault(pool(fault).poolId, fault);
  // No lab fault leaves a tap in its namespace without an OVS port (del-port on an internal port
  // deletes the device): take the ovs-interface-error state, whose device is a plain tap, and
  // delete the OVS port under it.
  const unplugged = pool('ovs-port-missing');
  await lab.injectFault(unplugged.poolId, 'ovs-interface-error');
  execFileSync('ovs-vsctl', [`--db=${lab.ovsdb}`, 'del-port', lab.bridge, unplugged.tapName]);
  await lab.addOrphanNamespace();
  await lab.addOrphanOvsPort();
  app = appForLab(lab);
  // Health checks need a few seconds (inter 1s, fall 2) to notice what the faults broke.
  const expected = expectedKeys();
  for (const deadline = Date.now() + 45_000; Date.now() < deadline; await sleep(1000)) {
    if (JSON.stringify(labKeys(await allProblems())) === JSON.stringify(expected)) break;
  }
});

after(async () => {
  app?.close();
  await lab?.down();
});

test('every rule fires on its fault, and only there (exact set of (code, pool))', async () => {
  assert.deepEqual(labKeys(await allProblems()), expectedKeys());
});

test('problems name the objects they concern, and their links resolve', async () => {
  const res = await gql(app, `{ problems { ${PROBLEM_FIELDS} pool { id } namespace { name } process { pid namespace { name } } ovsPort { name tag } interface { name operState } member { id address } } }`);
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  const find = (code: string, role: string) => {
    const hit = res.data.problems.find((p: ProblemJson) => p.code === code && p.poolId === pool(role).poolId);
    assert.ok(hit, `${code} on ${role}`);
    assert.equal(hit.pool.id, pool(role).poolId);
    assert.ok(hit.message.includes(pool(role).poolId), `${code} message names the pool`);
    return hit;
  };

  const missingNs = find('NAMESPACE_MISSING', 'delete-namespace');
  assert.equal(missingNs.namespaceName, pool('delete-namespace').namespace);
  assert.equal(missingNs.namespace, null, 'the namespace link is null: it does not exist');
  assert.equal(missingNs.severity, 'CRITICAL');

  const stale = find('HAPROXY_PID_STALE', 'kill-haproxy');
  assert.equal(stale.pid, pidBefore.get(pool('kill-haproxy').poolId), 'the pid the pid file still names');
  assert.equal(stale.process, null, 'a dead pid links to no process');
  assert.equal(stale.file, pool('kill-haproxy').pidPath);
  assert.ok(find('HAPROXY_MISSING', 'kill-haproxy').message.includes(pool('kill-haproxy').configPath));

  const outside = find('HAPROXY_OUTSIDE_NAMESPACE', 'haproxy-outside-namespace');
  assert.equal(outside.pid, lab.haproxyPid(pool('haproxy-outside-namespace').poolId));
  assert.equal(outside.process.pid, outside.pid);
  assert.match(outside.process.namespace.name, /^lbtw-.*-wrong$/);
  assert.ok(outside.message.includes(outside.process.namespace.name), 'the message says where it runs');

  const multiple = find('HAPROXY_MULTIPLE', 'multiple-haproxy');
  assert.notEqual(multiple.pid, lab.haproxyPid(pool('multiple-haproxy').poolId), 'links the other process, not the live one');
  assert.equal(multiple.process.namespace.name, pool('multiple-haproxy').namespace);

  const newer = find('HAPROXY_CONFIG_NEWER', 'config-newer');
  assert.equal(newer.file, pool('config-newer').configPath);
  assert.equal(newer.process.pid, lab.haproxyPid(pool('config-newer').poolId));

  assert.equal(find('STATS_SOCKET_DEAD', 'stats-socket-removed').file, pool('stats-socket-removed').socketPath);

  const dead = find('OVS_DEAD_VLAN', 'dead-vlan');
  assert.deepEqual(dead.ovsPort, { name: pool('dead-vlan').tapName, tag: 4095 });
  assert.equal(find('OVS_INTERFACE_ERROR', 'ovs-interface-error').ovsPort.name, pool('ovs-interface-error').tapName);
  const mismatch = find('IFACE_ID_MISMATCH', 'iface-id-mismatch');
  assert.equal(mismatch.ovsPortName, pool('iface-id-mismatch').tapName);
  assert.ok(mismatch.message.includes(pool('iface-id-mismatch').portId.slice(0, 11)));
  const unplugged = find('OVS_PORT_MISSING', 'ovs-port-missing');
  assert.equal(unplugged.ovsPortName, pool('ovs-port-missing').tapName);
  assert.equal(unplugged.ovsPort, null, 'OVS has no port of that name');

  const down = find('INTERFACE_DOWN', 'link-down');
  assert.deepEqual(down.interface, { name: pool('link-down').tapName, operState: 'DOWN' });
  assert.ok(down.message.includes(`link set ${pool('link-down').tapName} up`));
  assert.equal(find('VIP_ADDRESS_MISSING', 'vip-address-removed').interfaceName, pool('vip-address-removed').tapName);
  assert.ok(find('VIP_ADDRESS_MISSING', 'vip-address-removed').message.includes(pool('vip-address-removed').vip));
  assert.ok(find('NO_DEFAULT_ROUTE', 'no-default-route').message.includes(pool('no-default-route').namespace));

  const memberDown = find('MEMBER_DOWN', 'healthy-0');
  const silent = pool('healthy-0').members.find((m) => !m.answering)!;
  assert.deepEqual(memberDown.member, { id: silent.id, address: silent.address });
  assert.equal(memberDown.severity, 'INFO');
  const allDown = find('ALL_MEMBERS_DOWN', 'members-down');
  for (const m of pool('members-down').members) assert.ok(allDown.message.includes(m.id));

  const orphanNs = res.data.problems.find((p: ProblemJson) => p.code === 'ORPHAN_NAMESPACE' && p.namespaceName === lab.orphanNamespaces[0]);
  assert.equal(orphanNs.namespace.name, lab.orphanNamespaces[0]);
  assert.equal(orphanNs.poolId, null);
  const orphanPort = res.data.problems.find((p: ProblemJson) => p.code === 'ORPHAN_OVS_PORT' && p.ovsPortName === lab.orphanOvsPorts[0]);
  assert.equal(orphanPort.ovsPort.name, lab.orphanOvsPorts[0]);
  assert.ok(orphanPort.message.includes(`ovs-vsctl del-port br-int ${lab.orphanOvsPorts[0]}`));
});

test('Pool.problems is the root list for that pool, and looks only at that pool', async () => {
  const root = await allProblems();
  for (const role of ['healthy-0', 'link-down', 'delete-namespace', 'dead-vlan', 'stats-socket-removed']) {
    const p = pool(role);
    let res: any;
    const ran = await probesRunDuring(app, async () => {
      res = await gql(app, `query($id: String!) { pool(id: $id, maxAge: 0) { problems { key } } }`, { id: p.poolId });
    });
    assert.equal(res.errors, undefined);
    assert.deepEqual(res.data.pool.problems.map((x: { key: string }) => x.key).sort(), root.filter((x) => x.poolId === p.poolId).map((x) => x.key as string).sort(), role);
    const ipNamespaces = ran.filter((l) => l.startsWith('ip:')).map((l) => l.slice(3));
    assert.deepEqual(ipNamespaces, role === 'delete-namespace' ? [] : [p.namespace], `${role}: a network look only in its namespace`);
    assert.ok(ran.filter((l) => l.startsWith('ovs:')).length <= 1);
  }
});

test('Namespace.problems: its pools\' problems, and ORPHAN_NAMESPACE for a leftover', async () => {
  const res = await gql(app, `query($a: String!, $b: String!) {
    a: namespace(name: $a) { problems { code poolId } }
    b: namespace(name: $b) { orphaned problems { code namespaceName } }
  }`, { a: pool('link-down').namespace, b: lab.orphanNamespaces[0] });
  assert.equal(res.errors, undefined);
  assert.deepEqual(res.data.a.problems.map((p: ProblemJson) => p.code).sort(), [...EXPECTED['link-down']!].sort());
  assert.ok(res.data.a.problems.every((p: ProblemJson) => p.poolId === pool('link-down').poolId));
  assert.equal(res.data.b.orphaned, true);
  assert.deepEqual(res.data.b.problems, [{ code: 'ORPHAN_NAMESPACE', namespaceName: lab.orphanNamespaces[0] }]);
});

test('root problems filters by code and by severity', async () => {
  const labIds = new Set(lab.pools.map((p) => p.poolId));
  const res = await gql(app, '{ critical: problems(severity: CRITICAL) { code severity poolId } stale: problems(code: HAPROXY_PID_STALE) { code poolId } }');
  assert.equal(res.errors, undefined);
  assert.ok(res.data.critical.every((p: ProblemJson) => p.severity === 'CRITICAL'));
  const expectedCritical = Object.entries(EXPECTED).flatMap(([role, codes]) => codes.filter((c) => ['NAMESPACE_MISSING', 'HAPROXY_MISSING', 'HAPROXY_OUTSIDE_NAMESPACE', 'VIP_INTERFACE_MISSING', 'VIP_ADDRESS_MISSING', 'INTERFACE_DOWN', 'NO_DEFAULT_ROUTE', 'OVS_PORT_MISSING', 'OVS_DEAD_VLAN', 'OVS_INTERFACE_ERROR'].includes(c)).map((c) => `${c} ${role}`));
  assert.deepEqual(res.data.critical.filter((p: ProblemJson) => labIds.has(p.poolId!)).map((p: ProblemJson) => `${p.code} ${roleOf(p.poolId!)}`).sort(), expectedCritical.sort());
  assert.deepEqual(res.data.stale.map((p: ProblemJson) => roleOf(p.poolId!)).sort(), ['delete-namespace', 'kill-haproxy']);
});

test('pools(where: { haproxy: MISSING }) returns exactly the pools without haproxy, and runs no command', async () => {
  let res: any;
  const ran = await commandsDuring(app, async () => {
    res = await gql(app, '{ pools(where: { haproxy: MISSING }, maxAge: 0) { id } }');
  });
  assert.deepEqual(ran, []);
  assert.deepEqual(res.data.pools.map((p: { id: string }) => roleOf(p.id)).sort(), ['delete-namespace', 'kill-haproxy']);
});

test('pools(where: { problem, severity, namespace }) select the pools with those problems', async () => {
  const rolesWith = (code: string) => Object.entries(EXPECTED).filter(([, codes]) => codes.includes(code)).map(([role]) => role).sort();
  for (const code of ['OVS_DEAD_VLAN', 'ALL_MEMBERS_DOWN', 'NO_DEFAULT_ROUTE', 'HAPROXY_MISSING', 'STATS_SOCKET_DEAD']) {
    const res = await gql(app, `{ pools(where: { problem: ${code} }) { id } }`);
    assert.equal(res.errors, undefined, code);
    assert.deepEqual(res.data.pools.map((p: { id: string }) => roleOf(p.id)).sort(), rolesWith(code), code);
  }
  const warn = await gql(app, '{ pools(where: { severity: WARNING, namespace: PRESENT }) { id } }');
  const warningRoles = Object.entries(EXPECTED)
    .filter(([role, codes]) => role !== 'delete-namespace' && codes.some((c) => ['HAPROXY_PID_STALE', 'HAPROXY_CONFIG_NEWER', 'HAPROXY_MULTIPLE', 'STATS_SOCKET_DEAD', 'IFACE_ID_MISMATCH', 'ALL_MEMBERS_DOWN'].includes(c)))
    .map(([role]) => role)
    .sort();
  assert.deepEqual(warn.data.pools.map((p: { id: string }) => roleOf(p.id)).sort(), warningRoles);
  const none = await gql(app, '{ pools(where: { problem: MEMBER_DOWN, severity: CRITICAL }) { id } }');
  assert.deepEqual(none.data.pools, [], 'a code and another severity select nothing');
});

test('filters that need no probe run no command', async () => {
  for (const q of [
    '{ pools(where: { problem: HAPROXY_MISSING }, maxAge: 0) { id } }',
    '{ pools(where: { problem: NAMESPACE_MISSING }, maxAge: 0) { id } }',
    '{ pools(where: { namespace: MISSING }, maxAge: 0) { id } }',
    '{ problems(code: ORPHAN_NAMESPACE, maxAge: 0) { code } }',
    '{ problems(code: HAPROXY_PID_STALE, maxAge: 0) { code } }',
    '{ problems(code: MEMBER_DOWN, maxAge: 0) { code } }',
    '{ namespaces(orphaned: true, maxAge: 0) { name } }',
  ]) {
    let res: any;
    const ran = await commandsDuring(app, async () => { res = await gql(app, q); });
    assert.equal(res.errors, undefined, q);
    assert.deepEqual(ran, [], q);
  }
  // OVS checks read OVS once, and the network only of the lab's existing pool namespaces; nothing spawns.
  let spawned: string[][] = [];
  const ran = await probesRunDuring(app, async () => { spawned = await commandsDuring(app, () => gql(app, '{ problems(code: OVS_DEAD_VLAN, maxAge: 0) { code } }')); });
  assert.deepEqual(spawned, []);
  assert.equal(ran.filter((l) => l.startsWith('ovs:')).length, 1);
  const ipNamespaces = ran.filter((l) => l.startsWith('ip:')).map((l) => l.slice(3)).sort();
  assert.deepEqual(ipNamespaces, lab.pools.filter((p) => p !== pool('delete-namespace')).map((p) => p.namespace).sort());
});

test('namespaces(orphaned:) splits leftovers from the rest', async () => {
  const res = await gql(app, '{ yes: namespaces(orphaned: true) { name orphaned } no: namespaces(orphaned: false) { name } }');
  const yes = res.data.yes.map((n: { name: string }) => n.name);
  const no = res.data.no.map((n: { name: string }) => n.name);
  assert.ok(yes.includes(lab.orphanNamespaces[0]));
  assert.ok(res.data.yes.every((n: { orphaned: boolean }) => n.orphaned));
  for (const p of lab.pools) {
    assert.ok(!yes.includes(p.namespace), `${p.namespace} is a pool's`);
    if (p !== pool('delete-namespace')) assert.ok(no.includes(p.namespace));
  }
  assert.ok(!no.includes(lab.orphanNamespaces[0]));
});

test('with OVS unreadable: CHECK_INCOMPLETE naming ovs, no OVS problem invented, the rest still found', async () => {
  // Its own database: no last good OVS snapshot to fall back on; ovs-vsctl as the reader, off the PATH.
  const blind = appForLab(lab, { LBTOPO_OVSDB_JSONRPC: 'off' });
  const savedPath = process.env.PATH;
  process.env.PATH = '/usr/sbin:/sbin'; // ip stays reachable, ovs-vsctl (in /usr/bin) does not
  try {
    const res = await gql(blind, `{ problems { ${PROBLEM_FIELDS} } }`);
    assert.equal(res.errors, undefined);
    const keys = labKeys(res.data.problems);
    const ovsCodes = ['OVS_PORT_MISSING', 'OVS_DEAD_VLAN', 'OVS_INTERFACE_ERROR', 'IFACE_ID_MISMATCH', 'ORPHAN_OVS_PORT'];
    const withoutOvs = expectedKeys().filter((k) => !ovsCodes.includes(k.split(' ')[0]!));
    const incomplete = res.data.problems.filter((p: ProblemJson) => p.code === 'CHECK_INCOMPLETE');
    assert.equal(incomplete.length, 1, JSON.stringify(incomplete));
    assert.equal(incomplete[0].probe, `ovs:${lab.ovsdb}`);
    assert.equal(incomplete[0].severity, 'WARNING');
    assert.match(incomplete[0].message, /OVS_PORT_MISSING/);
    assert.deepEqual(keys, [...withoutOvs, `CHECK_INCOMPLETE ovs:${lab.ovsdb}`].sort());
    // A pool's own list says its OVS checks could not be made.
    const one = await gql(blind, `query($id: String!) { pool(id: $id) { problems { code poolId } } }`, { id: pool('dead-vlan').poolId });
    assert.deepEqual(one.data.pool.problems.map((p: ProblemJson) => p.code).sort(), ['ALL_MEMBERS_DOWN', 'CHECK_INCOMPLETE']);
  } finally {
    process.env.PATH = savedPath;
    blind.close();
  }
});

test('/metrics: pool gauges, problems by code and severity, probe timings, HTTP and GraphQL metrics', async () => {
  await gql(app, '{ pools { id } }');
  const text = await (await app.yoga.fetch('http://lbtopo.test/metrics')).text();
  const value = (name: string, labels: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };
  const id = (role: string) => pool(role).poolId;
  assert.equal(value('lbtopo_pools', ''), lab.pools.length);
  assert.equal(value('lbtopo_pool_haproxy_up', `pool="${id('healthy-0')}",layout="v1"`), 1);
  assert.equal(value('lbtopo_pool_haproxy_up', `pool="${id('kill-haproxy')}",layout="v1"`), 0);
  assert.equal(value('lbtopo_pool_haproxy_up', `pool="${id('v2')}",loadbalancer="${pool('v2').loadBalancerId}",layout="v2"`), 1);
  assert.equal(value('lbtopo_pool_members', `pool="${id('healthy-0')}"`), 2);
  assert.equal(value('lbtopo_pool_members_up', `pool="${id('healthy-0')}"`), 1);
  assert.equal(value('lbtopo_pool_members_up', `pool="${id('members-down')}"`), 0);
  assert.equal(value('lbtopo_pool_members_up', `pool="${id('kill-haproxy')}"`), undefined, 'unknown, not 0');
  assert.equal(value('lbtopo_pool_stats_up', `pool="${id('stats-socket-removed')}"`), 0);
  assert.equal(value('lbtopo_pool_current_sessions', `pool="${id('healthy-0')}"`), 0);
  assert.equal(value('lbtopo_problems', 'code="HAPROXY_MISSING",severity="CRITICAL"'), 2);
  assert.equal(value('lbtopo_problems', 'code="OVS_DEAD_VLAN",severity="CRITICAL"'), 1);
  assert.equal(value('lbtopo_problems', 'code="CONFIG_UNREADABLE",severity="WARNING"'), 0, 'every code is listed');
  for (const name of ['lbtopo_probe_duration_seconds_count{probe="ovs"', 'lbtopo_http_request_duration_seconds_count{method="POST",route="/graphql"', 'lbtopo_graphql_operation_duration_seconds_count{operation_type="query",operation="anonymous"', 'lbtopo_scrape_duration_seconds']) {
    assert.ok(text.includes(name), name);
  }
});
