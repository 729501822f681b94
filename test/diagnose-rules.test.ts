// The problem rules on hand-built facts (no host): each rule fires on exactly its condition,
// stays quiet on a healthy pool, and a probe that could not be read never becomes a problem.
// Also the gathering: which probes a set of codes makes run, and failed/stale probes as gaps.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHaproxyConfig } from '../src/host/haproxy-config.ts';
import type { LbaasDeployment } from '../src/host/lbaas-state.ts';
import type { NamedNamespace } from '../src/host/netns.ts';
import type { ProcessInfo } from '../src/host/procfs.ts';
import type { Interface, NamespaceNetwork, Route } from '../src/host/iproute.ts';
import type { OvsPort, OvsSnapshot } from '../src/host/ovs.ts';
import type { StatRow } from '../src/host/haproxy-stats.ts';
import { DiscoveryError } from '../src/host/errors.ts';
import { poolsFromDeployments } from '../src/topology/pools.ts';
import type { StatsObservation, HostProbes } from '../src/topology/probes.ts';
import { TopologySession } from '../src/topology/session.ts';
import { ObservationStore } from '../src/cache/store.ts';
import { ProbeRunner } from '../src/cache/runner.ts';
import { loadConfig } from '../src/config.ts';
import type { ProbeName } from '../src/config.ts';
import { PROBLEM_CODE_NAMES, PROBLEM_CODES, selectCodes } from '../src/diagnose/codes.ts';
import type { Problem, ProblemCode } from '../src/diagnose/codes.ts';
import type { DiagnosisFacts } from '../src/diagnose/facts.ts';
import { CONFIG_NEWER_SLACK_MS, judge } from '../src/diagnose/rules.ts';
import { diagnoseHost } from '../src/diagnose/diagnose.ts';

const POOL = '5e1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const NS = `qlbaas-${POOL}`;
const PORT_ID = '70081ac2-6f11-4c1e-9d5a-0123456789ab';
const TAP = 'tap70081ac2-6f';
const MEMBER_A = '8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d';
const MEMBER_B = '3c4d5e6f-7a8b-4c9d-9e0f-1a2b3c4d5e6f';
const STATE_DIR = `/var/lib/neutron/lbaas/${POOL}`;
const CONF = `${STATE_DIR}/conf`;
const PID_FILE = `${STATE_DIR}/pid`;
const SOCK = `${STATE_DIR}/sock`;
const STARTED = Date.parse('2026-01-01T00:00:00Z');
const HAPROXY_PID = 4100;
const NS_INODE = 4026532300;
const ROOT_INODE = 4026531840;

const CONFIG_TEXT = `global
\tdaemon
\tstats socket ${SOCK} mode 0666 level user
defaults
\ttimeout connect 5000
frontend c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f
\tbind 10.0.0.10:80
\tmode http
\tdefault_backend ${POOL}
backend ${POOL}
\tmode http
\tbalance roundrobin
\toption httpchk GET /
\tserver ${MEMBER_A} 10.0.0.3:80 weight 1 check inter 1s
\tserver ${MEMBER_B} 10.0.0.4:80 weight 1 check inter 1s
`;

function deployment(overrides: Partial<LbaasDeployment> = {}): LbaasDeployment {
  return {
    layout: 'v1',
    id: POOL,
    stateDir: STATE_DIR,
    configPath: CONF,
    pidPath: PID_FILE,
    socketPath: SOCK,
    socketExists: true,
    namespace: NS,
    configMtimeMs: STARTED - 60_000,
    pids: [HAPROXY_PID],
    pidError: null,
    config: parseHaproxyConfig(CONFIG_TEXT, { source: CONF }),
    configError: null,
    ...overrides,
  };
}

function proc(pid: number, overrides: Partial<ProcessInfo> = {}): ProcessInfo {
  return {
    pid,
    ppid: 1,
    comm: 'haproxy',
    state: 'S',
    startTicks: 0,
    startedAt: STARTED,
    uid: 0,
    user: 'root',
    rssBytes: 1 << 20,
    argv: ['haproxy', '-f', CONF, '-p', PID_FILE],
    exe: '/usr/sbin/haproxy',
    netnsInode: NS_INODE,
    ...overrides,
  };
}

