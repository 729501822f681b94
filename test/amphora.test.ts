// Unit tests of the amphora readers and judges on recorded real outputs:
//   `ip -j -n NS rule show` recorded on iproute2 6.1.0 (a namespace with `rule add from 10.0.0.5/32
//   table 1 priority 100` and `from 10.0.1.0/24 table 2 priority 101`), and after keepalived 2.2.7
//   entered MASTER in a lab amphora (its rules carry `"protocol":"keepalived"`).
// The role table and the status table are exercised case by case; the lab pair test proves them live.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { isSourceRule, parseIpRules } from '../src/host/ip-rules.ts';
import { parseAgentConfig, parseHealthManagerTarget, readAmphoraState } from '../src/host/amphora-state.ts';
import { parseHaproxyConfig } from '../src/host/haproxy-config.ts';
import { vrrpViewOf } from '../src/topology/amphora.ts';
import { octaviaStatusOf } from '../src/topology/octavia-status.ts';
import type { AmphoraState } from '../src/host/amphora-state.ts';
import type { NamespaceNetwork } from '../src/host/iproute.ts';
import type { ProcessInfo } from '../src/host/procfs.ts';
import type { StatsObservation } from '../src/topology/probes.ts';

const RULES_RECORDED =
  '[{"priority":0,"src":"all","table":"local"},{"priority":100,"src":"10.0.0.5","table":"1"},{"priority":101,"src":"10.0.1.0","srclen":24,"table":"2"},{"priority":32766,"src":"all","table":"main"},{"priority":32767,"src":"all","table":"default"}]';
const RULES_KEEPALIVED = '[{"priority":0,"src":"all","table":"local"},{"priority":100,"src":"10.99.0.5","table":"1","protocol":"keepalived"},{"priority":32766,"src":"all","table":"main"}]';

test('ip rule JSON: host sources have no srclen, tables become numbers, unknown keys are ignored', () => {
  const rules = parseIpRules(RULES_RECORDED, 'inet', ['ip', 'rule']);
  assert.deepEqual(rules[1], { family: 'inet', priority: 100, source: '10.0.0.5', sourceLength: null, destination: null, table: 1, action: null });
  assert.equal(rules[2]!.sourceLength, 24);
  assert.equal(rules[3]!.table, 'main');
  assert.ok(isSourceRule(rules[1]!, '10.0.0.5', 1));
  assert.ok(!isSourceRule(rules[2]!, '10.0.1.0', 2), 'a /24 source is not a host rule');
  assert.ok(isSourceRule(parseIpRules(RULES_KEEPALIVED, 'inet', ['ip'])[1]!, '10.99.0.5', 1));
  assert.throws(() => parseIpRules('garbage', 'inet', ['ip', '-j', 'rule', 'show']), /ip -j rule show: not JSON/);
  assert.throws(() => parseIpRules('[{"priority":"x"}]', 'inet', ['ip']), /unexpected JSON/);
});

test('controller_ip_port_list entries as the health sender splits them', () => {
  assert.deepEqual(parseHealthManagerTarget('192.0.2.10:5555'), { raw: '192.0.2.10:5555', host: '192.0.2.10', port: 5555, error: null });
  assert.deepEqual(parseHealthManagerTarget('[2001:db8::1]:5555').host, '2001:db8::1');
  assert.match(parseHealthManagerTarget('hm.example:5555').error!, /not an IP address/);
  assert.match(parseHealthManagerTarget('192.0.2.10').error!, /no ":port"|not an IP/);
  assert.match(parseHealthManagerTarget('192.0.2.10:99999').error!, /not a port/);
  const agent = parseAgentConfig('[amphora_agent]\namphora_id = a1\n[health_manager]\ncontroller_ip_port_list = 192.0.2.10:5555, 192.0.2.11:5555\n[controller_worker]\nloadbalancer_topology = SINGLE\n', '/etc/octavia/amphora-agent.conf');
  assert.deepEqual(agent.targets.map((t) => t.host), ['192.0.2.10', '192.0.2.11']);
  assert.equal(agent.topology, 'SINGLE');
  assert.equal(agent.agentServerCert, '/etc/octavia/certs/server.pem');
});

