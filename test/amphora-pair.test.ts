// An ACTIVE_STANDBY amphora pair with real keepalived doing unicast VRRP over the lab's OVS, one
// lbtopo per amphora (each pointed at its own namespace, base path and agent config, as each real
// amphora's lbtopo would be). The tests run in order on one lab: each fault builds on the state the
// previous one left, as failovers do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { labUp } from '../src/lab/lab.ts';
import type { Lab, LabAmphoraPair } from '../src/lab/lab.ts';
import type { App } from '../src/server.ts';
import { appForLab, gql } from './support.ts';
import { readExampleQuery } from '../src/example-queries.ts';

// The lab lock may be held by another lab for up to its 10-minute wait, then the pair takes seconds.
const LONG = { timeout: 12 * 60_000 };

let lab: Lab;
let pair: LabAmphoraPair;
const apps: App[] = [];

before(async () => {
  const startedAt = Date.now();
  lab = await labUp({ v1Pools: 0, v2LoadBalancers: 0, octaviaLoadBalancers: 0, amphoraPair: true });
  console.log(`lab ${lab.dir} with an amphora pair up in ${Date.now() - startedAt} ms`);
  pair = lab.amphoraPair!;
  for (const index of [0, 1]) apps.push(appForLab(lab, lab.amphoraEnv(index)));
}, LONG);

after(async () => {
  for (const app of apps) app.close();
  await lab?.down();
}, LONG);

const AMPHORA = `{
  amphora(maxAge: 0) {
    id topology role roleReason namespaceName
    roleEvidence { keepalivedRunning vipsPresent vipsAbsent rulesMissing defaultRoutesMissing }
    vrrp { name initialState interface virtualRouterId priority nopreempt preempts unicastSourceIp unicastPeers virtualIpAddresses virtualRoutes virtualRules trackScripts }
    vrrpScripts { name script intervalSeconds fall rise }
    keepalived { pid } keepalivedPidFilePids checkScripts
    healthManagers { raw host port error }
    certificates { kind notAfter }
    loadBalancers { loadBalancerId heartbeat heartbeatListeners expectedListeners operatingStatus listeners { id operatingStatus } pools { id operatingStatus members { id operatingStatus } } }
  }
}`;

const POOLS = '{ pools(maxAge: 0) { id namespace { name kind } vipInterface { name } haproxy { pid } problems { code severity message } } }';

type Problem = { code: string; severity: string; message: string };

async function amphora(index: number) {
  const res = await gql(apps[index]!, AMPHORA);
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return res.data.amphora;
}

async function poolProblems(index: number): Promise<Problem[]> {
  const res = await gql(apps[index]!, POOLS);
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  assert.equal(res.data.pools.length, 1);
  return res.data.pools[0].problems;
}

async function hostProblems(index: number): Promise<Problem[]> {
  const res = await gql(apps[index]!, '{ problems(maxAge: 0) { code severity message } }');
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return res.data.problems;
}

