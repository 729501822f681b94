// Benchmark on a real 100-pool lab: each discovery probe's cost for all pools, and the contract
// query cold and warm, each against a baseline run in the same process: spawning one bare
// `ip -n NS link show` per pool namespace (what any per-namespace tool pays at the least).
// Prints figures; asserts nothing. Usage: npm run bench [-- --pools N --runs R]
import { parseArgs } from 'node:util';
import { cpus, loadavg } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labUp } from '../src/lab/lab.ts';
import { CommandGateway } from '../src/host/exec.ts';
import { listLbaasDeployments } from '../src/host/lbaas-state.ts';
import { listNamespaces } from '../src/host/netns.ts';
import { scanProcesses } from '../src/host/procfs.ts';
import { readNamespaceNetwork } from '../src/host/iproute.ts';
import { readOvsSnapshot } from '../src/host/ovs.ts';
import { queryHaproxyStats } from '../src/host/haproxy-stats.ts';
import { loadConfig } from '../src/config.ts';
import { createApp } from '../src/server.ts';
import { readExampleQuery } from '../src/example-queries.ts';

const { values } = parseArgs({ options: { pools: { type: 'string', default: '100' }, runs: { type: 'string', default: '5' } } });
const POOLS = Number(values.pools);
const RUNS = Number(values.runs);

const CONTRACT = readExampleQuery('pools-trace');

async function median(fn: () => Promise<unknown>, runs = RUNS): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function all<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

const t0 = Date.now();
const lab = await labUp({ v1Pools: POOLS, v2LoadBalancers: 0 });
const buildSeconds = (Date.now() - t0) / 1000;
try {
  const namespaces = lab.pools.map((p) => p.namespace);
  const gateway = new CommandGateway({ concurrency: 4 });
  const rows: Array<[string, number]> = [];
  const baseline = await median(() => all(namespaces, 4, (ns) => gateway.run(['ip', '-n', ns, 'link', 'show'])));
  const baselineSeq = await median(() => all(namespaces, 1, (ns) => gateway.run(['ip', '-n', ns, 'link', 'show'])));

  rows.push(['lbaas: state dirs + configs + pid files', await median(() => listLbaasDeployments({ lbaasDir: lab.lbaasDir, octaviaDir: lab.octaviaDir }))]);
  rows.push(['netns: list named namespaces', await median(() => listNamespaces())]);
  rows.push(['proc: one /proc scan', await median(() => scanProcesses())]);
  rows.push(['ip: one ip -batch per namespace (4 at once)', await median(() => all(namespaces, 4, (ns) => readNamespaceNetwork(gateway, ns)))]);
  rows.push(['ovs: one ovs-vsctl transaction', await median(() => readOvsSnapshot(gateway, lab.ovsdb))]);
  rows.push(['stats: every stats socket (4 at once)', await median(() => all(lab.pools, 4, (p) => queryHaproxyStats(p.socketPath)))]);

  const config = loadConfig({ ...lab.env(), LBTOPO_DB: join(mkdtempSync(join(tmpdir(), 'lbtopo-bench-')), 'db.sqlite'), LBTOPO_TTL: '1h' });
  const app = createApp(config, { log: () => {} });
  const query = async (q: string) => {
    const r = await app.yoga.fetch('http://bench/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: q }) });
    const body = (await r.json()) as { data?: { pools?: unknown[] } };
    if (!body.data?.pools || body.data.pools.length !== POOLS) throw new Error('contract query did not return every pool');
  };
  const cold = await median(() => query(CONTRACT.replace(/\bpools \{/, 'pools(maxAge: 0) {')));
  const warm = await median(() => query(CONTRACT));
  const idsOnly = await median(() => query('{ pools(maxAge: 0) { id } }'));
  app.close();

  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  console.log(`lbaas-topology bench: ${POOLS} neutron-lbaas v1 pools, median of ${RUNS} runs`);
  console.log(`machine: ${cpus().length} x ${cpu}, node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; lab built in ${buildSeconds.toFixed(1)} s`);
  console.log(`baseline: one bare \`ip -n NS link show\` per namespace: ${baseline.toFixed(0)} ms (4 at once), ${baselineSeq.toFixed(0)} ms (one at a time)`);
  console.log('');
  console.log('| what | ms | x baseline |');
  console.log('|---|---:|---:|');
  for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(1)} | ${(ms / baseline).toFixed(2)} |`);
  console.log(`| contract query, cold (maxAge: 0, every probe runs) | ${cold.toFixed(1)} | ${(cold / baseline).toFixed(2)} |`);
  console.log(`| contract query, warm (all from the SQLite cache) | ${warm.toFixed(1)} | ${(warm / baseline).toFixed(2)} |`);
  console.log(`| { pools { id } }, cold (state dirs only) | ${idsOnly.toFixed(1)} | ${(idsOnly / baseline).toFixed(2)} |`);
} finally {
  await lab.down();
}
