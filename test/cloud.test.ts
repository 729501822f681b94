// The host against the cloud: a real lab (OVS, qlbaas namespaces, haproxy, members) beside real
// Keystone, neutron-server and octavia-api (Debian packages, loopback, SQLite), whose objects are
// made to match the lab's (same ids: the APIs choose their own, so the rows are renamed in their
// databases), then faulted on either side.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { labUp } from '../src/lab/lab.ts';
import type { Lab, LabPool } from '../src/lab/lab.ts';
import { createApp } from '../src/server.ts';
import type { App } from '../src/server.ts';
import { loadConfig, ConfigError } from '../src/config.ts';
import { resolveCloud } from '../src/cloud/clouds-config.ts';
import { createCloudClient } from '../src/cloud/client.ts';
import { CloudError } from '../src/cloud/http.ts';
import { KeystoneSession, TOKEN_RENEW_MARGIN_MS } from '../src/cloud/keystone.ts';
import { ServiceApi } from '../src/cloud/api.ts';
import { NeutronPort } from '../src/cloud/neutron.ts';
import { OctaviaLoadBalancer } from '../src/cloud/octavia.ts';
import { z } from 'zod';
import { ADMIN_PASSWORD, api, renameId, settleOctavia, sql, startOpenStack } from './openstack.ts';
import type { OpenStack } from './openstack.ts';
import { gql, tmpDb } from './support.ts';

const HOST = 'lbtopo-test-host';
const AMPHORA_ID = randomUUID();
const OTHER_HOST = 'other-host';

let os: OpenStack;
let lab: Lab;
let app: App;
let subnetId: string;
let networkId: string;
let healthy: LabPool, killed: LabPool, deletedInApi: LabPool, rebound: LabPool, extraMember: LabPool, statusDrift: LabPool, amphora: LabPool, v1: LabPool;
let apiOnlyLb: string;
const timings: Record<string, number> = {};
const t0 = performance.now();

/** An Octavia load balancer mirroring a lab pool: same load balancer, listener, pool and member ids. */
async function mirrorInOctavia(pool: LabPool): Promise<void> {
  const created = (
    await api(os.octaviaUrl, 'POST', '/v2/lbaas/loadbalancers', {
      loadbalancer: {
        name: `lab-${pool.layout}`,
        project_id: 'lbtopo',
        vip_subnet_id: subnetId,
        vip_address: pool.vip,
        listeners: [
          {
            name: 'listener',
            protocol: 'HTTP',
            protocol_port: pool.protocolPort,
            default_pool: { name: 'pool', protocol: 'HTTP', lb_algorithm: 'ROUND_ROBIN', members: pool.members.map((m) => ({ address: m.address, protocol_port: m.port })) },
          },
        ],
      },
    })
  ).loadbalancer;
  const apiPool = created.pools[0];
  renameId(os.octaviaDb, 'load_balancer', created.id, pool.loadBalancerId!);
  renameId(os.octaviaDb, 'listener', created.listeners[0].id, pool.frontendId);
  renameId(os.octaviaDb, 'pool', apiPool.id, pool.poolId);
  for (const m of apiPool.members as Array<{ id: string; address: string }>) renameId(os.octaviaDb, 'member', m.id, pool.members.find((x) => x.address === m.address)!.id);
  sql(os.octaviaDb, 'UPDATE vip SET port_id = ?, network_id = ? WHERE load_balancer_id = ?', pool.portId, networkId, pool.loadBalancerId);
  settleOctavia(os.octaviaDb);
  // What a working provider reports: members as haproxy sees them (the noop provider reports nothing).
  for (const m of pool.members) sql(os.octaviaDb, 'UPDATE member SET operating_status = ? WHERE id = ?', m.answering ? 'ONLINE' : 'ERROR', m.id);
}