const INIT = proc(1, { comm: 'systemd', argv: ['/sbin/init'], exe: '/sbin/init', netnsInode: ROOT_INODE, startedAt: STARTED - 86_400_000 });

function namespace(name: string, inode: number): NamedNamespace {
  return { name, path: `/run/netns/${name}`, inode, dev: 4, kind: name.startsWith('qlbaas-') ? 'qlbaas' : 'other', uuid: name.startsWith('qlbaas-') ? name.slice(7) : null };
}

function iface(name: string, overrides: Partial<Interface> = {}): Interface {
  return { index: 2, name, macAddress: 'fa:16:3e:00:00:01', mtu: 1450, operState: 'UNKNOWN', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], kind: 'openvswitch', master: null, linkIndex: null, linkNetnsId: null, addresses: [], stats: null, ...overrides };
}

function route(overrides: Partial<Route>): Route {
  return { family: 'inet', table: 'main', destination: 'default', gateway: '10.0.0.1', device: TAP, protocol: 'boot', scope: null, preferredSource: null, metric: null, type: 'unicast', flags: [], nexthops: [], ...overrides };
}

function network(overrides: Partial<NamespaceNetwork> = {}): NamespaceNetwork {
  return {
    namespace: NS,
    interfaces: [
      iface('lo', { index: 1, operState: 'UNKNOWN', flags: ['LOOPBACK', 'UP', 'LOWER_UP'], kind: null, macAddress: null, addresses: [{ family: 'inet', address: '127.0.0.1', prefixLength: 8, scope: 'host', broadcast: null, label: null, dynamic: false }] }),
      iface(TAP, { addresses: [{ family: 'inet', address: '10.0.0.10', prefixLength: 24, scope: 'global', broadcast: '10.0.0.255', label: null, dynamic: false }] }),
    ],
    routes: [route({}), route({ destination: '10.0.0.0/24', gateway: null, scope: 'link', protocol: 'kernel' })],
    ...overrides,
  };
}

function ovsPort(name: string, overrides: Partial<OvsPort> = {}, ifaceOverrides: Partial<OvsPort['interfaces'][number]> = {}): OvsPort {
  return {
    uuid: `uuid-${name}`,
    name,
    bridge: 'br-int',
    tag: 1,
    trunks: [],
    vlanMode: null,
    otherConfig: {},
    externalIds: {},
    interfaces: [{ uuid: `iface-${name}`, name, type: 'internal', ofport: 5, error: null, externalIds: { 'iface-id': PORT_ID, 'attached-mac': 'fa:16:3e:00:00:01' }, macInUse: null, linkState: 'up', adminState: 'up', ...ifaceOverrides }],
    ...overrides,
  };
}

function ovs(ports: OvsPort[] = [ovsPort(TAP)]): OvsSnapshot {
  return { bridges: [{ uuid: 'br', name: 'br-int', datapathType: '', ports: ports.map((p) => p.name) }], ports };
}

function statRow(svname: string, type: StatRow['type'], status: string | null, overrides: Partial<StatRow> = {}): StatRow {
  return {
    pxname: POOL, svname, type, status, weight: 1, active: true, backup: false, activeServers: null, backupServers: null,
    scur: 0, smax: 0, stot: 0, bin: 0, bout: 0, econ: 0, eresp: 0, chkfail: 0, chkdown: 0, lastchg: 10, downtime: 0,
    checkStatus: status?.startsWith('DOWN') ? 'L4CON' : 'L7OK', checkInProgress: false, checkCode: null, checkDuration: 1, checkDesc: null,
    lastChk: null, addr: null, pid: 1, iid: 3, sid: 1, columns: {}, ...overrides,
  };
}

function stats(a = 'UP', b = 'UP'): StatsObservation {
  return {
    reachable: true,
    info: { name: 'HAProxy', version: '2.6.12', pid: HAPROXY_PID, uptimeSec: 60, currConns: 0, maxconn: 2000 },
    rows: [statRow(MEMBER_A, 'server', a), statRow(MEMBER_B, 'server', b), statRow('BACKEND', 'backend', 'UP')],
  };
}