test('readAmphoraState: no files is SINGLE and no agent; a certificate is read with node:crypto; a broken PEM is an error on that file only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-amphora-'));
  assert.deepEqual(await readAmphoraState({ octaviaDir: dir, namespace: 'amphora-haproxy', agentConfigPath: join(dir, 'none.conf') }), {
    octaviaDir: dir, namespace: 'amphora-haproxy', keepalived: null, agent: null, agentError: null, certificates: [], lvs: [],
  });
  const certDir = join(dir, 'certs');
  mkdirSync(join(certDir, '0b1c1f4e-5f6a-4d62-9a3c-0a4a3f2b9f10'), { recursive: true });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'server.pem'), '-days', '30', '-subj', '/CN=amphora-test'], { stdio: 'ignore' });
  writeFileSync(join(certDir, '0b1c1f4e-5f6a-4d62-9a3c-0a4a3f2b9f10', 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  writeFileSync(join(dir, 'agent.conf'), `[amphora_agent]\nagent_server_cert = ${join(dir, 'server.pem')}\n[haproxy_amphora]\nbase_cert_dir = ${certDir}\n`);
  const state = await readAmphoraState({ octaviaDir: dir, namespace: 'amphora-haproxy', agentConfigPath: join(dir, 'agent.conf') });
  const [agentCert, broken] = state.certificates;
  assert.equal(agentCert!.kind, 'agent');
  assert.equal(agentCert!.subject, 'CN=amphora-test');
  assert.ok(Math.abs(agentCert!.notAfter! - (Date.now() + 30 * 86_400_000)) < 2 * 86_400_000);
  assert.equal(broken!.kind, 'listener');
  assert.equal(broken!.notAfter, null);
  assert.ok(broken!.error);
});

// ---------------------------------------------------------------------------------------------
// The role table.

const KEEPALIVED: AmphoraState = {
  octaviaDir: '/var/lib/octavia',
  namespace: 'amphora-haproxy',
  agent: null,
  agentError: null,
  certificates: [],
  lvs: [],
  keepalived: {
    configPath: '/var/lib/octavia/vrrp/octavia-keepalived.conf',
    configError: null,
    pidPath: '/var/lib/octavia/vrrp/octavia-keepalived.pid',
    pids: [500],
    pidError: null,
    checkScriptPath: '/var/lib/octavia/vrrp/check_script.sh',
    checkScripts: [],
    config: {
      source: null,
      vrrpScripts: [],
      virtualServers: [],
      netNamespace: null,
      nodes: [],
      vrrpInstances: [
        {
          name: 'g', initialState: 'BACKUP', interface: 'eth1', virtualRouterId: 1, priority: 90, advertIntervalSeconds: 1, nopreempt: true, unicastSourceIp: '10.1.0.11', unicastPeers: ['10.1.0.10'],
          virtualIpAddresses: [{ address: '10.1.0.5', prefixLength: null, device: null, raw: '10.1.0.5' }],
          virtualIpAddressesExcluded: [],
          virtualRoutes: [{ destination: 'default', source: null, gateway: '10.1.0.1', device: 'eth1', scope: null, table: 1, onlink: true, raw: 'default via 10.1.0.1 dev eth1 onlink table 1' }],
          virtualRules: [{ from: '10.1.0.5/32', to: null, table: 1, priority: 100, raw: 'from 10.1.0.5/32 table 1 priority 100' }],
          trackScripts: ['check_script'], authType: 'PASS',
        },
      ],
    },
  },
};

const keepalivedProcess = { pid: 500, ppid: 1, comm: 'keepalived', state: 'S', startTicks: 1, startedAt: 1, uid: 0, user: 'root', rssBytes: 1, argv: ['keepalived', '-f', '/var/lib/octavia/vrrp/octavia-keepalived.conf'], exe: null, netnsInode: 7 } as ProcessInfo;