/** The lab pool's VIP port in Neutron, with the lab's port id and MAC. */
async function mirrorInNeutron(pool: LabPool): Promise<void> {
  const octavia = pool.layout === 'octavia';
  const port = (
    await api(os.neutronUrl, 'POST', '/v2.0/ports', {
      port: {
        network_id: networkId,
        name: octavia ? `octavia-lb-${pool.loadBalancerId}` : `loadbalancer-${pool.loadBalancerId}`,
        device_owner: octavia ? 'Octavia' : 'neutron:LOADBALANCERV2',
        device_id: octavia ? `lb-${pool.loadBalancerId}` : pool.loadBalancerId,
        mac_address: pool.mac,
        // Octavia's VIP port is a placeholder: admin-down and unbound (the amphora's VRRP port carries the VIP).
        ...(octavia ? { admin_state_up: false } : { 'binding:host_id': HOST }),
        fixed_ips: [{ subnet_id: subnetId, ip_address: pool.vip }],
      },
    })
  ).port;
  renameId(os.neutronDb, 'ports', port.id, pool.portId);
}

function appWith(env: Record<string, string>): App {
  return createApp(loadConfig({ ...lab.env(), LBTOPO_DB: tmpDb(), LBTOPO_TTL: '0s', LBTOPO_HOST: HOST, LBTOPO_CLOUD_STATUS_GRACE: '1s', ...env }), { log: () => {} });
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-openstack-'));
  process.env.OS_CLIENT_CONFIG_FILE = join(dir, 'clouds.yaml');
  const [openstack, built] = await Promise.all([
    startOpenStack(dir, [HOST, OTHER_HOST]).then((o) => ((timings.openstackStartMs = o.startMs), o)),
    (async () => {
      const s = performance.now();
      const l = await labUp({ v1Pools: 1, v2LoadBalancers: 6, octaviaLoadBalancers: 1 });
      timings.labUpMs = performance.now() - s;
      return l;
    })(),
  ]);
  os = openstack;
  lab = built;
  [v1] = lab.pools.filter((p) => p.layout === 'v1') as [LabPool];
  [healthy, killed, deletedInApi, rebound, extraMember, statusDrift] = lab.pools.filter((p) => p.layout === 'v2') as [LabPool, LabPool, LabPool, LabPool, LabPool, LabPool];
  [amphora] = lab.pools.filter((p) => p.layout === 'octavia') as [LabPool];

  const s = performance.now();
  const network = (await api(os.neutronUrl, 'POST', '/v2.0/networks', { network: { name: 'lab-net' } })).network;
  networkId = network.id;
  subnetId = (await api(os.neutronUrl, 'POST', '/v2.0/subnets', { subnet: { network_id: networkId, ip_version: 4, cidr: '10.77.0.0/16', gateway_ip: healthy.gateway, enable_dhcp: false } })).subnet.id;
  for (const pool of lab.pools.filter((p) => p.layout !== 'v1')) {
    await mirrorInOctavia(pool);
    await mirrorInNeutron(pool);
  }
  // A load balancer the API says this host serves (its VIP port bound here) that the lab never deployed.
  const lonely = (await api(os.octaviaUrl, 'POST', '/v2/lbaas/loadbalancers', { loadbalancer: { name: 'api-only', project_id: 'lbtopo', vip_subnet_id: subnetId, vip_address: '10.77.200.1' } })).loadbalancer;
  apiOnlyLb = lonely.id;
  settleOctavia(os.octaviaDb);
  await api(os.neutronUrl, 'POST', '/v2.0/ports', { port: { network_id: networkId, device_owner: 'neutron:LOADBALANCERV2', device_id: apiOnlyLb, 'binding:host_id': HOST, fixed_ips: [{ subnet_id: subnetId, ip_address: '10.77.200.1' }] } });
  // The amphora of the lab's Octavia load balancer (the noop provider creates none).
  sql(
    os.octaviaDb,
    "INSERT INTO amphora (id, load_balancer_id, compute_id, lb_network_ip, vrrp_ip, ha_ip, vrrp_port_id, cert_busy, role, status, vrrp_interface) VALUES (?, ?, ?, '172.16.0.5', '10.77.0.200', ?, ?, 0, 'STANDALONE', 'ALLOCATED', 'eth1')",
    AMPHORA_ID, amphora.loadBalancerId, randomUUID(), amphora.vip, randomUUID(),
  );
  timings.mirrorMs = performance.now() - s;

  // Faults, one per load balancer, on either side.
  await lab.injectFault(killed.poolId, 'kill-haproxy');
  await api(os.octaviaUrl, 'DELETE', `/v2/lbaas/loadbalancers/${deletedInApi.loadBalancerId}?cascade=true`);
  settleOctavia(os.octaviaDb);
  await api(os.neutronUrl, 'PUT', `/v2.0/ports/${rebound.portId}`, { port: { 'binding:host_id': OTHER_HOST } });
  await api(os.octaviaUrl, 'POST', `/v2/lbaas/pools/${extraMember.poolId}/members`, { member: { address: '10.77.255.12', protocol_port: 80, project_id: 'lbtopo' } });
  settleOctavia(os.octaviaDb);
  // The API says the member that does not answer is ONLINE: its status reports stopped arriving.
  sql(os.octaviaDb, 'UPDATE member SET operating_status = ? WHERE id = ?', 'ONLINE', statusDrift.members.find((m) => !m.answering)!.id);

  app = appWith({ LBTOPO_CLOUD: 'lbtopo-password' });
  timings.beforeMs = performance.now() - t0;
});