/** One healthy v1 pool and every fact about it. */
function healthy(overrides: { deployment?: Partial<LbaasDeployment> } = {}): DiagnosisFacts {
  const d = deployment(overrides.deployment);
  const pools = poolsFromDeployments([d]);
  return {
    amphora: null,
    rules: new Map(),
    haproxyHistory: new Map(),
    now: Date.now(),
    certWarningDays: 14,
    deployments: [d],
    allPools: pools,
    pools,
    namespaces: [namespace(NS, NS_INODE)],
    processes: [INIT, proc(HAPROXY_PID)],
    networks: new Map([[NS, network()]]),
    ovs: ovs(),
    stats: new Map([[SOCK, stats('UP', 'UP')]]),
    gaps: [],
  };
}

const ALL = selectCodes();
const codesOf = (problems: Problem[]) => problems.map((p) => p.code).sort();
const only = (facts: DiagnosisFacts) => judge(facts, ALL);

describe('rules on hand-built facts', () => {
  test('a healthy pool has no problem at all (OVS internal port UNKNOWN with UP,LOWER_UP is up)', () => {
    assert.deepEqual(only(healthy()), []);
  });

  test('NAMESPACE_MISSING names the pool, the namespace and the state dir', () => {
    const f = healthy();
    f.namespaces = [];
    f.networks = new Map();
    const problems = only(f);
    const p = problems.find((x) => x.code === 'NAMESPACE_MISSING')!;
    assert.equal(p.severity, 'CRITICAL');
    assert.equal(p.poolId, POOL);
    assert.equal(p.namespace, NS);
    assert.equal(p.file, STATE_DIR);
    assert.match(p.message, new RegExp(`namespace ${NS} does not exist`));
    // The live haproxy is then necessarily outside its (missing) namespace.
    assert.deepEqual(codesOf(problems), ['HAPROXY_OUTSIDE_NAMESPACE', 'NAMESPACE_MISSING']);
  });

  test('HAPROXY_MISSING and HAPROXY_PID_STALE when the pid file names a dead process; no STATS_SOCKET_DEAD or member rule then', () => {
    const f = healthy();
    f.processes = [INIT];
    f.stats = new Map([[SOCK, { reachable: false, reason: 'refused', error: 'connect ECONNREFUSED' }]]);
    const problems = only(f);
    assert.deepEqual(codesOf(problems), ['HAPROXY_MISSING', 'HAPROXY_PID_STALE']);
    const stale = problems.find((p) => p.code === 'HAPROXY_PID_STALE')!;
    assert.equal(stale.pid, HAPROXY_PID);
    assert.equal(stale.processStartedAt, null, 'a dead pid links to no process');
    assert.equal(stale.file, PID_FILE);
    assert.match(problems.find((p) => p.code === 'HAPROXY_MISSING')!.message, new RegExp(`ip netns exec ${NS} haproxy -f ${CONF} -p ${PID_FILE}`));
  });

  test('a pid reused by another program is stale, and the message says what it is now', () => {
    const f = healthy();
    f.processes = [INIT, proc(HAPROXY_PID, { comm: 'bash', argv: ['bash'], exe: '/bin/bash' }), proc(4242)];
    const problems = only(f);
    assert.deepEqual(codesOf(problems), ['HAPROXY_PID_STALE']);
    assert.match(problems[0]!.message, /pid 4100, now bash/);
    assert.match(problems[0]!.message, /live haproxy is pid 4242/);
  });

  test('HAPROXY_OUTSIDE_NAMESPACE names where it runs (the root namespace by pid 1)', () => {
    const f = healthy();
    f.processes = [INIT, proc(HAPROXY_PID, { netnsInode: ROOT_INODE })];
    const problems = only(f);
    assert.deepEqual(codesOf(problems), ['HAPROXY_OUTSIDE_NAMESPACE']);
    assert.equal(problems[0]!.pid, HAPROXY_PID);
    assert.equal(problems[0]!.processStartedAt, STARTED);
    assert.match(problems[0]!.message, /in the root namespace instead of namespace qlbaas-/);
    f.namespaces = [...f.namespaces!, namespace('lbtw-wrong', 77)]; // observations are never mutated: indexes are kept per payload object
    f.processes = [INIT, proc(HAPROXY_PID, { netnsInode: 77 })];
    assert.match(only(f)[0]!.message, /in namespace lbtw-wrong instead/);
  });

  test('HAPROXY_CONFIG_NEWER only beyond the clock slack', () => {
    const f = healthy({ deployment: { configMtimeMs: STARTED + CONFIG_NEWER_SLACK_MS - 1 } });
    assert.deepEqual(only(f), [], 'within the slack of whole-second btime');
    const g = healthy({ deployment: { configMtimeMs: STARTED + 5000 } });
    const problems = only(g);
    assert.deepEqual(codesOf(problems), ['HAPROXY_CONFIG_NEWER']);
    assert.equal(problems[0]!.pid, HAPROXY_PID);
    assert.equal(problems[0]!.file, CONF);
    assert.match(problems[0]!.message, /5s after haproxy pid 4100 started/);
  });

  test('HAPROXY_MULTIPLE links the process that is not the live one', () => {
    const f = healthy();
    f.processes = [INIT, proc(HAPROXY_PID), proc(4999, { startedAt: STARTED + 10_000 })];
    const problems = only(f);
    assert.deepEqual(codesOf(problems), ['HAPROXY_MULTIPLE']);
    assert.equal(problems[0]!.pid, 4999);
    assert.match(problems[0]!.message, /2 haproxy processes run/);
  });

  test('STATS_SOCKET_DEAD when haproxy runs but the socket does not answer; member health is then unknown, not DOWN', () => {
    const f = healthy();
    f.stats = new Map([[SOCK, { reachable: false, reason: 'missing', error: `connect ENOENT ${SOCK}` }]]);
    const problems = only(f);
    assert.deepEqual(codesOf(problems), ['STATS_SOCKET_DEAD']);
    assert.equal(problems[0]!.file, SOCK);
    assert.equal(problems[0]!.pid, HAPROXY_PID);
  });

  test('CONFIG_UNREADABLE, and the VIP checks that needed it are skipped', () => {
    const f = healthy({ deployment: { config: null, configError: 'EACCES: permission denied' } });
    const problems = only(f);
    assert.deepEqual(codesOf(problems), ['CONFIG_UNREADABLE']);
    assert.match(problems[0]!.message, /EACCES/);
  });

  test('VIP_INTERFACE_MISSING hides its echoes (address, route, link, OVS)', () => {
    const f = healthy();
    f.networks = new Map([[NS, network({ interfaces: [network().interfaces[0]!], routes: [] })]]);
    assert.deepEqual(codesOf(only(f)), ['VIP_INTERFACE_MISSING']);
  });

  test('VIP_ADDRESS_MISSING names the bind and the tap', () => {
    const f = healthy();
    const net = network();
    net.interfaces[1]!.addresses = [];
    f.networks = new Map([[NS, net]]);
    const problems = only(f);
    assert.deepEqual(codesOf(problems), ['VIP_ADDRESS_MISSING']);
    assert.equal(problems[0]!.interfaceName, TAP);
    assert.match(problems[0]!.message, /binds 10\.0\.0\.10:80/);
  });

  test('INTERFACE_DOWN: no UP flag, or no carrier; UNKNOWN with UP and LOWER_UP is fine', () => {
    for (const [flags, operState, hint] of [
      [['BROADCAST', 'MULTICAST'], 'DOWN', /link set tap70081ac2-6f up/],
      [['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP'], 'DOWN', /no carrier/],
    ] as const) {
      const f = healthy();
      const net = network();
      net.interfaces[1] = { ...net.interfaces[1]!, flags: [...flags], operState };
      f.networks = new Map([[NS, net]]);
      const problems = only(f);
      assert.deepEqual(codesOf(problems), ['INTERFACE_DOWN']);
      assert.match(problems[0]!.message, hint);
      assert.equal(problems[0]!.interfaceName, TAP);
    }
  });

  test('NO_DEFAULT_ROUTE: a blackhole default does not count; a default in another table does', () => {
    const f = healthy();
    f.networks = new Map([[NS, network({ routes: [route({ destination: '10.0.0.0/24', gateway: null })] })]]);
    assert.deepEqual(codesOf(only(f)), ['NO_DEFAULT_ROUTE']);
    f.networks = new Map([[NS, network({ routes: [route({ type: 'blackhole', gateway: null })] })]]);
    assert.deepEqual(codesOf(only(f)), ['NO_DEFAULT_ROUTE']);
    f.networks = new Map([[NS, network({ routes: [route({ table: 100 })] })]]);
    assert.deepEqual(only(f), []);
  });

  test('OVS_PORT_MISSING names the port the tap should have', () => {
    const f = healthy();
    f.ovs = ovs([]);
    const problems = only(f);
    assert.deepEqual(codesOf(problems), ['OVS_PORT_MISSING']);
    assert.equal(problems[0]!.ovsPort, TAP);
  });

  test('OVS_DEAD_VLAN by tag 4095 or by trunks=[4095]', () => {
    for (const port of [ovsPort(TAP, { tag: 4095 }), ovsPort(TAP, { tag: null, trunks: [4095], vlanMode: 'trunk' })]) {
      const f = healthy();
      f.ovs = ovs([port]);
      const problems = only(f);
      assert.deepEqual(codesOf(problems), ['OVS_DEAD_VLAN']);
      assert.equal(problems[0]!.ovsPort, TAP);
    }
  });

  test('OVS_INTERFACE_ERROR on ofport -1, and the pool tap is not an orphan port', () => {
    const f = healthy();
    f.ovs = ovs([ovsPort(TAP, {}, { ofport: -1, error: `could not open network device ${TAP} (No such device)`, type: '' })]);
    const problems = only(f);
    assert.deepEqual(codesOf(problems), ['OVS_INTERFACE_ERROR']);
    assert.match(problems[0]!.message, /No such device/);
  });

  test('IFACE_ID_MISMATCH when iface-id does not start with the tap prefix, or is missing', () => {
    for (const ids of [{ 'iface-id': '11111111-2222-4333-8444-555555555555' }, {}] as Array<Record<string, string>>) {
      const f = healthy();
      f.ovs = ovs([ovsPort(TAP, {}, { externalIds: ids })]);
      const problems = only(f);
      assert.deepEqual(codesOf(problems), ['IFACE_ID_MISMATCH']);
      assert.equal(problems[0]!.ovsPort, TAP);
    }
  });

  test('MEMBER_DOWN per member; ALL_MEMBERS_DOWN once when none is left', () => {
    const f = healthy();
    f.stats = new Map([[SOCK, stats('UP', 'DOWN')]]);
    let problems = only(f);
    assert.deepEqual(codesOf(problems), ['MEMBER_DOWN']);
    assert.equal(problems[0]!.memberId, MEMBER_B);
    assert.equal(problems[0]!.severity, 'INFO');
    f.stats = new Map([[SOCK, stats('DOWN', 'DOWN 1/2')]]);
    problems = only(f);
    assert.deepEqual(codesOf(problems), ['ALL_MEMBERS_DOWN']);
    assert.equal(problems[0]!.memberId, null);
    assert.match(problems[0]!.message, new RegExp(`${MEMBER_A}.*${MEMBER_B}`));
    // A member in maintenance is not counted as serving or down.
    f.stats = new Map([[SOCK, stats('MAINT', 'DOWN')]]);
    assert.deepEqual(codesOf(only(f)), ['ALL_MEMBERS_DOWN']);
  });

  test('ORPHAN_NAMESPACE: a qlbaas namespace no state dir names; a v2 load balancer whose config does not parse is not one', () => {
    const f = healthy();
    const orphan = 'qlbaas-00000000-0000-4000-8000-0000000000aa';
    const unparsed = 'qlbaas-00000000-0000-4000-8000-0000000000bb';
    f.namespaces!.push(namespace(orphan, 10), namespace(unparsed, 11), namespace('qrouter-00000000-0000-4000-8000-0000000000cc', 12));
    f.deployments.push(deployment({ layout: 'v2', id: unparsed.slice(7), namespace: unparsed, config: null, configError: 'garbage' }));
    const problems = only(f);
    // The unparsed v2 config is no orphan; it is reported as what it is (it has no pool record to carry it).
    assert.deepEqual(problems.map((p) => [p.code, p.namespace, p.severity]), [['CONFIG_UNREADABLE', unparsed, 'WARNING'], ['ORPHAN_NAMESPACE', orphan, 'INFO']]);
  });

  test('ORPHAN_OVS_PORT: a port in error that is no pool tap; unsure (pool namespace unread) says nothing', () => {
    const f = healthy();
    const leftover = ovsPort('tapdeadbeef-00', {}, { ofport: -1, error: 'could not open network device tapdeadbeef-00 (No such device)', type: '', externalIds: { 'iface-id': 'deadbeef-0000-4000-8000-000000000000' } });
    f.ovs = ovs([ovsPort(TAP), leftover, ovsPort('tapfine000-00', {}, { ofport: 9 })]);
    const problems = only(f);
    assert.deepEqual(problems.map((p) => [p.code, p.ovsPort]), [['ORPHAN_OVS_PORT', 'tapdeadbeef-00']]);
    f.networks = new Map();
    f.gaps = [{ probe: 'ip', scope: NS, kind: 'timeout', message: 'ip timed out', staleObservedAt: null }];
    assert.deepEqual(codesOf(only(f)), ['CHECK_INCOMPLETE']);
  });

  test('an unreadable OVS is CHECK_INCOMPLETE naming ovs, never OVS_PORT_MISSING', () => {
    const f = healthy();
    f.ovs = null;
    f.gaps = [{ probe: 'ovs', scope: 'unix:/run/openvswitch/db.sock', kind: 'not-found', message: 'ovs-vsctl: command not found', staleObservedAt: null }];
    const problems = only(f);
    assert.deepEqual(codesOf(problems), ['CHECK_INCOMPLETE']);
    assert.equal(problems[0]!.severity, 'WARNING');
    assert.equal(problems[0]!.probe, 'ovs:unix:/run/openvswitch/db.sock');
    assert.equal(problems[0]!.poolId, null, 'host-wide: one problem, no pool');
    assert.match(problems[0]!.message, /OVS_PORT_MISSING/);
    assert.match(problems[0]!.message, /command not found/);
    // In pool mode it carries the pool.
    const [forPool] = judge(f, ALL, { pool: f.pools[0]! });
    assert.equal(forPool!.poolId, POOL);
  });

  test('an unreadable namespace list is not NAMESPACE_MISSING, and a filter by code still shows the gap', () => {
    const f = healthy();
    f.namespaces = null;
    f.networks = new Map();
    f.gaps = [{ probe: 'netns', scope: '', kind: 'io', message: 'EACCES /run/netns', staleObservedAt: null }];
    assert.deepEqual(codesOf(judge(f, new Set<ProblemCode>(['NAMESPACE_MISSING']))), ['CHECK_INCOMPLETE']);
  });

  test('every code has a severity, a meaning and known probes; every rule is in the table', () => {
    for (const code of PROBLEM_CODE_NAMES) {
      const spec = PROBLEM_CODES[code];
      assert.ok(['CRITICAL', 'WARNING', 'INFO'].includes(spec.severity), code);
      assert.ok(spec.meaning.length > 20, code);
    }
    assert.deepEqual(selectCodes({ severity: 'INFO' }), new Set(['MEMBER_DOWN', 'ORPHAN_NAMESPACE', 'ORPHAN_OVS_PORT']));
    assert.deepEqual(selectCodes({ code: 'MEMBER_DOWN', severity: 'CRITICAL' }), new Set(), 'code and severity must both hold');
  });
});

