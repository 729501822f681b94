// Configs rendered by Octavia's own Jinja templates (Debian python3-octavia: the combined-listeners
// haproxy template, the keepalived VRRP template and the LVS template, fed with the sample objects
// of Octavia's unit tests) and what our parsers read from each. The render runs /usr/bin/python3
// test/octavia-render/render.py; python3-octavia is installed by .ci/run.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAmphoraState } from '../src/host/amphora-state.ts';
import { parseHaproxyConfig } from '../src/host/haproxy-config.ts';
import { parseKeepalivedConfig } from '../src/host/keepalived-config.ts';
import type { LbaasDeployment } from '../src/host/lbaas-state.ts';
import { poolsFromDeployments } from '../src/topology/pools.ts';
import { octaviaStatusOf } from '../src/topology/octavia-status.ts';

let rendered: Record<string, string>;

before(() => {
  const out = execFileSync('/usr/bin/python3', [new URL('./octavia-render/render.py', import.meta.url).pathname], { encoding: 'utf8', cwd: '/tmp', timeout: 60_000 });
  rendered = JSON.parse(out) as Record<string, string>;
});

function deploymentOf(text: string): LbaasDeployment {
  return {
    layout: 'octavia',
    id: 'sample_loadbalancer_id_1',
    stateDir: '/var/lib/octavia/sample_loadbalancer_id_1',
    configPath: '/var/lib/octavia/sample_loadbalancer_id_1/haproxy.cfg',
    pidPath: '/var/lib/octavia/sample_loadbalancer_id_1/sample_loadbalancer_id_1.pid',
    socketPath: '/var/lib/octavia/sample_loadbalancer_id_1.sock',
    socketExists: false,
    namespace: 'amphora-haproxy',
    configMtimeMs: null,
    pids: [],
    pidError: null,
    config: parseHaproxyConfig(text, { source: 'rendered' }),
    configError: null,
  };
}

test('HTTP: one listener, one pool <pool>:<listener>, two members, the stats socket beside the lb dir', () => {
  const config = parseHaproxyConfig(rendered['http']!);
  // `# Configuration for loadbalancer <id>` gives the id only when it is a UUID; the sample's is not.
  assert.equal(config.loadBalancerId, null);
  assert.deepEqual(config.frontends.map((f) => [f.name, f.binds.map((b) => b.raw), f.defaultBackend]), [['sample_listener_id_1', ['10.0.0.2:80'], 'sample_pool_id_1:sample_listener_id_1']]);
  const [backend] = config.backends;
  assert.equal(backend!.poolId, 'sample_pool_id_1');
  assert.equal(backend!.listenerId, 'sample_listener_id_1');
  assert.deepEqual(backend!.servers.map((s) => [s.id, s.address, s.port, s.weight]), [['sample_member_id_1', '10.0.0.99', 82, 13], ['sample_member_id_2', '10.0.0.98', 82, 13]]);
  const pools = poolsFromDeployments([deploymentOf(rendered['http']!)]);
  assert.deepEqual(pools.map((p) => [p.id, p.loadBalancerId, p.frontends.map((f) => f.name)]), [['sample_pool_id_1', 'sample_loadbalancer_id_1', ['sample_listener_id_1']]]);
});

test('TLS + SNI: the TERMINATED_HTTPS listener binds 443 with its crt-list, the redirect listener 80; one pool', () => {
  const config = parseHaproxyConfig(rendered['tls_sni']!);
  const binds = config.frontends.flatMap((f) => f.binds.map((b) => `${b.address}:${b.port}`));
  assert.ok(binds.includes('10.0.0.2:443'), JSON.stringify(binds));
  const tlsBind = config.frontends.flatMap((f) => f.binds).find((b) => b.port === 443)!;
  assert.match(tlsBind.options.join(' '), /ssl crt-list \/var\/lib\/octavia\/certs\/sample_loadbalancer_id_1\/sample_listener_id_1\.pem/);
  assert.deepEqual(poolsFromDeployments([deploymentOf(rendered['tls_sni']!)]).map((p) => p.id), ['sample_pool_id_1']);
});