function net(vip: boolean, tableDefault: boolean): NamespaceNetwork {
  return {
    namespace: 'amphora-haproxy',
    interfaces: [{ index: 2, name: 'eth1', macAddress: null, mtu: 1500, operState: 'UP', flags: ['UP'], kind: null, master: null, linkIndex: null, linkNetnsId: null, stats: null,
      addresses: [{ family: 'inet', address: '10.1.0.11', prefixLength: 24, scope: 'global', broadcast: null, label: null, dynamic: false }, ...(vip ? [{ family: 'inet' as const, address: '10.1.0.5', prefixLength: 32, scope: 'global', broadcast: null, label: null, dynamic: false }] : [])] }],
    routes: tableDefault ? [{ family: 'inet', table: 1, destination: 'default', gateway: '10.1.0.1', device: 'eth1', protocol: 'keepalived', scope: null, preferredSource: null, metric: null, type: 'unicast', flags: ['onlink'], nexthops: [] }] : [],
  };
}
const vipRule = parseIpRules('[{"priority":100,"src":"10.1.0.5","table":"1"}]', 'inet', ['ip']);

test('the live role: MASTER, BACKUP, FAULT, UNKNOWN and SINGLE, each from its evidence', () => {
  assert.equal(vrrpViewOf(KEEPALIVED, [keepalivedProcess], net(true, true), vipRule).role, 'MASTER');
  const master = vrrpViewOf(KEEPALIVED, [keepalivedProcess], net(true, false), []);
  assert.equal(master.role, 'MASTER');
  assert.deepEqual(master.evidence.rulesMissing?.map((r) => r.raw), ['from 10.1.0.5/32 table 1 priority 100']);
  assert.equal(vrrpViewOf(KEEPALIVED, [keepalivedProcess], net(false, false), []).role, 'BACKUP');
  assert.equal(vrrpViewOf(KEEPALIVED, [keepalivedProcess], net(false, true), []).role, 'FAULT', 'a table-1 default without the VIP: half a transition');
  const dead = vrrpViewOf(KEEPALIVED, [], net(true, true), vipRule);
  assert.equal(dead.role, 'FAULT');
  assert.match(dead.reason, /left 10\.1\.0\.5 behind/);
  assert.equal(vrrpViewOf(KEEPALIVED, null, net(false, false), []).role, 'UNKNOWN');
  assert.equal(vrrpViewOf(KEEPALIVED, [keepalivedProcess], null, []).role, 'UNKNOWN');
  assert.equal(vrrpViewOf(KEEPALIVED, [keepalivedProcess], net(false, false), null).role, 'UNKNOWN', 'no VIP but the rules unread: cannot tell BACKUP from FAULT');
  assert.equal(vrrpViewOf({ ...KEEPALIVED, keepalived: null }, null, null, null).role, 'SINGLE');
  // A zombie keepalived is not running.
  assert.equal(vrrpViewOf(KEEPALIVED, [{ ...keepalivedProcess, state: 'Z' }], net(false, false), []).role, 'FAULT');
});

// ---------------------------------------------------------------------------------------------
// The status table (octavia-ovn-facts.md 1.4).

const CONFIG = parseHaproxyConfig(`# Configuration for loadbalancer 11111111-1111-4111-8111-111111111111
global
    daemon
frontend L1
    bind 10.1.0.5:80
    default_backend P1:L1
frontend L2
    bind 10.1.0.5:81
    default_backend P2:L2
backend P1:L1
    server M1 10.2.0.1:80 check
    server M2 10.2.0.2:80 check
backend P2:L2
    server M3 10.2.0.3:80 check
`);

function rows(...r: Array<[string, string, string, string, number?]>): StatsObservation {
  return {
    reachable: true,
    info: {} as never,
    rows: r.map(([pxname, svname, type, status, weight]) => ({ pxname, svname, type, status, weight: weight ?? 1 })) as never,
  };
}
const status = (stats: StatsObservation | null, extra: { haproxyRunning?: boolean; keepalivedDown?: boolean } = {}) =>
  octaviaStatusOf({ loadBalancerId: 'lb', config: CONFIG, stats, haproxyRunning: extra.haproxyRunning ?? true, keepalivedDown: extra.keepalivedDown ?? false });

test('Octavia status: OPEN/UP everywhere is ONLINE; a DOWN member degrades its pool and the LB', () => {
  const s = status(rows(['L1', 'FRONTEND', 'frontend', 'OPEN'], ['L2', 'FRONTEND', 'frontend', 'OPEN'], ['P1:L1', 'BACKEND', 'backend', 'UP'], ['P1:L1', 'M1', 'server', 'UP'], ['P1:L1', 'M2', 'server', 'DOWN'], ['P2:L2', 'BACKEND', 'backend', 'UP'], ['P2:L2', 'M3', 'server', 'UP']));
  assert.equal(s.operatingStatus, 'DEGRADED');
  assert.deepEqual(s.pools.map((p) => [p.id, p.operatingStatus, p.members.map((m) => m.operatingStatus)]), [['P1', 'DEGRADED', ['ONLINE', 'ERROR']], ['P2', 'ONLINE', ['ONLINE']]]);
});

