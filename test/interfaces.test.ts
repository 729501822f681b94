// The operator's interfaces on a real lab (3 v1 pools and a v2 load balancer; one haproxy killed,
// one tap on the dead VLAN): the daily commands (`pools`, `problems`, `trace`) as child processes,
// in-process and against a served host; the trace drawn by graphviz; /metrics checked by
// Debian's promtool with bounded labels; one JSON log line per request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { labUp } from '../src/lab/lab.ts';
import type { Lab, LabPool } from '../src/lab/lab.ts';
import { createApp, serve } from '../src/server.ts';
import type { App } from '../src/server.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { tmpDb } from './support.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

let lab: Lab;
let env: NodeJS.ProcessEnv;
let healthy: LabPool, killed: LabPool, deadVlan: LabPool, v2: LabPool;
let app: App;
let server: Server;
let url: string;
const logLines: string[] = [];

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function lbtopo(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/main.ts', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function ok(args: string[]): Promise<string> {
  const run = await lbtopo(args);
  assert.equal(run.status, 0, `lbtopo ${args.join(' ')}: ${run.stdout}${run.stderr}`);
  return run.stdout;
}

before(async () => {
  lab = await labUp({ v1Pools: 3, v2LoadBalancers: 1 });
  [healthy, killed, deadVlan] = lab.pools.filter((p) => p.layout === 'v1') as [LabPool, LabPool, LabPool];
  v2 = lab.pools.find((p) => p.layout === 'v2')!;
  await lab.injectFault(killed.poolId, 'kill-haproxy');
  await lab.injectFault(deadVlan.poolId, 'dead-vlan');
  env = { ...process.env, ...lab.env(), LBTOPO_DB: tmpDb(), LBTOPO_TTL: '0s' };
  delete env.LBTOPO_TOKEN;
  const config = loadConfig({ ...lab.env(), LBTOPO_DB: tmpDb(), LBTOPO_LISTEN: '127.0.0.1:0', LBTOPO_TTL: '0s' });
  app = createApp(config, { logger: createLogger({ format: 'json', level: 'info', write: (l) => logLines.push(l) }) });
  server = await serve(app);
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server?.close();
  app?.close();
  await lab?.down();
});

test('pools: a table sorted by id, the same rows as json, yaml, csv and value, in-process and --url', async () => {
  const table = await ok(['pools']);
  const lines = table.trimEnd().split('\n');
  assert.match(lines[0]!, /^\+-+\+/);
  assert.match(lines[1]!, /^\| id +\| layout +\| load_balancer +\| namespace +\| vip +\| haproxy +\| members_up +\| problems +\|$/);
  const ids = lines.slice(3, -1).map((l) => l.split('|')[1]!.trim());
  assert.deepEqual(ids, lab.pools.map((p) => p.poolId).sort(), 'one row per pool, sorted');
  const killedRow = lines.find((l) => l.includes(killed.poolId))!;
  assert.match(killedRow, /\| missing +\|/);
  assert.match(killedRow, /HAPROXY_MISSING/);

  const json = JSON.parse(await ok(['pools', '-f', 'json'])) as Array<Record<string, unknown>>;
  assert.deepEqual(json.map((r) => r.id), ids);
  assert.equal(json.find((r) => r.id === v2.poolId)!.load_balancer, v2.loadBalancerId);
  assert.equal(json.find((r) => r.id === healthy.poolId)!.haproxy, lab.haproxyPid(healthy.poolId));
  assert.equal(json.find((r) => r.id === healthy.poolId)!.vip, `${healthy.vip}:80`);
  assert.deepEqual(parseYaml(await ok(['pools', '-f', 'yaml'])), json, 'yaml says what json says');
  const remote = JSON.parse(await ok(['pools', '-f', 'json', '--url', url]));
  assert.deepEqual(remote.map((r: { id: string }) => r.id), ids, '--url lists the same pools');

  const csv = await ok(['pools', '-f', 'csv', '-c', 'haproxy', '-c', 'id']);
  const csvLines = csv.split('\r\n').filter(Boolean);
  assert.equal(csvLines[0], '"haproxy","id"', '-c chooses and orders the columns');
  assert.ok(csvLines.includes(`"missing","${killed.poolId}"`));
  assert.ok(csvLines.includes(`${lab.haproxyPid(healthy.poolId)},"${healthy.poolId}"`), 'numbers unquoted');
  const value = await ok(['pools', '-f', 'value', '-c', 'id', '--missing']);
  assert.equal(value, `${killed.poolId}\n`, '--missing lists the pool with no haproxy');
  assert.equal(await ok(['pools', '-f', 'value', '-c', 'id', '--problem', 'OVS_DEAD_VLAN']), `${deadVlan.poolId}\n`);

  for (const args of [['pools', '-f', 'xml'], ['pools', '-c', 'nope'], ['pools', '--problem', 'NOPE'], ['pools', 'extra']]) {
    const bad = await lbtopo(args);
    assert.equal(bad.status, 2, args.join(' '));
    assert.equal(bad.stdout, '');
  }
});

