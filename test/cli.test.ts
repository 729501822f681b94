// The scripted side, run as an operator runs it: `lbtopo check` and `lbtopo query` as child
// processes (node --import tsx src/main.ts ...) with the lab's LBTOPO_* env, in-process and
// against a live server (--url), and the example queries in examples/queries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { labUp } from '../src/lab/lab.ts';
import type { Lab, LabPool } from '../src/lab/lab.ts';
import { createApp, serve } from '../src/server.ts';
import type { App } from '../src/server.ts';
import { loadConfig } from '../src/config.ts';
import { parseVarValue } from '../src/cli/query.ts';
import { appForLab, gql, tmpDb } from './support.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = `${ROOT}examples/queries`;

let lab: Lab;
let env: NodeJS.ProcessEnv;
let healthy: LabPool, killed: LabPool, deadVlan: LabPool, membersDown: LabPool, v2: LabPool;

interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `lbtopo ARGS` as a child process (async, so an in-process server keeps answering). */
function lbtopo(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/main.ts', ...args], { cwd: ROOT, env: options.env ?? env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

function json(run: CliRun): any {
  try {
    return JSON.parse(run.stdout);
  } catch {
    assert.fail(`not JSON (exit ${run.status}): ${run.stdout}\n${run.stderr}`);
  }
}

/** A loopback port nothing listens on (fetch refuses "bad ports" such as 1 before connecting). */
async function closedPort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

async function withServer<T>(token: string, fn: (url: string) => Promise<T>): Promise<T> {
  const config = loadConfig({ ...lab.env(), LBTOPO_DB: tmpDb(), LBTOPO_LISTEN: '127.0.0.1:0', LBTOPO_TOKEN: token, LBTOPO_TTL: '0s' });
  const app: App = createApp(config, { log: () => {} });
  const server: Server = await serve(app);
  try {
    return await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.close();
    app.close();
  }
}

before(async () => {
  lab = await labUp({ v1Pools: 4, v2LoadBalancers: 1 });
  [healthy, killed, deadVlan, membersDown] = lab.pools.filter((p) => p.layout === 'v1') as [LabPool, LabPool, LabPool, LabPool];
  v2 = lab.pools.find((p) => p.layout === 'v2')!;
  // TTL 0: every run looks at the host, so a fault injected between two runs is seen.
  env = { ...process.env, ...lab.env(), LBTOPO_DB: tmpDb(), LBTOPO_TTL: '0s' };
  delete env.LBTOPO_TOKEN;
});

after(async () => {
  await lab?.down();
});

test('check on a healthy lab: OK, exit 0, one status line with perfdata', async () => {
  const run = await lbtopo(['check']);
  assert.equal(run.status, 0, run.stdout + run.stderr);
  // Each lab pool has one member that never answers: MEMBER_DOWN, which is INFO and never alerts.
  assert.match(run.stdout, /^LBAAS OK - 5 pools, \d+ info \| critical=0;;0;0 alerting=0;0;;0 warning=0;;;0 info=\d+;;;0 pools=5;;;0 pools_critical=0;;;0;5 time=[\d.]+s;;;0\n$/);
});

test('query: exit 0 with data, 1 with GraphQL errors, 2 on usage errors', async () => {
  const ok = await lbtopo(['query', '--query', '{ pools { id layout } }']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(json(ok).data.pools.map((p: { id: string }) => p.id).sort(), lab.pools.map((p) => p.poolId).sort());

  const stdin = await lbtopo(['query', '-', '--compact'], { input: '{ pools(where: { layout: V2 }) { id } }' });
  assert.equal(stdin.status, 0);
  assert.equal(stdin.stdout.trim().split('\n').length, 1, '--compact prints one line');
  assert.deepEqual(json(stdin).data.pools, [{ id: v2.poolId }]);

  const withVar = await lbtopo(['query', '--query', 'query($id: String!, $n: Float) { pool(id: $id, maxAge: $n) { id } }', '--var', `id=${healthy.poolId}`, '--var', 'n=5']);
  assert.equal(withVar.status, 0, withVar.stdout);
  assert.equal(json(withVar).data.pool.id, healthy.poolId);

  for (const q of ['{ pool(id: "not-a-uuid") { id } }', '{ noSuchField }', 'query($id: String!) { pool(id: $id) { id } }']) {
    const bad = await lbtopo(['query', '--query', q]);
    assert.equal(bad.status, 1, q);
    assert.ok(json(bad).errors.length > 0, q);
  }

  for (const args of [['query'], ['query', '--bogus'], ['query', 'x.graphql', '--query', '{ pools { id } }'], ['query', '/nonexistent.graphql'], ['query', '--query', '{ pools { id } }', '--var', 'novalue'], ['query', '--query', '{ pools { id } }', '--lbaas-dir', '']]) {
    const usage = await lbtopo(args);
    assert.equal(usage.status, 2, `${args.join(' ')}: ${usage.stdout}${usage.stderr}`);
    assert.equal(usage.stdout, '', 'nothing on stdout for a usage error');
  }
});

test('--var values are JSON when they parse, else strings', () => {
  assert.equal(parseVarValue('3'), 3);
  assert.equal(parseVarValue('"3"'), '3');
  assert.equal(parseVarValue('true'), true);
  assert.deepEqual(parseVarValue('["a",1]'), ['a', 1]);
  assert.equal(parseVarValue('2f8e4b6a-1c3d-4e5f-9a7b-8c9d0e1f2a3b'), '2f8e4b6a-1c3d-4e5f-9a7b-8c9d0e1f2a3b');
  assert.equal(parseVarValue('CRITICAL'), 'CRITICAL');
});

test('query and check against a server (--url, --token)', async () => {
  await withServer('s3cret', async (url) => {
    const ok = await lbtopo(['query', '--url', url, '--token', 's3cret', '--query', '{ pools { id } }']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(json(ok).data.pools.length, lab.pools.length);
    const noToken = await lbtopo(['query', '--url', `${url}/graphql`, '--query', '{ pools { id } }']);
    assert.equal(noToken.status, 1);
    assert.match(json(noToken).errors[0].message, /bearer token/);
    const check = await lbtopo(['check', '--url', url], { env: { ...env, LBTOPO_TOKEN: 's3cret' } });
    assert.equal(check.status, 0, check.stdout);
    assert.match(check.stdout, /^LBAAS OK - 5 pools/);
    // /metrics is behind the token like everything but /health.
    assert.equal((await fetch(`${url}/metrics`)).status, 401);
    const metrics = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer s3cret' } });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), new RegExp(`^lbtopo_pool_haproxy_up\\{pool="${healthy.poolId}",layout="v1"\\} 1$`, 'm'));
    const refused = await lbtopo(['check', '--url', url, '--token', 'wrong']);
    assert.equal(refused.status, 3);
    assert.match(refused.stdout, /^LBAAS UNKNOWN - .*HTTP 401/);
  });
});

test('check: UNKNOWN (3) for bad flags and an unreachable --url; query: 1 for an unreachable --url', async () => {
  for (const args of [['check', '--bogus'], ['check', '--warning', '5:1'], ['check', '--critical', 'x'], ['check', '-t', '0s'], ['check', '--ignore', 'NOT_A_CODE'], ['check', 'extra']]) {
    const run = await lbtopo(args);
    assert.equal(run.status, 3, args.join(' '));
    assert.match(run.stdout, /^LBAAS UNKNOWN - bad usage: /);
    assert.equal(run.stdout.trim().split('\n').length, 1);
  }
  const nobody = `http://127.0.0.1:${await closedPort()}`;
  const closed = await lbtopo(['check', '--url', nobody, '--timeout', '5s']);
  assert.equal(closed.status, 3);
  assert.equal(closed.stdout, `LBAAS UNKNOWN - cannot reach ${nobody}: ECONNREFUSED\n`);
  const badEnv = await lbtopo(['check'], { env: { ...env, LBTOPO_TTL: 'soon' } });
  assert.equal(badEnv.status, 3);
  assert.match(badEnv.stdout, /^LBAAS UNKNOWN - invalid configuration: - LBTOPO_TTL/);
  const query = await lbtopo(['query', '--url', nobody, '--query', '{ pools { id } }']);
  assert.equal(query.status, 1);
  assert.match(query.stderr, /cannot reach/);
});

test('check on a broken lab: CRITICAL (2), thresholds and --ignore, verbose lines', async () => {
  await lab.injectFault(killed.poolId, 'kill-haproxy');
  await lab.injectFault(deadVlan.poolId, 'dead-vlan');
  await lab.injectFault(membersDown.poolId, 'members-down');
  await lab.addOrphanNamespace();
  // Wait until haproxy's health checks have seen the members go (inter 1s, fall 2).
  const app = appForLab(lab);
  try {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 1000))) {
      const res = await gql(app, '{ problems(code: ALL_MEMBERS_DOWN, maxAge: 0) { poolId } }');
      if (res.data.problems.length === 2) break;
    }
  } finally {
    app.close();
  }

  const run = await lbtopo(['check']);
  assert.equal(run.status, 2, run.stdout + run.stderr);
  // 2 critical: HAPROXY_MISSING (killed), OVS_DEAD_VLAN; 3 warning: HAPROXY_PID_STALE, ALL_MEMBERS_DOWN x2.
  assert.match(run.stdout, /^LBAAS CRITICAL - 5 pools, 2 critical, 3 warning, \d+ info: HAPROXY_MISSING, OVS_DEAD_VLAN, ALL_MEMBERS_DOWN x2, HAPROXY_PID_STALE \| critical=2;;0;0 alerting=5;0;;0 warning=3;;;0 info=\d+;;;0 pools=5;;;0 pools_critical=2;;;0;5 time=[\d.]+s;;;0\n$/);

  const raised = await lbtopo(['check', '--critical', '3']);
  assert.equal(raised.status, 1, 'two criticals inside -c 0:3 still warn');
  assert.match(raised.stdout, /^LBAAS WARNING - /);
  const tolerant = await lbtopo(['check', '--critical', '3', '--warning', '6']);
  assert.equal(tolerant.status, 0);
  const ignoring = await lbtopo(['check', '--ignore', 'HAPROXY_MISSING', '--ignore', 'OVS_DEAD_VLAN', '--ignore', 'HAPROXY_PID_STALE', '--ignore', 'ALL_MEMBERS_DOWN']);
  assert.equal(ignoring.status, 0, ignoring.stdout);

  const ranged = await lbtopo(['check', '-c', '@3:10', '-w', '~:5']);
  assert.equal(ranged.status, 0, `2 critical outside @3:10, 5 alerting inside ~:5: ${ranged.stdout}`);

  const verbose = await lbtopo(['check', '-v', '--max-age', '0']);
  assert.equal(verbose.status, 2);
  const lines = verbose.stdout.trim().split('\n');
  assert.match(lines[0]!, /^LBAAS CRITICAL/);
  assert.ok(lines.some((l) => l.startsWith('CRITICAL HAPROXY_MISSING: ') && l.includes(killed.poolId)));
  assert.ok(lines.some((l) => l.startsWith('CRITICAL OVS_DEAD_VLAN: ') && l.includes(deadVlan.tapName)));
  assert.ok(!lines.some((l) => l.startsWith('INFO ')), '-v shows WARNING and worse only');
  const vv = await lbtopo(['check', '-vv']);
  assert.ok(vv.stdout.split('\n').some((l) => l.startsWith('INFO MEMBER_DOWN: ')), '-vv adds INFO');
  const vvv = await lbtopo(['check', '-v', '-v', '-v']);
  assert.ok(vvv.stdout.split('\n').some((l) => /^probe lbaas: (ran|cache) in [\d.]+ ms$/.test(l)), '-vvv adds the probes');
});