test('Octavia status: FULL listener DEGRADED; BACKEND DOWN is pool ERROR and LB ERROR; DRAIN, MAINT, no check; missing pieces', () => {
  const s = status(rows(['L1', 'FRONTEND', 'frontend', 'FULL'], ['P1:L1', 'BACKEND', 'backend', 'DOWN'], ['P1:L1', 'M1', 'server', 'UP', 0], ['P1:L1', 'M2', 'server', 'MAINT'], ['P2:L2', 'BACKEND', 'backend', 'UP'], ['P2:L2', 'M3', 'server', 'no check']));
  assert.deepEqual(s.listeners, [{ id: 'L1', operatingStatus: 'DEGRADED' }, { id: 'L2', operatingStatus: 'ERROR' }]);
  assert.equal(s.heartbeatListeners, 1);
  assert.equal(s.expectedListeners, 2);
  assert.equal(s.operatingStatus, 'ERROR');
  assert.deepEqual(s.pools.map((p) => [p.operatingStatus, p.members.map((m) => m.operatingStatus)]), [['ERROR', ['DRAINING', 'OFFLINE']], ['ONLINE', ['NO_MONITOR']]]);
  const restarting = status(rows(['L1', 'FRONTEND', 'frontend', 'OPEN'], ['L2', 'FRONTEND', 'frontend', 'OPEN'], ['P1:L1', 'BACKEND', 'backend', 'UP'], ['P1:L1', 'M1', 'server', 'RESTARTING']));
  assert.deepEqual(restarting.pools[0]!.members.map((m) => m.operatingStatus), [null, 'OFFLINE'], 'RESTARTING keeps the previous status; a member missing from the message is OFFLINE');
  assert.equal(restarting.pools[1]!.operatingStatus, 'OFFLINE', 'a pool missing from the message is OFFLINE');
});

test('Octavia status: haproxy not running sends no listeners (ERROR) but the LB stays ONLINE; keepalived down or a dead socket sends nothing', () => {
  const dead = status(null, { haproxyRunning: false });
  assert.equal(dead.heartbeat, 'SENT');
  assert.equal(dead.operatingStatus, 'ONLINE');
  assert.deepEqual(dead.listeners.map((l) => l.operatingStatus), ['ERROR', 'ERROR']);
  assert.deepEqual(dead.pools.map((p) => p.operatingStatus), ['OFFLINE', 'OFFLINE']);
  const kd = status(rows(), { keepalivedDown: true });
  assert.equal(kd.heartbeat, 'SUPPRESSED_KEEPALIVED_DOWN');
  assert.equal(kd.operatingStatus, null);
  assert.equal(status({ reachable: false, error: 'x', reason: 'refused' } as never).heartbeat, 'SUPPRESSED_STATS_UNREADABLE');
});

// ---------------------------------------------------------------------------------------------
// Role-aware rules, judged on facts (the lab pair proves them live).

