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

/**
 * Times every item once per round, rounds interleaved (after one warm-up round), and keeps each
 * item's median: the machine's drift during the run then weighs on every item alike, so the
 * ratios to the baseline hold even when the absolute figures move.
 */
async function medians(items: Array<[string, () => Promise<unknown>]>, rounds = RUNS): Promise<Map<string, number>> {
  const times = new Map<string, number[]>(items.map(([name]) => [name, []]));
  for (let round = -1; round < rounds; round++) {
    for (const [name, fn] of items) {
      const t0 = performance.now();
      await fn();
      if (round >= 0) times.get(name)!.push(performance.now() - t0);
    }
  }
  return new Map([...times].map(([name, list]) => [name, list.sort((a, b) => a - b)[Math.floor(list.length / 2)]!]));
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
  const config = loadConfig({ ...lab.env(), LBTOPO_DB: join(mkdtempSync(join(tmpdir(), 'lbtopo-bench-')), 'db.sqlite'), LBTOPO_TTL: '1h' });
  const app = createApp(config, { log: () => {} });
  const query = async (q: string) => {
    const r = await app.yoga.fetch('http://bench/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: q }) });
    const body = (await r.json()) as { data?: { pools?: unknown[] } };
    if (!body.data?.pools || body.data.pools.length !== POOLS) throw new Error('the query did not return every pool');
  };
  const BASELINE = 'baseline: one bare `ip -n NS link show` per namespace (4 at once)';
  const results = await medians([
    [BASELINE, () => all(namespaces, 4, (ns) => gateway.run(['ip', '-n', ns, 'link', 'show']))],
    ['lbaas: state dirs + configs + pid files', () => listLbaasDeployments({ lbaasDir: lab.lbaasDir, octaviaDir: lab.octaviaDir })],
    ['netns: list named namespaces', () => listNamespaces()],
    ['proc: one /proc scan', () => scanProcesses()],
    ['ip: one ip -batch per namespace (4 at once)', () => all(namespaces, 4, (ns) => readNamespaceNetwork(gateway, ns))],
    ['ovs: one ovs-vsctl transaction', () => readOvsSnapshot(gateway, lab.ovsdb)],
    ['stats: every stats socket (4 at once)', () => all(lab.pools, 4, (p) => queryHaproxyStats(p.socketPath))],
    ['contract query, cold (maxAge: 0, every probe runs)', () => query(CONTRACT.replace(/\bpools \{/, 'pools(maxAge: 0) {'))],
    ['contract query, warm (all from the SQLite cache)', () => query(CONTRACT)],
    ['{ pools { id } }, cold (state dirs only)', () => query('{ pools(maxAge: 0) { id } }')],
  ]);
  app.close();
  const baseline = results.get(BASELINE)!;

  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  console.log(`lbaas-topology bench: ${POOLS} neutron-lbaas v1 pools, median of ${RUNS} interleaved rounds after a warm-up`);
  console.log(`machine: ${cpus().length} x ${cpu}, node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; lab built in ${buildSeconds.toFixed(1)} s`);
  console.log('');
  console.log('| what | ms | x baseline |');
  console.log('|---|---:|---:|');
  for (const [name, ms] of results) console.log(`| ${name} | ${ms.toFixed(1)} | ${(ms / baseline).toFixed(2)} |`);
} finally {
  await lab.down();
}