// ---------------------------------------------------------------------------------------------
// Gathering through a real TopologySession over fake probes.

interface FakeHost {
  runs: string[];
  ovsFails: boolean;
  ovsSnapshot: OvsSnapshot;
}

function fakeSession(host: FakeHost, store = new ObservationStore(':memory:')): TopologySession {
  const config = loadConfig({ LBTOPO_DB: ':memory:' });
  const def = <T>(name: ProbeName, run: (scope: string) => T) => ({
    name,
    ttlMs: 60_000,
    run: async (scope: string) => {
      host.runs.push(scope ? `${name}:${scope}` : name);
      return run(scope);
    },
  });
  const probes: HostProbes = {
    lbaas: def('lbaas', () => [deployment()]),
    netns: def('netns', () => [namespace(NS, NS_INODE)]),
    proc: def('proc', () => [INIT, proc(HAPROXY_PID)]),
    ip: def('ip', () => network()),
    ovs: def('ovs', () => {
      if (host.ovsFails) throw new DiscoveryError('not-found', ['ovs-vsctl'], 'command not found');
      return host.ovsSnapshot;
    }),
    stats: def('stats', () => stats('UP', 'UP')),
    amphora: def('amphora', () => ({ octaviaDir: '/nonexistent', namespace: 'amphora-haproxy', keepalived: null, agent: null, agentError: null, certificates: [], lvs: [] })),
    rule: def('rule', () => []),
  };
  return new TopologySession(new ProbeRunner(store, () => {}), probes, config);
}