test('amphora network rules follow the role: BACKUP has no VIP problem, MASTER and SINGLE must have it all, UNKNOWN guesses nothing', async () => {
  const { emptyFacts } = await import('../src/diagnose/facts.ts');
  const { amphoraNetworkRules } = await import('../src/diagnose/amphora-rules.ts');
  const { poolsFromDeployments } = await import('../src/topology/pools.ts');
  const config = parseHaproxyConfig('global\n    daemon\nfrontend L1\n    bind 10.1.0.5:80\n    default_backend P1:L1\nbackend P1:L1\n    server M1 10.2.0.1:80 check\n');
  const deployment = {
    layout: 'octavia' as const, id: '11111111-1111-4111-8111-111111111111', stateDir: '/x', configPath: '/x/haproxy.cfg', pidPath: '/x/p.pid', socketPath: '/x.sock',
    socketExists: true, namespace: 'amphora-haproxy', configMtimeMs: null, pids: [], pidError: null, config, configError: null,
  };
  const [pool] = poolsFromDeployments([deployment]);
  const judge = (amphora: AmphoraState | null, processes: ProcessInfo[] | null, network: NamespaceNetwork, rules: ReturnType<typeof parseIpRules> | null) =>
    amphoraNetworkRules(pool!, emptyFacts({ amphora, processes, networks: new Map([['amphora-haproxy', network]]), rules: rules ? new Map([['amphora-haproxy', rules]]) : new Map() })).map((p) => p.code).sort();
  const noDefault = (n: NamespaceNetwork): NamespaceNetwork => ({ ...n, routes: [] });
  // BACKUP: no VIP, no rule, no default route anywhere: nothing to report.
  assert.deepEqual(judge(KEEPALIVED, [keepalivedProcess], noDefault(net(false, false)), []), []);
  // MASTER missing its rule: POLICY_ROUTE_MISSING (keepalived's config says what it installs);
  // its table-1 default is a default route, so no NO_DEFAULT_ROUTE.
  assert.deepEqual(judge(KEEPALIVED, [keepalivedProcess], net(true, true), []), ['POLICY_ROUTE_MISSING']);
  // UNKNOWN (rules unread, no VIP): no VIP, route or policy problem is guessed.
  assert.deepEqual(judge(KEEPALIVED, [keepalivedProcess], noDefault(net(false, false)), null), []);
  // SINGLE without the VIP, its default or its rule: all three.
  const single = { ...KEEPALIVED, keepalived: null };
  assert.deepEqual(judge(single, null, noDefault(net(false, false)), []), ['NO_DEFAULT_ROUTE', 'POLICY_ROUTE_MISSING', 'VIP_ADDRESS_MISSING']);
  // eth1 missing is a fault in every role, and lo down too.
  const noEth1: NamespaceNetwork = { namespace: 'amphora-haproxy', interfaces: [{ ...net(false, false).interfaces[0]!, name: 'lo', flags: [] }], routes: [] };
  assert.deepEqual(judge(KEEPALIVED, [keepalivedProcess], noEth1, []), ['LOOPBACK_DOWN', 'VIP_INTERFACE_MISSING']);
});

test('HAPROXY_RESTARTING counts changes of the master (oldest) process, not reloads that replace workers', async () => {
  const { emptyFacts } = await import('../src/diagnose/facts.ts');
  const { restartRules } = await import('../src/diagnose/amphora-rules.ts');
  const { poolsFromDeployments } = await import('../src/topology/pools.ts');
  const config = parseHaproxyConfig('global\n    daemon\nfrontend L1\n    bind 10.1.0.5:80\n    default_backend P1:L1\nbackend P1:L1\n    server M1 10.2.0.1:80 check\n');
  const [pool] = poolsFromDeployments([{ layout: 'octavia', id: '11111111-1111-4111-8111-111111111111', stateDir: '/x', configPath: '/x/haproxy.cfg', pidPath: '/x/p.pid', socketPath: '/x.sock', socketExists: true, namespace: 'amphora-haproxy', configMtimeMs: null, pids: [], pidError: null, config, configError: null }]);
  const now = Date.now();
  const s = (pid: number, agoS: number) => ({ pid, startedAt: now - agoS * 1000, netnsInode: 7 });
  const period = (...processes: ReturnType<typeof s>[]) => ({ from: now, to: now, processes });
  const judge = (periods: ReturnType<typeof period>[]) => restartRules(pool!, emptyFacts({ now, processes: [], haproxyHistory: new Map([['/x/haproxy.cfg', periods]]) })).map((p) => p.code);
  // Three reloads: the master 100 stays, workers 101..103 come and go.
  assert.deepEqual(judge([period(s(100, 300), s(103, 10)), period(s(100, 300), s(102, 100)), period(s(100, 300), s(101, 200))]), []);
  // Three masters within 10 minutes: a restart loop.
  assert.deepEqual(judge([period(s(300, 10), s(301, 10)), period(), period(s(200, 100)), period(s(100, 300))]), ['HAPROXY_RESTARTING']);
  // Three masters, but one started long ago: two starts in the window.
  assert.deepEqual(judge([period(s(300, 10)), period(s(200, 100)), period(s(100, 3600))]), []);
});