test('pools -c id -c haproxy runs no host command (only the columns shown are looked up)', async () => {
  const ran: string[][] = [];
  const stop = app.gateway.onRun((r) => ran.push(r.argv));
  try {
    await ok(['pools', '--url', url, '-c', 'id', '-c', 'haproxy']);
  } finally {
    stop();
  }
  assert.deepEqual(ran, []);
});

test('problems: worst first, --severity filters, columns', async () => {
  const rows = JSON.parse(await ok(['problems', '-f', 'json'])) as Array<{ severity: string; code: string; pool: string | null; subject: string | null }>;
  const rank = (s: string) => ['CRITICAL', 'WARNING', 'INFO'].indexOf(s);
  assert.deepEqual(rows.map((r) => rank(r.severity)), rows.map((r) => rank(r.severity)).sort((a, b) => a - b), 'worst first');
  assert.ok(rows.some((r) => r.code === 'HAPROXY_MISSING' && r.pool === killed.poolId));
  assert.ok(rows.some((r) => r.code === 'OVS_DEAD_VLAN' && r.pool === deadVlan.poolId && r.subject === `ovs port ${deadVlan.ovsPortName}`));
  const critical = await ok(['problems', '--severity', 'CRITICAL', '-f', 'value', '-c', 'code', '-c', 'pool']);
  assert.deepEqual(critical.trim().split('\n').sort(), [`HAPROXY_MISSING ${killed.poolId}`, `OVS_DEAD_VLAN ${deadVlan.poolId}`].sort());
  const table = await ok(['problems', '-c', 'severity', '-c', 'code']);
  assert.match(table, /^\+-+\+-+\+\n\| severity \| code +\|\n/);
  assert.equal((await lbtopo(['problems', '--severity', 'BAD'])).status, 2);
});

test('trace: the tree from pool to members, problems marked where they sit; found by pool, VIP, tap or port', async () => {
  const tree = await ok(['trace', killed.poolId]);
  const lines = tree.split('\n');
  assert.equal(lines[0], `pool ${killed.poolId}`);
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const order = [/^├── namespace qlbaas-/, new RegExp(`^│   ├── tap ${killed.tapName}$`), /addresses .*\/16/, /rx \d+ packets/, new RegExp(`└── OVS port ${killed.ovsPortName}$`), /tag \d+, ofport \d+/, /└── bridge br-int$/, /^├── haproxy: not running  ✗ CRITICAL HAPROXY_MISSING/, /stats socket /, /^└── members \?\/2 up$/];
  const positions = order.map(at);
  assert.ok(positions.every((p) => p > 0), `every node is there:\n${tree}`);
  assert.deepEqual(positions, [...positions].sort((a, b) => a - b), `in the order of the manual trace:\n${tree}`);
  assert.ok(lines.some((l) => l.includes(`mac ${killed.mac}`)));
  assert.match(tree, /\nproblems:\n {2}✗ CRITICAL HAPROXY_MISSING: Pool /);

  const dead = await ok(['trace', deadVlan.poolId]);
  assert.match(dead, new RegExp(`└── OVS port ${deadVlan.ovsPortName}  ✗ CRITICAL OVS_DEAD_VLAN\\n.*tag 4095 \\(dead VLAN\\)`));
  assert.match(dead, new RegExp(`├── haproxy pid ${lab.haproxyPid(deadVlan.poolId)}\\n.*haproxy -f ${deadVlan.configPath}`));

  const normalise = (t: string) => t.replace(/(rx|tx) \d+ packets, [\d.]+ \S+/g, '$1 N').replace(/up \d+ s/, 'up N s');
  const reference = normalise(await ok(['trace', healthy.poolId]));
  for (const alias of [healthy.vip, `${healthy.vip}:80`, healthy.tapName, healthy.tapName.slice(3), healthy.portId]) {
    assert.equal(normalise(await ok(['trace', alias])), reference, `trace ${alias}`);
  }
  assert.equal(normalise(await ok(['trace', healthy.poolId, '--url', url])), reference, '--url draws the same tree');

  const missing = await lbtopo(['trace', '10.99.99.99']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no pool on this host has VIP 10\.99\.99\.99/);
  for (const args of [['trace'], ['trace', 'not a pool'], ['trace', healthy.poolId, '-f', 'png'], ['trace', 'a', 'b']]) assert.equal((await lbtopo(args)).status, 2, args.join(' '));
});

