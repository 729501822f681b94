// The bounded load script (issue 8, proof): C clients for S seconds send a mix of the example
// queries to a served host with a lab (loopback only), and it checks what a user relies on:
//   - no 5xx, and every answer equal to the one computed once before the load (volatile counters
//     such as uptime and current connections left out);
//   - the server's RSS stays bounded (sampled every 250 ms from /proc/PID/status; the figure is
//     printed, and checked against --max-rss-mb);
//   - the host processes it runs stay bounded: the server's children never exceed
//     LBTOPO_COMMAND_CONCURRENCY (sampled with the RSS, children found by ppid).
// Prints the figures and exits 1 when a check fails. A script run by hand and by the
// integrator, not a timed test: test/load.test.ts runs a short version for correctness only.
//   node bench/load.ts [--clients 50] [--seconds 30] [--pools 20] [--ttl 2s] [--max-rss-mb 512] [--heap-mb N]
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labUp } from '../src/lab/lab.ts';
import type { Lab } from '../src/lab/lab.ts';
import { readExampleQuery } from '../src/example-queries.ts';
import { projectPath } from '../src/paths.ts';
import { parseDuration } from '../src/config.ts';

export interface LoadOptions {
  clients: number;
  seconds: number;
  pools: number;
  /** LBTOPO_TTL of the server: short, so probes run again and again under the load. */
  ttl: string;
  concurrency: number;
  /** --max-old-space-size of the server (MB); unset = node's default. */
  heapMb?: number;
  log?: (line: string) => void;
}

export interface LoadReport {
  requests: number;
  byStatus: Record<string, number>;
  serverErrors: number;
  wrong: Array<{ query: string; detail: string }>;
  latencyMs: { p50: number; p95: number; max: number };
  rssMb: { start: number; max: number; end: number; byQuarter: number[] };
  maxChildren: number;
  concurrency: number;
  queries: string[];
}

interface Case { name: string; query: string; variables: Record<string, unknown> }

/** What must not change between two answers: data and the errors' paths and codes. */
function comparable(body: any): string {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).filter(([k]) => !VOLATILE.has(k)).map(([k, v]) => [k, strip(v)]));
    }
    return typeof value === 'string' ? value.replace(CHECK_RESULT, ', check <last result>') : value;
  };
  const errors = (body.errors ?? []).map((e: any) => `${(e.path ?? []).join('.')} ${e.extensions?.code ?? ''}`).sort();
  return JSON.stringify({ data: strip(body.data), errors });
}
/**
 * What moves between two looks at a live haproxy without anything being wrong: its counters, and
 * the result of its last health check of a member that does not answer (L4CON while the kernel
 * refuses, L4TOUT while it times out; problem messages quote it).
 */
const VOLATILE = new Set(['uptimeSeconds', 'currentConnections', 'checkStatus', 'checkDescription']);
const CHECK_RESULT = /, check L[4-7][A-Z]+( [^;)]*)?/g;

/** Where two answers part, with a little context on each side. */
function difference(want: string, got: string): string {
  let at = 0;
  while (at < want.length && want[at] === got[at]) at++;
  const from = Math.max(0, at - 120);
  return `expected ...${want.slice(from, at + 120)}... got ...${got.slice(from, at + 120)}...`;
}

function rssMbOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function childrenOf(pid: number): number {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) n++;
    } catch {
      // gone
    }
  }
  return n;
}

const percentile = (list: number[], q: number) => (list.length === 0 ? 0 : [...list].sort((a, b) => a - b)[Math.min(list.length - 1, Math.floor(q * list.length))]!);