after(async () => {
  app?.close();
  await Promise.all([lab?.down(), os?.stop()]);
  if (os) rmSync(os.dir, { recursive: true, force: true });
  timings.fileMs = performance.now() - t0;
  console.log(`# cloud.test timings (ms): ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])))}`);
});

/** The README's examples are outputs of this file: LBTOPO_README_OUTPUT=<dir> node --test test/cloud.test.ts. */
function readmeExample(name: string, text: string): void {
  if (process.env.LBTOPO_README_OUTPUT) writeFileSync(join(process.env.LBTOPO_README_OUTPUT, name), text);
}

type P = { code: string; severity: string; poolId: string | null; namespaceName: string | null; message: string };
const PROBLEMS = '{ problems(maxAge: 0) { code severity poolId namespaceName message } }';
const of = (problems: P[], pool: LabPool) => problems.filter((p) => p.poolId === pool.poolId).map((p) => p.code).sort();

test('auth: password, application credential and token clouds from clouds.yaml, and OS_* variables, against the real Keystone', async () => {
  for (const name of ['lbtopo-password', 'lbtopo-appcred', 'lbtopo-token']) {
    const client = createCloudClient(resolveCloud(name)!, 5000);
    const lbs = await client.octavia.listLoadBalancers();
    const ports = await client.neutron.listPorts({ deviceOwners: ['neutron:LOADBALANCERV2'], bindingHost: HOST });
    await client.octavia.listLoadBalancers();
    assert.ok(lbs.some((l) => l.id === healthy.loadBalancerId), `${name}: Octavia from the catalog lists the lab's load balancers`);
    assert.deepEqual(ports.map((p) => p.id).sort(), [healthy, killed, deletedInApi, extraMember, statusDrift].map((p) => p.portId).concat(ports.filter((p) => p.deviceId === apiOnlyLb).map((p) => p.id)).sort(), `${name}: ports bound here`);
    assert.equal(client.keystone.authCount, 1, `${name}: one authentication, the token reused until it expires`);
  }
  // The token is kept until shortly before it expires, then renewed.
  let clock = Date.now();
  const keystone = new KeystoneSession(resolveCloud('lbtopo-password')!, 5000, () => clock);
  const token = await keystone.getToken();
  assert.equal(await keystone.getToken(), token);
  assert.ok(token.expiresAt > clock + 30 * 60_000, 'Keystone issued a token for an hour');
  clock = token.expiresAt - TOKEN_RENEW_MARGIN_MS + 1;
  await keystone.getToken();
  assert.equal(keystone.authCount, 2, 'renewed once it was about to expire');
  const env = { OS_AUTH_URL: `${os.keystoneUrl}/v3`, OS_USERNAME: 'admin', OS_PASSWORD: ADMIN_PASSWORD, OS_PROJECT_NAME: 'admin', OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default', OS_REGION_NAME: 'RegionOne', OS_INTERFACE: 'public' };
  const fromEnv = resolveCloud(null, env)!;
  assert.equal(fromEnv.name, 'envvars');
  assert.equal((await createCloudClient(fromEnv, 5000).neutron.listNetworks()).length, 1);
  // Wrong password: Keystone's 401, named as such; a region the catalog lacks: named too.
  const bad = createCloudClient({ ...fromEnv, auth: { ...(fromEnv.auth as Extract<typeof fromEnv.auth, { type: 'password' }>), password: 'wrong' } }, 5000);
  await assert.rejects(bad.octavia.listLoadBalancers(), (e: unknown) => e instanceof CloudError && e.kind === 'auth' && /Keystone refused the password credentials/.test(e.message));
  const noRegion = createCloudClient({ ...fromEnv, region: 'Nowhere' }, 5000);
  await assert.rejects(noRegion.octavia.listLoadBalancers(), (e: unknown) => e instanceof CloudError && e.kind === 'catalog' && /no public load-balancer endpoint in region Nowhere/.test(e.message));
  // A cloud that is named but not in clouds.yaml stops the start, as a bad setting does.
  assert.throws(() => appWith({ LBTOPO_CLOUD: 'no-such-cloud' }), (e: unknown) => e instanceof ConfigError && /no cloud named no-such-cloud/.test((e as Error).message));
});

test('a healthy v2 pool: Pool.cloud and Port.cloud show the API side, and no cloud problem', async () => {
  const res = await gql(
    app,
    `query($id: String!) { pool(id: $id) { id cloud { provisioningStatus operatingStatus adminStateUp bindingHost vifType loadBalancer { id operatingStatus vipAddress } members { id operatingStatus } }
       vipPort { id cloud { id status adminStateUp bindingHost boundHere vifType deviceOwner deviceId } }
       listeners { id cloud { id operatingStatus protocolPort } }
       problems { code } } }`,
    { id: healthy.poolId },
  );
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  readmeExample('pool-cloud.json', JSON.stringify(res.data, null, 2));
  const pool = res.data.pool;
  assert.deepEqual(
    { ...pool.cloud, members: [...pool.cloud.members].sort((a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id)) },
    {
      provisioningStatus: 'ACTIVE',
      operatingStatus: 'ONLINE',
      adminStateUp: true,
      bindingHost: HOST,
      vifType: 'ovs',
      loadBalancer: { id: healthy.loadBalancerId, operatingStatus: 'ONLINE', vipAddress: healthy.vip },
      members: healthy.members.map((m) => ({ id: m.id, operatingStatus: m.answering ? 'ONLINE' : 'ERROR' })).sort((a, b) => a.id.localeCompare(b.id)),
    },
  );
  assert.deepEqual(pool.vipPort.cloud, { id: healthy.portId, status: 'DOWN', adminStateUp: true, bindingHost: HOST, boundHere: true, vifType: 'ovs', deviceOwner: 'neutron:LOADBALANCERV2', deviceId: healthy.loadBalancerId });
  assert.deepEqual(pool.listeners, [{ id: healthy.frontendId, cloud: { id: healthy.frontendId, operatingStatus: 'ONLINE', protocolPort: 80 } }]);
  // The lab's healthy pool has one member that does not answer: that is the host's MEMBER_DOWN, not drift.
  assert.deepEqual(pool.problems.map((p: { code: string }) => p.code), ['MEMBER_DOWN']);
});

test('each fault gives its rule, and nothing else from the cloud: API_ONLINE_BUT_DEAD, UNKNOWN_TO_API, PORT_BINDING_DRIFT, MEMBER_SET_DRIFT, MISSING_ON_HOST', async () => {
  const s = performance.now();
  const res = await gql<{ problems: P[] }>(app, PROBLEMS);
  timings.checkMs = performance.now() - s;
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  const problems = res.data!.problems;
  assert.deepEqual(problems.filter((p) => p.code === 'CHECK_INCOMPLETE'), [], 'the cloud answered everything');
  assert.deepEqual(of(problems, healthy), ['MEMBER_DOWN']);
  assert.deepEqual(of(problems, killed), ['API_ONLINE_BUT_DEAD', 'HAPROXY_MISSING', 'HAPROXY_PID_STALE']);
  const dead = problems.find((p) => p.code === 'API_ONLINE_BUT_DEAD')!;
  assert.match(dead.message, new RegExp(`cloud lbtopo-password shows load balancer ${killed.loadBalancerId} and listener ${killed.frontendId} ONLINE, but on this host no haproxy runs ${killed.configPath}`));
  assert.equal(dead.severity, 'CRITICAL');
  assert.deepEqual(of(problems, deletedInApi), ['MEMBER_DOWN', 'UNKNOWN_TO_API']);
  assert.match(problems.find((p) => p.code === 'UNKNOWN_TO_API')!.message, new RegExp(`cloud lbtopo-password (has no load balancer|shows load balancer) ${deletedInApi.loadBalancerId}`));
  assert.deepEqual(of(problems, rebound), ['MEMBER_DOWN', 'PORT_BINDING_DRIFT']);
  assert.match(problems.find((p) => p.code === 'PORT_BINDING_DRIFT')!.message, new RegExp(`VIP tap ${rebound.tapName} is plugged here, but in cloud lbtopo-password its port ${rebound.portId} is bound to host ${OTHER_HOST}, not ${HOST}`));
  assert.deepEqual(of(problems, extraMember), ['MEMBER_DOWN', 'MEMBER_SET_DRIFT']);
  assert.match(problems.find((p) => p.code === 'MEMBER_SET_DRIFT')!.message, /\(10\.77\.255\.12:80\) is in the API but not in the config/);
  const missing = problems.filter((p) => p.code === 'MISSING_ON_HOST');
  assert.deepEqual(missing.map((p) => p.namespaceName), [`qlbaas-${apiOnlyLb}`]);
  assert.match(missing[0]!.message, new RegExp(`VIP port [0-9a-f-]{36} bound to this host \\(${HOST}\\), but nothing for it is here`));
  // Octavia's placeholder VIP port is admin-down by design: not a binding problem. v1 has no API to compare.
  assert.deepEqual(of(problems, amphora), ['MEMBER_DOWN']);
  assert.deepEqual(of(problems, v1), ['MEMBER_DOWN']);
  const lb = await gql(app, 'query($id: String!) { loadBalancer(id: $id) { layout pools { id } cloud { operatingStatus vipPort { adminStateUp deviceOwner } amphorae { id role status haIp } } } }', { id: amphora.loadBalancerId });
  assert.deepEqual(lb.data.loadBalancer, {
    layout: 'OCTAVIA',
    pools: [{ id: amphora.poolId }],
    cloud: { operatingStatus: 'ONLINE', vipPort: { adminStateUp: false, deviceOwner: 'Octavia' }, amphorae: [{ id: AMPHORA_ID, role: 'STANDALONE', status: 'ALLOCATED', haIp: amphora.vip }] },
  });
  const v1Cloud = await gql(app, 'query($id: String!) { pool(id: $id) { cloud { id } } }', { id: v1.poolId });
  assert.equal(v1Cloud.data.pool.cloud, null);
});

test('OPERATING_STATUS_DRIFT once host and API have disagreed for longer than the grace, not before', async () => {
  const drifting = statusDrift.members.find((m) => !m.answering)!;
  const first = (await gql<{ problems: P[] }>(app, PROBLEMS)).data!.problems;
  // The API has shown ONLINE only since this app's first look at it: not long enough yet.
  const firstLook = first.filter((p) => p.code === 'OPERATING_STATUS_DRIFT');
  await new Promise((r) => setTimeout(r, 1300));
  const later = (await gql<{ problems: P[] }>(app, PROBLEMS)).data!.problems;
  const drift = later.filter((p) => p.code === 'OPERATING_STATUS_DRIFT');
  assert.equal(drift.length, 1, JSON.stringify(drift));
  assert.equal(drift[0]!.poolId, statusDrift.poolId);
  assert.match(drift[0]!.message, new RegExp(`member ${drifting.id} \\(${drifting.address}:80\\) is DOWN[^)]*\\(ERROR as Octavia maps it\\) for \\d+s, but cloud lbtopo-password has shown it ONLINE`));
  assert.ok(firstLook.every((p) => p.poolId === statusDrift.poolId), 'no other pool drifts');
});

test('check and /metrics include the cloud problems', async () => {
  const metrics = await (await app.yoga.fetch('http://lbtopo.test/metrics')).text();
  for (const [code, n] of [['API_ONLINE_BUT_DEAD', 1], ['UNKNOWN_TO_API', 1], ['PORT_BINDING_DRIFT', 1], ['MEMBER_SET_DRIFT', 1], ['MISSING_ON_HOST', 1]] as const) {
    assert.match(metrics, new RegExp(`lbtopo_problems\\{code="${code}",severity="[A-Z]+"\\} ${n}\\b`), code);
  }
});

test('lbtopo check (the Nagios plugin) reports the cloud problems and exits CRITICAL', async () => {
  const { spawn } = await import('node:child_process');
  const env = { ...process.env, ...lab.env(), LBTOPO_DB: tmpDb(), LBTOPO_CLOUD: 'lbtopo-password', LBTOPO_HOST: HOST };
  const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['src/main.ts', 'check', '-v', '--max-age', '0'], { cwd: new URL('..', import.meta.url).pathname, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
  assert.equal(run.status, 2, run.stdout + run.stderr);
  for (const code of ['API_ONLINE_BUT_DEAD', 'MISSING_ON_HOST', 'UNKNOWN_TO_API', 'PORT_BINDING_DRIFT', 'MEMBER_SET_DRIFT']) assert.match(run.stdout, new RegExp(`\\b${code}\\b`), code);
  readmeExample('check.txt', run.stdout);
});

test('one list call per resource type per look, whatever the number of pools', async () => {
  const session = app.newSession();
  const neutron = session.cloud!.client.neutron.api;
  const octavia = session.cloud!.client.octavia.api;
  const before = { n: neutron.requested.length, o: octavia.requested.length };
  const { diagnoseHost } = await import('../src/diagnose/diagnose.ts');
  session.requireFreshness(0);
  await diagnoseHost(session);
  const asked = [...neutron.requested.slice(before.n), ...octavia.requested.slice(before.o)].map((p) => p.replace(/[0-9a-f-]{36}/, '<id>')).sort();
  // One status tree per load balancer deployed here (the one deleted in the API answers 404).
  const lbsHere = lab.pools.filter((p) => p.layout !== 'v1').length;
  assert.deepEqual(asked, [
    ...Array(lbsHere).fill('/v2/lbaas/loadbalancers/<id>/status'),
    '/v2.0/ports?device_owner=neutron%3ALOADBALANCERV2&device_owner=neutron%3ALOADBALANCER&device_owner=Octavia',
    '/v2/lbaas/listeners',
    '/v2/lbaas/loadbalancers',
    '/v2/lbaas/pools',
  ].sort());
});

test('no cloud configured: every cloud field is null and no cloud call is made', async () => {
  const saved = process.env.OS_CLIENT_CONFIG_FILE;
  delete process.env.OS_CLIENT_CONFIG_FILE;
  const plain = appWith({});
  try {
    const res = await gql(plain, 'query($id: String!) { pool(id: $id) { cloud { id } vipPort { cloud { id } } } loadBalancers { id cloud { id } } problems { code } }', { id: healthy.poolId });
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    assert.deepEqual(res.data.pool, { cloud: null, vipPort: { cloud: null } });
    assert.ok(res.data.loadBalancers.every((l: { cloud: unknown }) => l.cloud === null));
    assert.ok(!res.data.problems.some((p: { code: string }) => ['CHECK_INCOMPLETE', 'API_ONLINE_BUT_DEAD', 'MISSING_ON_HOST'].includes(p.code)));
    assert.ok(!(res.extensions?.probes ?? []).some((p) => p.probe.startsWith('cloud')));
  } finally {
    plain.close();
    process.env.OS_CLIENT_CONFIG_FILE = saved;
  }
});

test('an unreachable cloud: CHECK_INCOMPLETE naming it, the host problems still reported, on time', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-clouds-'));
  const file = join(dir, 'clouds.yaml');
  // A loopback port nothing listens on (the closed keystone of a stopped cloud).
  writeFileSync(file, `clouds:\n  gone:\n    auth:\n      auth_url: http://127.0.0.1:9/v3\n      username: admin\n      password: x\n      project_name: admin\n`);
  const saved = process.env.OS_CLIENT_CONFIG_FILE;
  process.env.OS_CLIENT_CONFIG_FILE = file;
  const unreachable = appWith({ LBTOPO_CLOUD: 'gone', LBTOPO_CLOUD_TIMEOUT: '1s' });
  process.env.OS_CLIENT_CONFIG_FILE = saved;
  try {
    const s = performance.now();
    const problems = (await gql<{ problems: P[] }>(unreachable, PROBLEMS)).data!.problems;
    const ms = performance.now() - s;
    const incomplete = problems.filter((p) => p.code === 'CHECK_INCOMPLETE');
    assert.equal(incomplete.length, 1, JSON.stringify(incomplete));
    assert.match(incomplete[0]!.message, /the cloud probe \(gone\) failed .*cloud gone could not be asked: .*ECONNREFUSED/);
    assert.match(incomplete[0]!.message, /Skipped: API_ONLINE_BUT_DEAD, MISSING_ON_HOST, UNKNOWN_TO_API, MEMBER_SET_DRIFT, PORT_BINDING_DRIFT, OPERATING_STATUS_DRIFT/);
    assert.deepEqual(of(problems, killed), ['HAPROXY_MISSING', 'HAPROXY_PID_STALE'], 'host rules unaffected');
    assert.ok(ms < 5000, `check took ${ms} ms`);
    const pool = await gql(unreachable, 'query($id: String!) { pool(id: $id) { id cloud { id } } }', { id: healthy.poolId });
    assert.equal(pool.errors?.[0]?.extensions?.code, 'PROBE_FAILED');
    assert.equal(pool.data.pool.id, healthy.poolId, 'the host fields still answer');
  } finally {
    unreachable.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a hung cloud (octavia-api stopped with SIGSTOP): CHECK_INCOMPLETE within the deadline, host answers unaffected', async () => {
  // octavia-api serves one request at a time (wsgiref): the good look before the fault needs room on a loaded machine.
  const slow = appWith({ LBTOPO_CLOUD: 'lbtopo-password', LBTOPO_CLOUD_TIMEOUT: '3s' });
  const octaviaPid = os.pids.octavia;
  try {
    // A first good look, so the hung look has a last good observation to (not) judge.
    const good = (await gql<{ problems: P[] }>(slow, PROBLEMS)).data!.problems;
    assert.deepEqual(good.filter((p) => p.code === 'CHECK_INCOMPLETE'), [], 'the look before the fault got every answer');
    const hostOnly = '{ pools { id haproxy { pid } namespace { name } } }';
    let s = performance.now();
    await gql(slow, hostOnly);
    const hostBaseline = performance.now() - s;
    process.kill(octaviaPid, 'SIGSTOP');
    s = performance.now();
    const problems = (await gql<{ problems: P[] }>(slow, PROBLEMS)).data!.problems;
    const checkMs = performance.now() - s;
    s = performance.now();
    const host = await gql(slow, hostOnly);
    const hostMs = performance.now() - s;
    timings.hungCheckMs = checkMs;
    timings.hostQueryWhileHungMs = hostMs;
    timings.hostQueryBaselineMs = hostBaseline;
    const incomplete = problems.filter((p) => p.code === 'CHECK_INCOMPLETE');
    assert.equal(incomplete.length, 1);
    assert.match(incomplete[0]!.message, /cloud lbtopo-password could not be asked: .*no answer within/);
    assert.match(incomplete[0]!.message, /its last good observation, from .*, was not judged/);
    assert.deepEqual(of(problems, killed), ['HAPROXY_MISSING', 'HAPROXY_PID_STALE']);
    assert.ok(checkMs < 3000 + 2000, `check bounded by the cloud deadline: ${checkMs} ms`);
    assert.equal(host.errors, undefined);
    assert.equal(host.data.pools.length, lab.pools.length);
    assert.ok(hostMs < 1000, `host-only query ${hostMs} ms while the cloud hangs (baseline ${hostBaseline} ms)`);
  } finally {
    process.kill(octaviaPid, 'SIGCONT');
    slow.close();
  }
});

test('paging: rel=next links are followed (Neutron and Octavia with limit=2); a revoked token is renewed once on 401', async () => {
  const client = createCloudClient(resolveCloud('lbtopo-password')!, 5000);
  const all = await client.neutron.listPorts();
  const paged = await client.neutron.api.list('/v2.0/ports?limit=2', 'ports', NeutronPort);
  assert.ok(all.length > 4);
  assert.deepEqual(paged.map((p) => p.id).sort(), all.map((p) => p.id).sort());
  assert.ok(client.neutron.api.requested.filter((p) => p.startsWith('/v2.0/ports?limit=2')).length >= Math.ceil(all.length / 2), 'one request per page');
  const lbs = await client.octavia.listLoadBalancers();
  const pagedLbs = await client.octavia.api.list('/v2/lbaas/loadbalancers?limit=2', 'loadbalancers', OctaviaLoadBalancer);
  assert.deepEqual(pagedLbs.map((l) => l.id).sort(), lbs.map((l) => l.id).sort());
  // Neutron and Octavia run noauth here, so Keystone itself shows the 401 path: revoke the token lbtopo holds.
  const identity = new ServiceApi(client.keystone, 'identity', 5000);
  const token = await client.keystone.getToken();
  await identity.get('/projects', z.looseObject({ projects: z.array(z.unknown()) }));
  const revoke = await fetch(`${os.keystoneUrl}/v3/auth/tokens`, { method: 'DELETE', headers: { 'x-auth-token': os.adminToken, 'x-subject-token': token.value } });
  assert.equal(revoke.status, 204);
  const before = client.keystone.authCount;
  await identity.get('/projects', z.looseObject({ projects: z.array(z.unknown()) }));
  assert.equal(client.keystone.authCount, before + 1, 'authenticated again after the 401');
});

test('ids that reach an API path are URL-encoded, and a malformed id is refused before any request', async () => {
  const res = await gql(app, '{ loadBalancer(id: "../../x") { id } }');
  assert.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  const client = createCloudClient(resolveCloud('lbtopo-password')!, 5000);
  assert.equal(await client.octavia.statusTree(randomUUID()).catch((e: CloudError) => e.status), 404);
});