test('trace -f dot renders with graphviz; -f mermaid is a flowchart; -f json is the GraphQL answer', async () => {
  const dot = await ok(['trace', deadVlan.poolId, '-f', 'dot']);
  assert.match(dot, /^digraph trace \{/);
  // graphviz writes '-' as &#45; in SVG text.
  const svg = execFileSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8' }).replace(/&#45;/g, '-');
  assert.match(svg, /<svg/);
  assert.ok(svg.includes(deadVlan.poolId) && svg.includes('OVS_DEAD_VLAN'), 'the picture names the pool and the problem');
  assert.match(dot, /fillcolor="#f4b4b4"/, 'the node with a CRITICAL problem is red');
  const mermaid = await ok(['trace', deadVlan.poolId, '-f', 'mermaid']);
  assert.match(mermaid, /^flowchart LR\n {2}n0\["pool /);
  assert.match(mermaid, /class n\d+ critical/);
  const json = JSON.parse(await ok(['trace', deadVlan.poolId, '-f', 'json']));
  assert.equal(json.data.pool.vipPort.ovsPort.tag, 4095);
});

test('/metrics passes promtool check metrics, with per-member series, loadbalancer labels and build info', async () => {
  await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'query PoolTrace { pools { id } }' }) });
  const text = await (await fetch(`${url}/metrics`)).text();
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(promtool.status, 0, `promtool: ${promtool.stdout}${promtool.stderr}`);
  for (const pool of [healthy, deadVlan, v2]) {
    for (const member of pool.members) {
      const lb = pool.loadBalancerId ? `,loadbalancer="${pool.loadBalancerId}"` : '';
      assert.match(text, new RegExp(`^lbtopo_member_up\\{pool="${pool.poolId}"${lb},member="${member.id}"\\} [01]$`, 'm'));
    }
  }
  assert.match(text, new RegExp(`^lbtopo_pool_haproxy_up\\{pool="${v2.poolId}",loadbalancer="${v2.loadBalancerId}",layout="v2"\\} 1$`, 'm'));
  assert.match(text, new RegExp(`^lbtopo_listener_sessions_total\\{pool="${healthy.poolId}",listener="${healthy.frontendId}"\\} \\d+$`, 'm'));
  assert.match(text, /^lbtopo_build_info\{version="\d+\.\d+\.\d+",node_version="v24\.[\d.]+"\} 1$/m);
  assert.match(text, /^process_cpu_seconds_total \d/m);
  assert.match(text, /^nodejs_eventloop_lag_seconds \d/m);
  assert.match(text, /^lbtopo_graphql_operations_total\{operation_type="query",operation="PoolTrace",result="ok"\} \d+$/m, 'our own operation names are kept');
  assert.doesNotMatch(text, /operationName|camelCase/);
});

test('5000 distinct operation names do not grow /metrics (issue 8 item 17)', async () => {
  const series = async () => (await (await fetch(`${url}/metrics`)).text()).split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('lbtopo_probe_') && !l.startsWith('nodejs_') && !l.startsWith('process_'));
  const send = (name: string) => fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `query ${name} { __typename }` }) }).then((r) => r.text());
  await send('Warmup0');
  const before = (await series()).map((l) => l.replace(/ [^ ]+$/, '')).sort();
  for (let i = 0; i < 5000; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => send(`Invented${i + k}`)));
  const afterLines = await series();
  const after = afterLines.map((l) => l.replace(/ [^ ]+$/, '')).sort();
  assert.deepEqual(after, before, 'the same series, only their values moved');
  assert.doesNotMatch(afterLines.join('\n'), /Invented/);
  assert.match(afterLines.join('\n'), /lbtopo_graphql_operations_total\{operation_type="query",operation="other",result="ok"\} (\d+)/);
});

test('one JSON log line per request: operation, status, duration, probes', async () => {
  logLines.length = 0;
  await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'query Problems { pools { id haproxy { pid } } }' }) });
  await fetch(`${url}/health`);
  const entries = logLines.map((l) => JSON.parse(l) as Record<string, any>);
  assert.equal(entries.length, 1, `health checks are debug, not info: ${logLines.join('')}`);
  const [e] = entries as [Record<string, any>];
  assert.equal(e.level, 'info');
  assert.equal(e.msg, 'request');
  assert.equal(e.method, 'POST');
  assert.equal(e.path, '/graphql');
  assert.equal(e.status, 200);
  assert.equal(e.operation, 'Problems');
  assert.equal(e.operation_type, 'query');
  assert.equal(typeof e.duration_ms, 'number');
  assert.deepEqual(Object.keys(e.probes).sort(), ['lbaas', 'proc']);
  assert.equal(e.probes_run, 2, 'TTL 0: both probes ran');
  assert.ok(!Number.isNaN(Date.parse(e.time)));
});
