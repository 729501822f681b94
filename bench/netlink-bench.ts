// Netlink in-process against `ip -batch` per namespace, in one run on the same namespaces:
// N namespaces (default 200) shaped like the facts' measurement (lo, a veth pair, a tap; 7
// addresses of both families; routes in the main and a second table), then, rounds interleaved
// and medians kept:
//   ip       one `ip -s -d -j -n NS -batch -` per namespace, 4 at once (readNamespaceNetwork today;
//            its CPU includes the ip processes)
//   cold     readNamespaceNetworkNetlink for all, the netlink workers started afresh (their start counted)
//   warm     the same with the workers already up
// with wall ms, process CPU ms (all threads) and the ratio to ip; and the event latency: a
// change written to a long-lived `ip -batch` (no fork per change) until onChange, median of 30.
// Prints figures; asserts nothing. Usage: node bench/netlink-bench.ts [--namespaces N] [--runs R] [--compiled]
// As a section of a larger bench: import { netlinkBench } and call it with the same options.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { CommandGateway } from '../src/host/exec.ts';
import { readNamespaceNetwork } from '../src/host/iproute.ts';
import * as sourceNetlink from '../src/host/netlink.ts';

type NetlinkModule = typeof sourceNetlink;
/** The sources by default; --compiled takes dist/ (npm run build), what `npm start` runs, where workers start faster. */
let netlink: NetlinkModule = sourceNetlink;

export interface NetlinkBenchOptions {
  namespaces?: number;
  /** Use dist/src/host/netlink.js instead of the TypeScript sources. */
  compiled?: boolean;
  runs?: number;
  log?: (line: string) => void;
}