/** Polls amphora n (maxAge 0) until its role is `role`, for at most `timeoutMs`. */
async function waitForRole(index: number, role: string, timeoutMs = 20_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  for (;;) {
    last = await amphora(index);
    if (last.role === role) return last;
    if (Date.now() > deadline) assert.fail(`amphora ${index} is ${last.role} (${last.roleReason}) after ${timeoutMs} ms, expected ${role}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const codes = (problems: Problem[]) => problems.map((p) => p.code).sort();

test('the pair: amphora 0 is MASTER with the VIP, amphora 1 BACKUP, and both read what Octavia wrote', async () => {
  const [a0, a1] = [await amphora(0), await amphora(1)];
  assert.equal(a0.role, 'MASTER', a0.roleReason);
  assert.equal(a1.role, 'BACKUP', a1.roleReason);
  assert.equal(await lab.amphoraHoldsVip(0), true);
  assert.equal(await lab.amphoraHoldsVip(1), false);
  assert.deepEqual(a0.roleEvidence, { keepalivedRunning: true, vipsPresent: [pair.vip], vipsAbsent: [], rulesMissing: [], defaultRoutesMissing: [] });
  assert.deepEqual(a1.roleEvidence.vipsPresent, []);
  for (const [index, a] of [a0, a1].entries()) {
    const amp = pair.amphorae[index]!;
    const peer = pair.amphorae[1 - index]!;
    assert.equal(a.id, amp.amphoraId);
    assert.equal(a.topology, 'ACTIVE_STANDBY');
    assert.equal(a.namespaceName, amp.namespace);
    assert.deepEqual(a.vrrp, {
      name: pair.vrrpGroupName,
      initialState: amp.role,
      interface: 'eth1',
      virtualRouterId: pair.virtualRouterId,
      priority: amp.priority,
      nopreempt: true,
      preempts: amp.role === 'MASTER',
      unicastSourceIp: amp.vrrpIp,
      unicastPeers: [peer.vrrpIp],
      virtualIpAddresses: [pair.vip],
      virtualRoutes: [`10.77.0.0/16 dev eth1 src ${pair.vip} scope link table 1`, 'default via 10.77.0.1 dev eth1 onlink table 1'],
      virtualRules: [`from ${pair.vip}/32 table 1 priority 100`],
      trackScripts: ['check_script'],
    });
    assert.deepEqual(a.vrrpScripts, [{ name: 'check_script', script: amp.checkScriptPath, intervalSeconds: 1, fall: 2, rise: 2 }]);
    const pid = Number(readFileSync(amp.keepalivedPidPath, 'utf8').trim());
    assert.deepEqual(a.keepalived, { pid });
    assert.deepEqual(a.keepalivedPidFilePids, [pid]);
    assert.deepEqual(a.checkScripts, [`${amp.haproxyCheckScriptPath}: haproxy-vrrp-check ${amp.socketPath}; exit $?`]);
    assert.deepEqual(a.healthManagers, [{ raw: '127.0.0.1:5555', host: '127.0.0.1', port: 5555, error: null }]);
    assert.equal(a.certificates.length, 1);
    assert.equal(a.certificates[0].kind, 'agent');
    assert.ok(Date.parse(a.certificates[0].notAfter) > Date.now() + 300 * 86_400_000);
    // One member answers and one does not: Octavia computes member ERROR, pool and LB DEGRADED.
    const [up, down] = pair.members;
    assert.deepEqual(a.loadBalancers, [
      {
        loadBalancerId: pair.loadBalancerId,
        heartbeat: 'SENT',
        heartbeatListeners: 1,
        expectedListeners: 1,
        operatingStatus: 'DEGRADED',
        listeners: [{ id: pair.listenerId, operatingStatus: 'ONLINE' }],
        pools: [{ id: pair.poolId, operatingStatus: 'DEGRADED', members: [{ id: up!.id, operatingStatus: 'ONLINE' }, { id: down!.id, operatingStatus: 'ERROR' }] }],
      },
    ]);
  }
});

test('/metrics: the operating statuses Octavia will compute, one series per object', async () => {
  const text = await (await apps[0]!.yoga.fetch('http://lbtopo.test/metrics')).text();
  const [up, down] = pair.members;
  for (const [kind, id, status] of [['loadbalancer', pair.loadBalancerId, 'DEGRADED'], ['listener', pair.listenerId, 'ONLINE'], ['pool', pair.poolId, 'DEGRADED'], ['member', up!.id, 'ONLINE'], ['member', down!.id, 'ERROR']]) {
    assert.ok(text.includes(`lbtopo_octavia_operating_status{load_balancer="${pair.loadBalancerId}",kind="${kind}",id="${id}",status="${status}"} 1`), `${kind} ${status}:\n${text.split('\n').filter((l) => l.includes('octavia')).join('\n')}`);
  }
});

test('examples/queries/amphora.graphql answers on both amphorae', async () => {
  for (const [index, role] of [[0, 'MASTER'], [1, 'BACKUP']] as const) {
    const res = await gql(apps[index]!, readExampleQuery('amphora'));
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    assert.equal(res.data.amphora.role, role);
    assert.equal(res.data.amphora.loadBalancers[0].heartbeat, 'SENT');
    if (index === 1) console.log(`examples/queries/amphora.graphql on the BACKUP:\n${JSON.stringify(res.data, null, 2)}`);
  }
});

test('neither amphora shows a CRITICAL: the BACKUP lacks the VIP, its rule and route by design', async () => {
  for (const index of [0, 1]) {
    const res = await gql(apps[index]!, POOLS);
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    const [pool] = res.data.pools;
    assert.equal(pool.id, pair.poolId);
    assert.equal(pool.namespace.name, pair.amphorae[index]!.namespace);
    assert.equal(pool.namespace.kind, 'AMPHORA_HAPROXY', 'the configured amphora namespace is of the amphora kind');
    assert.equal(pool.vipInterface.name, 'eth1', 'the VRRP interface, also on the BACKUP that has no VIP');
    assert.deepEqual(pool.problems.map((p: Problem) => `${p.code}/${p.severity}`), ['MEMBER_DOWN/INFO'], JSON.stringify(pool.problems, null, 2));
    assert.deepEqual((await hostProblems(index)).map((p) => p.code), ['MEMBER_DOWN']);
  }
});

test('LOOPBACK_DOWN on the BACKUP when lo goes down in its namespace', async () => {
  await lab.injectAmphoraFault(1, 'loopback-down');
  const problems = await poolProblems(1);
  const lo = problems.find((p) => p.code === 'LOOPBACK_DOWN');
  assert.ok(lo, JSON.stringify(problems));
  assert.equal(lo.severity, 'WARNING');
  assert.match(lo.message, /ip -n lbta-\w+-1 link set lo up/);
  assert.ok(!codes(await poolProblems(0)).includes('LOOPBACK_DOWN'));
});

test('HM_TARGETS_INVALID when controller_ip_port_list is empty', async () => {
  await lab.injectAmphoraFault(1, 'hm-targets-invalid');
  const problems = await hostProblems(1);
  const hm = problems.find((p) => p.code === 'HM_TARGETS_INVALID');
  assert.ok(hm, JSON.stringify(problems));
  assert.equal(hm.severity, 'WARNING');
  assert.match(hm.message, /empty \[health_manager\] controller_ip_port_list/);
  assert.deepEqual((await amphora(1)).healthManagers, []);
});

test('CERT_EXPIRING for a listener PEM that expires in two days', async () => {
  await lab.injectAmphoraFault(1, 'cert-expiring');
  const problems = await hostProblems(1);
  const cert = problems.filter((p) => p.code === 'CERT_EXPIRING');
  assert.equal(cert.length, 1, JSON.stringify(problems));
  assert.match(cert[0]!.message, /Listener certificate .*www\.example\.test.*expires at .* \(in 1 days\)/);
  assert.ok(!codes(await hostProblems(0)).includes('CERT_EXPIRING'));
});

test('LISTENER_COUNT_MISMATCH when the config has a listener the running haproxy never loaded', async () => {
  await lab.injectAmphoraFault(1, 'listener-count-mismatch');
  const problems = await poolProblems(1);
  const mismatch = problems.find((p) => p.code === 'LISTENER_COUNT_MISMATCH');
  assert.ok(mismatch, JSON.stringify(problems));
  assert.match(mismatch.message, /has 2 listener\(s\) but haproxy reports 1 FRONTEND row/);
  const status = (await amphora(1)).loadBalancers[0];
  assert.equal(status.expectedListeners, 2);
  assert.equal(status.heartbeatListeners, 1);
  assert.deepEqual(status.listeners.map((l: { operatingStatus: string }) => l.operatingStatus), ['ONLINE', 'ERROR']);
});

test("killing the MASTER's haproxy fails its check script: the VIP moves to the BACKUP and the API follows", async () => {
  await lab.injectAmphoraFault(0, 'kill-haproxy');
  const now1 = await waitForRole(1, 'MASTER');
  assert.deepEqual(now1.roleEvidence.vipsPresent, [pair.vip]);
  const now0 = await waitForRole(0, 'BACKUP');
  assert.equal(now0.roleEvidence.keepalivedRunning, true);
  assert.equal(await lab.amphoraHoldsVip(0), false);
  assert.equal(await lab.amphoraHoldsVip(1), true);
  // amphora 0 sends heartbeats without its listener: Octavia marks it ERROR and the pool OFFLINE.
  assert.deepEqual(
    { heartbeat: now0.loadBalancers[0].heartbeat, listeners: now0.loadBalancers[0].listeners.map((l: { operatingStatus: string }) => l.operatingStatus), pool: now0.loadBalancers[0].pools[0].operatingStatus },
    { heartbeat: 'SENT', listeners: ['ERROR'], pool: 'OFFLINE' },
  );
  const problems0 = await poolProblems(0);
  assert.ok(codes(problems0).includes('HAPROXY_MISSING'), JSON.stringify(problems0));
  // A BACKUP: no VIP, route or policy rule problem for what it is not meant to have.
  for (const code of ['VIP_ADDRESS_MISSING', 'NO_DEFAULT_ROUTE', 'POLICY_ROUTE_MISSING', 'VIP_INTERFACE_MISSING']) assert.ok(!codes(problems0).includes(code), code);
  // The new MASTER: its VIP, routes and rule are there.
  assert.ok(!(await poolProblems(1)).some((p) => p.severity === 'CRITICAL'), JSON.stringify(await poolProblems(1)));
});

test('haproxy back on amphora 0: it takes the VIP back, as keepalived clears nopreempt on the initial MASTER', async () => {
  await lab.injectAmphoraFault(0, 'restart-haproxy');
  await waitForRole(0, 'MASTER');
  await waitForRole(1, 'BACKUP');
  assert.ok(!codes(await poolProblems(0)).includes('HAPROXY_MISSING'));
  assert.ok(!(await poolProblems(1)).some((p) => p.severity === 'CRITICAL'));
});

test("deleting the MASTER's policy rule: keepalived notices, steps down, and the initial MASTER comes back with its rule re-added", async () => {
  // keepalived 2.2.7 watches its virtual_rules and virtual_routes over netlink: when one is
  // deleted it enters BACKUP ("sent 0 priority"), so the peer takes over; the initial MASTER then
  // preempts back and re-adds everything. POLICY_ROUTE_MISSING on a MASTER is therefore brief with
  // this keepalived; it is proven on a SINGLE amphora, where nothing re-adds the rule (octavia.test.ts).
  await lab.injectAmphoraFault(0, 'policy-rule-removed');
  const deadline = Date.now() + 20_000;
  let a0 = await amphora(0);
  while (!(a0.role === 'MASTER' && a0.roleEvidence.rulesMissing?.length === 0)) {
    if (Date.now() > deadline) assert.fail(`amphora 0 did not get back to MASTER with its rule: ${JSON.stringify(a0.roleEvidence)}`);
    await new Promise((r) => setTimeout(r, 250));
    a0 = await amphora(0);
  }
  await waitForRole(1, 'BACKUP');
  assert.ok(!codes(await poolProblems(0)).includes('POLICY_ROUTE_MISSING'));
  assert.ok(!codes(await poolProblems(1)).includes('POLICY_ROUTE_MISSING'), 'the BACKUP has no rule by design');
});

test("killing the MASTER's keepalived: the BACKUP takes the VIP, the API says so, and KEEPALIVED_DOWN fires", async () => {
  await lab.injectAmphoraFault(0, 'kill-keepalived');
  const startedAt = Date.now();
  const now1 = await waitForRole(1, 'MASTER');
  console.log(`amphora 1 reported MASTER ${Date.now() - startedAt} ms after amphora 0's keepalived stopped`);
  assert.deepEqual(now1.roleEvidence.vipsPresent, [pair.vip]);
  assert.equal(await lab.amphoraHoldsVip(0), false);
  const a0 = await amphora(0);
  assert.equal(a0.role, 'FAULT');
  assert.equal(a0.keepalived, null);
  assert.equal(a0.loadBalancers[0].heartbeat, 'SUPPRESSED_KEEPALIVED_DOWN');
  assert.equal(a0.loadBalancers[0].operatingStatus, null);
  const down = (await poolProblems(0)).find((p) => p.code === 'KEEPALIVED_DOWN');
  assert.ok(down);
  assert.equal(down.severity, 'CRITICAL');
  assert.match(down.message, /fails this amphora over within about 60 s/);
  assert.ok(!codes(await poolProblems(1)).includes('KEEPALIVED_DOWN'));
  // The new MASTER got its rule from keepalived: no POLICY_ROUTE_MISSING there.
  assert.ok(!codes(await poolProblems(1)).includes('POLICY_ROUTE_MISSING'));
});

test('keepalived down on both: both FAULT, both KEEPALIVED_DOWN, nobody holds the VIP', async () => {
  await lab.injectAmphoraFault(1, 'kill-keepalived');
  for (const index of [0, 1]) {
    const a = await amphora(index);
    assert.equal(a.role, 'FAULT', a.roleReason);
    assert.ok(codes(await poolProblems(index)).includes('KEEPALIVED_DOWN'));
    assert.equal(await lab.amphoraHoldsVip(index), false);
  }
});

test('HAPROXY_RESTARTING when haproxy keeps being restarted (seen by successive looks)', async () => {
  assert.ok(!codes(await poolProblems(0)).includes('HAPROXY_RESTARTING'));
  for (let i = 0; i < 3; i++) {
    await lab.injectAmphoraFault(0, 'kill-haproxy');
    await poolProblems(0);
    await new Promise((r) => setTimeout(r, 1100)); // distinct start seconds
    await lab.injectAmphoraFault(0, 'restart-haproxy');
    await poolProblems(0);
  }
  const problems = await poolProblems(0);
  const restarting = problems.find((p) => p.code === 'HAPROXY_RESTARTING');
  assert.ok(restarting, JSON.stringify(problems));
  assert.match(restarting.message, /haproxy started [3-9] times/);
});

test('down removes the pair: its namespaces, keepalived and haproxy processes and files', async () => {
  const namespaces = pair.amphorae.map((a) => a.namespace);
  const dir = lab.dir;
  await lab.down();
  for (const ns of namespaces) assert.equal(existsSync(`/run/netns/${ns}`), false, ns);
  const leftovers = readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
    } catch {
      return false;
    }
  });
  assert.deepEqual(leftovers, [], 'no process of the lab survives');
  assert.equal(existsSync(dir), false);
});