const newHost = (): FakeHost => ({ runs: [], ovsFails: false, ovsSnapshot: ovs() });

describe('gathering facts', () => {
  test('each code runs only the probes it needs', async () => {
    const cases: Array<[ProblemCode, string[]]> = [
      ['NAMESPACE_MISSING', ['lbaas', 'netns']],
      ['HAPROXY_MISSING', ['lbaas', 'proc']],
      ['ORPHAN_NAMESPACE', ['lbaas', 'netns']],
      ['MEMBER_DOWN', ['lbaas', `stats:${SOCK}`]],
      ['NO_DEFAULT_ROUTE', ['lbaas', 'netns', `ip:${NS}`]],
      ['OVS_DEAD_VLAN', ['lbaas', 'netns', 'ovs', `ip:${NS}`]],
      // No port in error: telling leftovers from pool taps needs no device list.
      ['ORPHAN_OVS_PORT', ['lbaas', 'ovs']],
    ];
    for (const [code, expected] of cases) {
      const host = newHost();
      const problems = await diagnoseHost(fakeSession(host), { code });
      assert.deepEqual(problems, [], code);
      assert.deepEqual(host.runs.map((r) => r.replace(/^ovs:.*/, 'ovs')).sort(), expected.sort(), code);
    }
  });

  test('ORPHAN_OVS_PORT reads the pool namespaces only when OVS shows a port in error', async () => {
    const host = newHost();
    host.ovsSnapshot = ovs([ovsPort(TAP), ovsPort('tapdeadbeef-00', {}, { ofport: -1, error: 'No such device' })]);
    const problems = await diagnoseHost(fakeSession(host), { code: 'ORPHAN_OVS_PORT' });
    assert.deepEqual(problems.map((p) => p.ovsPort), ['tapdeadbeef-00']);
    assert.deepEqual(host.runs.map((r) => r.replace(/^ovs:.*/, 'ovs')).sort(), ['lbaas', 'netns', 'ovs', `ip:${NS}`].sort());
  });

  test('a failed probe is a gap, and a stale observation is not judged', async () => {
    const host = newHost();
    host.ovsFails = true;
    let problems = await diagnoseHost(fakeSession(host));
    assert.deepEqual(codesOf(problems), ['CHECK_INCOMPLETE']);
    assert.match(problems[0]!.message, /the ovs probe .* failed \(not-found/);

    // A good look, then a failing one: the runner serves the last good snapshot as stale, and
    // the diagnosis does not judge it (the port it lacks may have come back since).
    const store = new ObservationStore(':memory:');
    const second = newHost();
    second.ovsSnapshot = ovs([]);
    await diagnoseHost(fakeSession(second, store));
    second.ovsFails = true;
    const session = fakeSession(second, store);
    session.requireFreshness(0);
    problems = await diagnoseHost(session);
    assert.deepEqual(codesOf(problems), ['CHECK_INCOMPLETE'], 'no OVS_PORT_MISSING from the stale snapshot');
    assert.match(problems[0]!.message, /last good observation, from .* was not judged/);
  });
});