export interface NetlinkBenchFigures {
  namespaces: number;
  ip: { wallMs: number; cpuMs: number };
  cold: { wallMs: number; cpuMs: number };
  warm: { wallMs: number; cpuMs: number };
  eventLatencyMs: { p50: number; max: number };
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;

function shape(ns: string, i: number): string {
  const a = (i >> 8) & 255;
  const b = i & 255;
  const lines = [
    'link set lo up',
    'link add veth0 type veth peer name veth1',
    'link set veth0 up',
    'link set veth1 up',
    'tuntap add dev tap0 mode tap',
    'link set tap0 up',
    `addr add 10.${a}.${b}.2/24 dev veth0`,
    `addr add fd00:${a}:${b}::2/64 dev veth0 nodad`,
    `addr add 10.200.${b}.2/24 dev tap0`,
    `addr add fd00:200:${b}::2/64 dev tap0 nodad`,
    `route add default via 10.${a}.${b}.1 dev veth0`,
    `route add ::/0 via fd00:${a}:${b}::1 dev veth0`,
    ...Array.from({ length: 5 }, (_, k) => `route add 10.${100 + k}.${b}.0/24 via 10.${a}.${b}.1 dev veth0 table 100`),
    ...Array.from({ length: 3 }, (_, k) => `route add fd00:${100 + k}::/48 via fd00:${a}:${b}::1 dev veth0 table 100`),
  ];
  execFileSync('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
  return ns;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU of reaped children (cutime + cstime of /proc/self/stat), so the ip processes count too. */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
}

/** Wall and CPU ms of fn: this process (every thread, so the workers too) plus the children it reaped. */
async function timed(fn: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const children0 = childrenCpuMs();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 + childrenCpuMs() - children0 };
}

async function all<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** The latency of change events: a long-lived ip process makes each change, so no fork is timed. */
async function eventLatency(ns: string, samples: number): Promise<number[]> {
  const ip = spawn('ip', ['-n', ns, '-batch', '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
  let waiting: (() => void) | null = null;
  const watch = netlink.watchNamespace(ns, `/run/netns/${ns}`, {
    onChange: (kind) => { if (kind === 'link' && waiting) { const w = waiting; waiting = null; w(); } },
    onOverflow() {},
    onError(err) { throw err; },
  });
  try {
    if (!(await watch.ready)) throw new Error('watch did not open');
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      const seen = new Promise<void>((resolve) => { waiting = resolve; });
      const t0 = performance.now();
      ip.stdin.write(`link set lo mtu ${60000 + i}\n`);
      await seen;
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
    return latencies;
  } finally {
    watch.close();
    ip.stdin.end();
  }
}

export async function netlinkBench(options: NetlinkBenchOptions = {}): Promise<NetlinkBenchFigures> {
  if (options.compiled) {
    const compiled = new URL('../dist/src/host/netlink.js', import.meta.url).href;
    netlink = (await import(compiled)) as NetlinkModule;
  }
  const count = options.namespaces ?? 200;
  const runs = options.runs ?? 5;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const support = netlink.netlinkSupport();
  if (!support.available) throw new Error(`netlink addon unavailable: ${support.reason}`);
  const prefix = `lbtnlb-${randomBytes(3).toString('hex')}`;
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const made: string[] = [];
  const cleanup = () => {
    for (const ns of made.splice(0)) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  };
  process.once('SIGINT', () => { cleanup(); process.exit(130); });
  try {
    const t0 = performance.now();
    for (const [i, ns] of names.entries()) {
      execFileSync('ip', ['netns', 'add', ns]);
      made.push(ns);
      shape(ns, i);
    }
    log(`netlink bench (${options.compiled ? 'compiled dist/' : 'TypeScript sources'}): ${count} namespaces built in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    await new Promise((r) => setTimeout(r, 2000)); // let IPv6 settle (link-local, DAD)

    const gateway = new CommandGateway({ concurrency: 4 });
    const readIp = () => all(names, 4, (ns) => readNamespaceNetwork(gateway, ns));
    const readNetlink = () => Promise.all(names.map((ns) => netlink.readNamespaceNetworkNetlink(ns, `/run/netns/${ns}`)));
    type Sample = { wallMs: number; cpuMs: number };
    const results: { ip: Sample[]; cold: Sample[]; warm: Sample[] } = { ip: [], cold: [], warm: [] };
    for (let round = -1; round < runs; round++) {
      const ip = await timed(readIp);
      await netlink.stopNetlinkWorkers();
      const cold = await timed(readNetlink);
      const warm = await timed(readNetlink);
      if (round < 0) continue; // warm-up round: page cache, lazy module loads
      results.ip.push(ip);
      results.cold.push(cold);
      results.warm.push(warm);
    }
    const pick = (list: Array<{ wallMs: number; cpuMs: number }>) => ({ wallMs: median(list.map((x) => x.wallMs)), cpuMs: median(list.map((x) => x.cpuMs)) });
    const figures: NetlinkBenchFigures = {
      namespaces: count,
      ip: pick(results.ip),
      cold: pick(results.cold),
      warm: pick(results.warm),
      eventLatencyMs: { p50: 0, max: 0 },
    };
    const latencies = await eventLatency(names[0]!, 30);
    figures.eventLatencyMs = { p50: median(latencies), max: Math.max(...latencies) };

    log(`| ${count} namespaces, median of ${runs} | wall ms | CPU ms | wall × ip |`);
    log('|---|---|---|---|');
    for (const [label, f] of [['ip -batch per namespace, 4 at once', figures.ip], ['netlink, workers started cold', figures.cold], ['netlink, workers warm', figures.warm]] as const) {
      log(`| ${label} | ${f.wallMs.toFixed(0)} | ${f.cpuMs.toFixed(0)} | ${(f.wallMs / figures.ip.wallMs).toFixed(3)} |`);
    }
    log(`ip / netlink: ${(figures.ip.wallMs / figures.cold.wallMs).toFixed(1)}× cold, ${(figures.ip.wallMs / figures.warm.wallMs).toFixed(1)}× warm`);
    log(`change event latency (link change written to a running ip -batch → onChange): p50 ${figures.eventLatencyMs.p50.toFixed(2)} ms, max ${figures.eventLatencyMs.max.toFixed(2)} ms of 30`);
    return figures;
  } finally {
    await netlink.stopNetlinkWorkers();
    cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { namespaces: { type: 'string', default: '200' }, runs: { type: 'string', default: '5' }, compiled: { type: 'boolean', default: false } } });
  await netlinkBench({ namespaces: Number(values.namespaces), runs: Number(values.runs), compiled: values.compiled });
}