test('the example queries run and return what the lab holds', async () => {
  const example = async (name: string, ...args: string[]) => {
    const run = await lbtopo(['query', `${EXAMPLES}/${name}`, ...args]);
    assert.equal(run.status, 0, `${name}: ${run.stdout}${run.stderr}`);
    const body = json(run);
    assert.equal(body.errors, undefined, name);
    return body.data;
  };

  const missing = await example('pools-haproxy-missing.graphql');
  assert.deepEqual(missing.pools.map((p: { id: string }) => p.id), [killed.poolId]);
  assert.deepEqual(missing.pools[0].stalePids, missing.pools[0].pidFilePids);
  assert.equal(missing.pools[0].namespace.name, killed.namespace);

  const trace = await example('pool-trace.graphql', '--var', `id=${healthy.poolId}`);
  assert.equal(trace.pool.id, healthy.poolId);
  assert.equal(trace.pool.namespace.name, healthy.namespace);
  assert.equal(trace.pool.vipInterface.name, healthy.tapName);
  const { ofport, ...ovsPort } = trace.pool.vipPort.ovsPort;
  assert.ok(ofport > 0);
  assert.deepEqual(ovsPort, { name: healthy.tapName, bridge: 'br-int', tag: healthy.vlanTag, deadVlan: false, error: null, ifaceId: healthy.portId });
  assert.equal(trace.pool.vipPort.id, healthy.portId);
  assert.equal(trace.pool.haproxy.pid, lab.haproxyPid(healthy.poolId));
  assert.equal(trace.pool.haproxy.namespace.name, healthy.namespace);
  assert.deepEqual(trace.pool.problems.map((p: { code: string }) => p.code), ['MEMBER_DOWN']);

  const orphans = await example('orphan-namespaces.graphql');
  const orphanNames = orphans.namespaces.map((n: { name: string }) => n.name);
  assert.ok(orphanNames.includes(lab.orphanNamespaces[0]));
  for (const p of lab.pools) assert.ok(!orphanNames.includes(p.namespace));

  const dead = await example('dead-vlan-taps.graphql');
  assert.deepEqual(dead.ovsPorts.map((p: { name: string; tag: number; ifaceId: string; interface: { namespaceName: string } }) => [p.name, p.tag, p.ifaceId, p.interface.namespaceName]), [
    [deadVlan.tapName, 4095, deadVlan.portId, deadVlan.namespace],
  ]);

  const members = await example('members-down.graphql');
  const silentIds = lab.pools.filter((p) => p !== killed && p !== deadVlan && p !== membersDown).map((p) => p.members.find((m) => !m.answering)!.id).sort();
  assert.deepEqual(members.memberDown.map((p: { member: { id: string } }) => p.member.id).sort(), silentIds);
  assert.ok(members.memberDown.every((p: { member: { status: string } }) => p.member.status.startsWith('DOWN')));
  assert.deepEqual(members.allDown.map((p: { poolId: string }) => p.poolId).sort(), [deadVlan.poolId, membersDown.poolId].sort());

  const problems = await example('problems.graphql');
  const mine = problems.problems.filter((p: { poolId: string | null; namespaceName: string | null }) => lab.pools.some((l) => l.poolId === p.poolId) || lab.orphanNamespaces.includes(p.namespaceName ?? ''));
  assert.ok(mine.some((p: { code: string; poolId: string }) => p.code === 'HAPROXY_MISSING' && p.poolId === killed.poolId));
  assert.ok(mine.some((p: { code: string; namespaceName: string }) => p.code === 'ORPHAN_NAMESPACE' && p.namespaceName === lab.orphanNamespaces[0]));
  const critical = await example('problems.graphql', '--var', 'severity=CRITICAL');
  assert.ok(critical.problems.length > 0 && critical.problems.every((p: { severity: string }) => p.severity === 'CRITICAL'));
});