/** Serves the lab from its own process, runs the load, stops the server. */
export async function runLoad(lab: Lab, options: LoadOptions): Promise<LoadReport> {
  const log = options.log ?? ((line: string) => console.error(line));
  const db = join(mkdtempSync(join(tmpdir(), 'lbtopo-load-')), 'db.sqlite');
  const heap = options.heapMb ? [`--max-old-space-size=${options.heapMb}`] : [];
  const child = spawn(process.execPath, [...heap, projectPath('src', 'main.ts'), 'serve', '--listen', '127.0.0.1:0'], {
    env: { ...process.env, ...lab.env(), LBTOPO_DB: db, LBTOPO_TTL: options.ttl, LBTOPO_COMMAND_CONCURRENCY: String(options.concurrency) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /serving (http:\/\/127\.0\.0\.1:\d+\/graphql)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
  });
  const pid = child.pid!;
  const settleMs = Math.max(1000, 2 * (parseDuration(options.ttl) ?? 1000));
  try {
    const post = async (c: Case) => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: c.query, variables: c.variables }) });
      const text = await response.text();
      return { status: response.status, text };
    };
    const firstPool = [...lab.pools].map((p) => p.poolId).sort()[0]!;
    const cases: Case[] = ['pools-trace', 'pool-trace', 'problems', 'members-down', 'orphan-namespaces', 'dead-vlan-taps', 'pools-haproxy-missing'].map((name) => ({
      name,
      query: readExampleQuery(name),
      variables: name === 'pool-trace' ? { id: firstPool } : {},
    }));
    cases.push({ name: 'problems-critical', query: readExampleQuery('problems'), variables: { severity: 'CRITICAL' } });
    // The answers, computed once on a quiet server after the host settled: a lab just built
    // still changes for a few seconds (IPv6 link-local addresses finish DAD, first health checks
    // land), which is the host changing, not a wrong answer. Settled = two looks, a TTL apart, agree.
    const answers = async () => {
      const found = new Map<string, string>();
      for (const c of cases) {
        const r = await post(c);
        if (r.status !== 200) throw new Error(`${c.name}: status ${r.status} before the load: ${r.text.slice(0, 300)}`);
        found.set(c.name, comparable(JSON.parse(r.text)));
      }
      return found;
    };
    let expected = await answers();
    for (let look = 0; ; look++) {
      await new Promise((r) => setTimeout(r, settleMs));
      const again = await answers();
      const changed = cases.filter((c) => again.get(c.name) !== expected.get(c.name)).map((c) => c.name);
      expected = again;
      if (changed.length === 0) break;
      if (look === 10) throw new Error(`the host did not settle before the load: ${changed.join(', ')} kept changing`);
      log(`host still changing (${changed.join(', ')}); looking again`);
    }
    const rssStart = rssMbOf(pid);
    let rssMax = rssStart;
    let maxChildren = 0;
    const loadStart = Date.now();
    const byQuarter = [0, 0, 0, 0];
    const sampler = setInterval(() => {
      try {
        const rss = rssMbOf(pid);
        rssMax = Math.max(rssMax, rss);
        const quarter = Math.min(3, Math.floor(((Date.now() - loadStart) / (options.seconds * 1000)) * 4));
        byQuarter[quarter] = Math.max(byQuarter[quarter]!, rss);
        maxChildren = Math.max(maxChildren, childrenOf(pid));
      } catch {
        // the server is gone: the requests will say so
      }
    }, 250);
    const byStatus: Record<string, number> = {};
    const wrong: LoadReport['wrong'] = [];
    const latencies: number[] = [];
    const end = Date.now() + options.seconds * 1000;
    log(`load: ${options.clients} clients x ${options.seconds} s, ${cases.length} queries, ${lab.pools.length} pools, TTL ${options.ttl}`);
    await Promise.all(Array.from({ length: options.clients }, async (_, client) => {
      let i = client;
      while (Date.now() < end) {
        const c = cases[i++ % cases.length]!;
        const t0 = performance.now();
        let status = 'network-error';
        try {
          const r = await post(c);
          status = String(r.status);
          latencies.push(performance.now() - t0);
          const got = r.status === 200 ? comparable(JSON.parse(r.text)) : null;
          const want = expected.get(c.name)!;
          if (got !== want) wrong.push({ query: c.name, detail: wrong.length < 20 ? `status ${r.status}: ${difference(want, got ?? r.text)}` : '(more)' });
        } catch (err) {
          wrong.push({ query: c.name, detail: String(err) });
        }
        byStatus[status] = (byStatus[status] ?? 0) + 1;
      }
    }));
    clearInterval(sampler);
    const requests = Object.values(byStatus).reduce((a, b) => a + b, 0);
    const serverErrors = Object.entries(byStatus).filter(([s]) => s.startsWith('5') || s === 'network-error').reduce((a, [, n]) => a + n, 0);
    return {
      requests,
      byStatus,
      serverErrors,
      wrong,
      latencyMs: { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), max: percentile(latencies, 1) },
      rssMb: { start: rssStart, max: rssMax, end: rssMbOf(pid), byQuarter },
      maxChildren,
      concurrency: options.concurrency,
      queries: cases.map((c) => c.name),
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '30' },
      pools: { type: 'string', default: '20' },
      ttl: { type: 'string', default: '2s' },
      concurrency: { type: 'string', default: '4' },
      'max-rss-mb': { type: 'string', default: '512' },
      'heap-mb': { type: 'string' },
    },
  });
  const t0 = Date.now();
  const lab = await labUp({ v1Pools: Number(values.pools), v2LoadBalancers: 1 });
  let failed = false;
  try {
    // Faults, so the answers carry problems and errors that must stay the same under load.
    const v1 = lab.pools.filter((p) => p.layout === 'v1');
    if (v1.length >= 3) {
      await lab.injectFault(v1[1]!.poolId, 'kill-haproxy');
      await lab.injectFault(v1[2]!.poolId, 'dead-vlan');
    }
    console.error(`lab of ${lab.pools.length} pools built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const r = await runLoad(lab, { clients: Number(values.clients), seconds: Number(values.seconds), pools: lab.pools.length, ttl: values.ttl, concurrency: Number(values.concurrency), ...(values['heap-mb'] ? { heapMb: Number(values['heap-mb']) } : {}) });
    const maxRss = Number(values['max-rss-mb']);
    const checks: Array<[string, boolean]> = [
      [`0 5xx or network errors (${r.serverErrors})`, r.serverErrors === 0],
      [`0 wrong answers (${r.wrong.length})`, r.wrong.length === 0],
      [`RSS bounded: max ${r.rssMb.max.toFixed(0)} MB <= ${maxRss} MB`, r.rssMb.max <= maxRss],
      [`host processes bounded: at most ${r.maxChildren} children of the server at once <= ${r.concurrency} (LBTOPO_COMMAND_CONCURRENCY)`, r.maxChildren <= r.concurrency],
    ];
    console.log(`requests: ${r.requests} in ${values.seconds} s (${(r.requests / Number(values.seconds)).toFixed(0)}/s), by status ${JSON.stringify(r.byStatus)}`);
    console.log(`latency ms: p50 ${r.latencyMs.p50.toFixed(1)}, p95 ${r.latencyMs.p95.toFixed(1)}, max ${r.latencyMs.max.toFixed(1)}`);
    console.log(`server RSS MB: start ${r.rssMb.start.toFixed(0)}, max ${r.rssMb.max.toFixed(0)}, end ${r.rssMb.end.toFixed(0)}; max per quarter of the run ${r.rssMb.byQuarter.map((n) => n.toFixed(0)).join(', ')}`);
    for (const [what, ok] of checks) {
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
      failed ||= !ok;
    }
    for (const w of r.wrong.slice(0, 5)) console.log(`  wrong ${w.query}: ${w.detail}`);
  } finally {
    await lab.down();
  }
  process.exitCode = failed ? 1 : 0;
}

if (import.meta.main) await main();
