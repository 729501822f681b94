// The pool -> haproxy join at 200 and 1000 pools, on records shaped as the /proc scan makes them
// (a host with 10 processes per pool besides each pool's haproxy), against an anchor measured in
// the same run: the old join, which scanned every process for every pool. Prints ratios; asserts
// nothing. Usage: node bench/joins.ts [--rounds N]
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { liveHaproxyOf } from '../src/topology/pools.ts';
import type { PoolRecord } from '../src/topology/pools.ts';
import type { ProcessInfo } from '../src/host/procfs.ts';
import { flagValues } from '../src/host/haproxy-process.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20' } } });
const ROUNDS = Number(values.rounds);

function host(pools: number): { pools: PoolRecord[]; processes: ProcessInfo[] } {
  const poolList: PoolRecord[] = [];
  const processes: ProcessInfo[] = [];
  let pid = 100;
  for (let i = 0; i < pools; i++) {
    const id = `aaaaaaaa-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const configPath = `/var/lib/neutron/lbaas/${id}/conf`;
    const hp = pid++;
    poolList.push({ id, deployment: { configPath, configRealPath: configPath, pids: [hp] }, namespaceName: `qlbaas-${id}` } as unknown as PoolRecord);
    processes.push({ pid: hp, ppid: 1, comm: 'haproxy', state: 'S', startTicks: hp, startedAt: hp, uid: 0, user: 'root', rssBytes: 1, argv: ['haproxy', '-f', configPath, '-p', `/var/lib/neutron/lbaas/${id}/pid`], exe: '/usr/sbin/haproxy', netnsInode: 4026532000 + i, haproxy: { matched: 'argv[0] haproxy, exe /usr/sbin/haproxy', givenConfigPaths: [configPath], configPaths: [configPath], pidFile: null } });
    for (let k = 0; k < 10; k++) {
      const p = pid++;
      processes.push({ pid: p, ppid: 1, comm: 'python3', state: 'S', startTicks: p, startedAt: p, uid: 0, user: 'root', rssBytes: 1, argv: ['python3', '/usr/bin/neutron-agent', `--n=${k}`], exe: '/usr/bin/python3', netnsInode: 4026531840, haproxy: null });
    }
  }
  return { pools: poolList, processes };
}

/** The join as it was: for each pool, every process filtered by argv. */
function scanJoin(pools: PoolRecord[], processes: ProcessInfo[]): number {
  let found = 0;
  for (const pool of pools) {
    const candidates = processes.filter((p) => p.state !== 'Z' && (p.comm === 'haproxy' || p.argv[0]?.split('/').pop() === 'haproxy') && flagValues(p.argv, '-f').includes(pool.deployment.configPath));
    if (candidates.length > 0) found++;
  }
  return found;
}

function indexJoin(pools: PoolRecord[], processes: readonly ProcessInfo[]): number {
  let found = 0;
  for (const pool of pools) if (liveHaproxyOf(pool, processes)) found++;
  return found;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

console.log(`joins bench: ${cpus().length} cpus (${cpus()[0]?.model ?? '?'}), ${ROUNDS} rounds, medians`);
console.log('| pools | processes | scan per pool (anchor) | index, first request (builds it) | index, warm | warm vs anchor |');
console.log('|---|---|---|---|---|---|');
const warmByPools = new Map<number, number>();
for (const n of [200, 1000]) {
  const { pools, processes } = host(n);
  const scan: number[] = [];
  const cold: number[] = [];
  const warm: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = performance.now();
    if (scanJoin(pools, processes) !== n) throw new Error('scan join is wrong');
    scan.push(performance.now() - t0);
    const fresh = [...processes]; // a new observation: a new payload object, a new index
    t0 = performance.now();
    if (indexJoin(pools, fresh) !== n) throw new Error('index join is wrong');
    cold.push(performance.now() - t0);
    t0 = performance.now();
    indexJoin(pools, fresh);
    warm.push(performance.now() - t0);
  }
  warmByPools.set(n, median(warm));
  console.log(`| ${n} | ${processes.length} | ${median(scan).toFixed(2)} ms | ${median(cold).toFixed(2)} ms | ${median(warm).toFixed(3)} ms | ${(median(warm) / median(scan)).toFixed(4)}x |`);
}
console.log(`1000 pools against 200, warm: ${(warmByPools.get(1000)! / warmByPools.get(200)!).toFixed(1)}x (linear: 5x)`);