test('L7 policies: use_backend to the second pool; both pools found', () => {
  const config = parseHaproxyConfig(rendered['l7']!);
  const [frontend] = config.frontends;
  assert.equal(frontend!.defaultBackend, 'sample_pool_id_1:sample_listener_id_1');
  assert.ok(frontend!.useBackends.some((u) => u.backend === 'sample_pool_id_2:sample_listener_id_1'), JSON.stringify(frontend!.useBackends));
  assert.deepEqual(config.backends.map((b) => b.poolId).sort(), ['sample_pool_id_1', 'sample_pool_id_2']);
  assert.deepEqual(poolsFromDeployments([deploymentOf(rendered['l7']!)]).map((p) => p.id).sort(), ['sample_pool_id_1', 'sample_pool_id_2']);
});

test('ACTIVE_STANDBY haproxy: the peers section named <lb>_peers', () => {
  const config = parseHaproxyConfig(rendered['active_standby']!);
  assert.deepEqual(config.peers.map((p) => p.name), ['sample_loadbalancer_id_1_peers']);
  assert.equal(config.frontends.length, 1);
});

test('PROMETHEUS: prometheus-exporter-internal is neither a pool nor a listener Octavia counts', () => {
  const d = deploymentOf(rendered['prometheus']!);
  assert.deepEqual(d.config!.backends.map((b) => b.name), ['prometheus-exporter-internal']);
  assert.deepEqual(poolsFromDeployments([d]), []);
  const status = octaviaStatusOf({
    loadBalancerId: d.id,
    config: d.config!,
    haproxyRunning: true,
    keepalivedDown: false,
    stats: {
      reachable: true,
      info: { name: 'HAProxy', version: '2.6.12', pid: 1, uptimeSec: 1, currConns: 0, maxconn: 50000 } as never,
      rows: [
        { pxname: 'prometheus-exporter-internal-endpoint', svname: 'FRONTEND', type: 'frontend', status: 'OPEN' },
        { pxname: 'sample_listener_id_1', svname: 'FRONTEND', type: 'frontend', status: 'OPEN' },
        { pxname: 'prometheus-exporter-internal', svname: 'BACKEND', type: 'backend', status: 'UP' },
      ] as never,
    },
  });
  assert.equal(status.expectedListeners, 1);
  assert.equal(status.heartbeatListeners, 1);
  assert.deepEqual(status.listeners, [{ id: 'sample_listener_id_1', operatingStatus: 'ONLINE' }]);
  assert.deepEqual(status.pools, []);
  assert.equal(status.operatingStatus, 'ONLINE');
});

test('keepalived VRRP (MASTER and BACKUP renders): instance, peers, priority, VIP, table-1 routes, rule, track script', () => {
  for (const [shape, state, priority, self, peer] of [['keepalived_master', 'MASTER', 100, '10.0.0.1', '10.0.0.2'], ['keepalived_backup', 'BACKUP', 90, '10.0.0.2', '10.0.0.1']] as const) {
    const config = parseKeepalivedConfig(rendered[shape]!);
    assert.deepEqual(config.vrrpScripts, [{ name: 'check_script', script: '/var/lib/octavia/vrrp/check_script.sh', intervalSeconds: 5, timeoutSeconds: null, fall: 2, rise: 2, weight: null }]);
    const [instance] = config.vrrpInstances;
    assert.equal(instance!.name, 'TESTGROUP');
    assert.equal(instance!.initialState, state);
    assert.equal(instance!.interface, 'eth1');
    assert.equal(instance!.virtualRouterId, 1);
    assert.equal(instance!.priority, priority);
    assert.equal(instance!.nopreempt, true);
    assert.equal(instance!.unicastSourceIp, self);
    assert.deepEqual(instance!.unicastPeers, [peer]);
    assert.deepEqual(instance!.virtualIpAddresses.map((v) => [v.address, v.prefixLength]), [['10.1.0.5', null]]);
    assert.deepEqual(instance!.virtualIpAddressesExcluded, []);
    assert.deepEqual(instance!.virtualRoutes.map((r) => [r.destination, r.source, r.gateway, r.device, r.scope, r.table, r.onlink]), [
      ['10.1.0.0/24', '10.1.0.5', null, 'eth1', 'link', 1, false],
      ['default', null, '10.1.0.1', 'eth1', null, 1, true],
    ]);
    assert.deepEqual(instance!.virtualRules.map((r) => [r.from, r.table, r.priority]), [['10.1.0.5/32', 1, 100]]);
    assert.deepEqual(instance!.trackScripts, ['check_script']);
    assert.equal(instance!.authType, 'PASS');
  }
});

test('UDP (keepalived LVS): the virtual_server group, its VIP, protocol and real servers with their MISC_CHECK', () => {
  const config = parseKeepalivedConfig(rendered['udp']!);
  assert.equal(config.netNamespace, 'amphora-haproxy');
  assert.equal(config.vrrpInstances.length, 0);
  const [vs] = config.virtualServers;
  assert.equal(vs!.group, 'ipv4-group');
  assert.deepEqual(vs!.addresses, [{ address: '10.0.0.2', port: 80 }]);
  assert.equal(vs!.protocol, 'UDP');
  assert.equal(vs!.lbAlgorithm, 'wrr');
  assert.equal(vs!.lbKind, 'NAT');
  assert.equal(vs!.delayLoopSeconds, 30);
  assert.deepEqual(vs!.realServers.map((r) => [r.address, r.port, r.weight, r.checks.map((c) => [c.type, c.miscPath])]), [
    ['10.0.0.99', 82, 13, [['MISC_CHECK', '/var/lib/octavia/lvs/check/udp_check.sh 10.0.0.99 82']]],
    ['10.0.0.98', 82, 13, [['MISC_CHECK', '/var/lib/octavia/lvs/check/udp_check.sh 10.0.0.98 82']]],
  ]);
});

test('UDP listener files: readAmphoraState finds <base>/lvs/octavia-keepalivedlvs-<listener>.conf and parses it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-lvs-'));
  const listenerId = '5d7c1f60-3f1e-4a47-9a55-5a8f5d7d0c11';
  mkdirSync(join(dir, 'lvs'));
  writeFileSync(join(dir, 'lvs', `octavia-keepalivedlvs-${listenerId}.conf`), rendered['udp']!);
  writeFileSync(join(dir, 'lvs', `octavia-keepalivedlvs-${listenerId}.pid`), '4242\n');
  writeFileSync(join(dir, 'lvs', 'octavia-keepalivedlvs-not-a-uuid.conf'), rendered['udp']!);
  const state = await readAmphoraState({ octaviaDir: dir, namespace: 'amphora-haproxy', agentConfigPath: join(dir, 'none') });
  assert.equal(state.lvs.length, 1);
  const [lvs] = state.lvs;
  assert.equal(lvs!.listenerId, listenerId);
  assert.deepEqual(lvs!.pids, [4242]);
  assert.equal(lvs!.config!.virtualServers[0]!.protocol, 'UDP');
  assert.deepEqual(lvs!.config!.virtualServers[0]!.realServers.map((r) => r.address), ['10.0.0.99', '10.0.0.98']);
});

test('a keepalived config whose blocks do not balance is a parse error naming the line, not an empty config', () => {
  assert.throws(() => parseKeepalivedConfig('vrrp_instance x {\n  state MASTER\n', { source: '/x.conf' }), /\/x\.conf: line 3: 1 block\(s\) not closed/);
  assert.throws(() => parseKeepalivedConfig('}\n', { source: '/x.conf' }), /line 1: '}' without an open block/);
});
