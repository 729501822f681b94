// /metrics for Prometheus: the HTTP and GraphQL metrics of the yoga plugin, plus the host's state.
// The host gauges are computed when Prometheus scrapes, through one TopologySession per scrape,
// so they obey the cache TTL like any query (a scrape every 15s with LBTOPO_TTL=10s looks at the
// host at most once per scrape, and never when a query just did). Probe durations and failures
// are counted as they happen, for queries and scrapes alike.
//
// Every registry is the app's own (not prom-client's global one): tests create many apps in one
// process, and a metric registered twice in one registry throws.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import type { ProbeRunner } from './cache/runner.ts';
import type { TopologySession } from './topology/session.ts';
import { listPools } from './topology/queries.ts';
import { liveHaproxyOf } from './topology/pools.ts';
import { statsIndex } from './topology/indexes.ts';
import { diagnoseHost } from './diagnose/diagnose.ts';
import { PROBLEM_CODE_NAMES, PROBLEM_CODES } from './diagnose/codes.ts';
import type { ProblemCode } from './diagnose/codes.ts';
import { fillOctaviaStatus, OCTAVIA_STATUS_HELP, scrapeOctavia } from './amphora-metrics.ts';
import type { OctaviaSample } from './amphora-metrics.ts';

interface PoolSample {
  id: string;
  layout: string;
  haproxyUp: number | null;
  membersTotal: number;
  /** Null when the stats socket did not answer: unknown is not 0. */
  membersUp: number | null;
  currentSessions: number | null;
  statsUp: number;
}

interface Scrape {
  pools: PoolSample[] | null;
  /** Octavia load balancers here and the statuses Octavia will compute (amphora-metrics.ts). */
  octavia: OctaviaSample[];
  problems: Map<ProblemCode, number>;
  durationSeconds: number;
}

/** What one scrape sees of the host. */
async function scrapeHost(session: TopologySession): Promise<Scrape> {
  const t0 = performance.now();
  const pools = await listPools(session).catch(() => null);
  const processes = await session.processes().then((o) => o.value, () => null);
  const samples = pools
    ? await Promise.all(
        pools.map(async (pool): Promise<PoolSample> => {
          const answer = await session.stats(pool.deployment.socketPath).then((o) => o.value, () => null);
          const servers = pool.backend?.servers ?? [];
          const base = { id: pool.id, layout: pool.layout, haproxyUp: processes ? (liveHaproxyOf(pool, processes) ? 1 : 0) : null, membersTotal: servers.length };
          if (!answer?.reachable || !pool.backend) return { ...base, membersUp: null, currentSessions: null, statsUp: 0 };
          const backend = pool.backend.name;
          const rows = statsIndex(answer.rows).byProxy.get(backend) ?? [];
          const serverIds = new Set(servers.map((s) => s.id));
          const up = rows.filter((r) => r.type === 'server' && serverIds.has(r.svname) && /^(UP|no check)/.test(r.status ?? '')).length;
          const backendRow = rows.find((r) => r.type === 'backend');
          return { ...base, membersUp: up, currentSessions: backendRow?.scur ?? null, statsUp: 1 };
        }),
      )
    : null;
  const counts = new Map<ProblemCode, number>(PROBLEM_CODE_NAMES.map((c) => [c, 0]));
  for (const p of await diagnoseHost(session)) counts.set(p.code, (counts.get(p.code) ?? 0) + 1);
  const octavia = await scrapeOctavia(session, pools ?? []);
  return { pools: samples, octavia, problems: counts, durationSeconds: (performance.now() - t0) / 1000 };
}

/** The yoga plugin serving /metrics (behind the bearer token like every path but /health). */
export function useMetrics(runner: ProbeRunner, newSession: () => TopologySession): Plugin {
  const registry = new Registry();
  const registers = [registry];

  const probeDuration = new Histogram({
    name: 'lbtopo_probe_duration_seconds',
    help: 'Time to serve a probe (source: ran, shared, cache, stale, failed), for queries and scrapes.',
    labelNames: ['probe', 'source'],
    buckets: [0.0005, 0.002, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const probeFailures = new Counter({ name: 'lbtopo_probe_failures_total', help: 'Probe runs that failed, by kind (not-found, timeout, exit, parse, gone, io, ...).', labelNames: ['probe', 'kind'], registers });
  runner.onObserve((entry) => {
    probeDuration.observe({ probe: entry.probe, source: entry.source }, entry.durationMs / 1000);
    if (entry.error) probeFailures.inc({ probe: entry.probe, kind: entry.error.kind });
  });

  // One look at the host per scrape: every gauge's collect() is called in the same tick of
  // registry.metrics(), so they share the scrape in flight.
  let inFlight: Promise<Scrape> | null = null;
  const scrape = () => {
    inFlight ??= scrapeHost(newSession()).finally(() => {
      inFlight = null;
    });
    return inFlight;
  };
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, s: Scrape) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const s = await scrape();
        this.reset();
        fill(this, s);
      },
    });

  const eachPool = (fill: (g: Gauge<string>, p: PoolSample) => void) => (g: Gauge<string>, s: Scrape) => {
    for (const p of s.pools ?? []) fill(g, p);
  };
  gauge('lbtopo_pools', 'Pools found in the LBaaS state dirs (absent when they could not be read).', [], (g, s) => {
    if (s.pools) g.set(s.pools.length);
  });
  gauge('lbtopo_pool_haproxy_up', '1 when a live haproxy runs the pool config, else 0.', ['pool', 'layout'], eachPool((g, p) => {
    if (p.haproxyUp !== null) g.set({ pool: p.id, layout: p.layout }, p.haproxyUp);
  }));
  gauge('lbtopo_pool_stats_up', '1 when the pool stats socket answered, else 0.', ['pool'], eachPool((g, p) => g.set({ pool: p.id }, p.statsUp)));
  gauge('lbtopo_pool_members', 'Members (server lines) in the pool config.', ['pool'], eachPool((g, p) => g.set({ pool: p.id }, p.membersTotal)));
  gauge('lbtopo_pool_members_up', 'Members haproxy reports UP (or no check); absent when the stats socket did not answer.', ['pool'], eachPool((g, p) => {
    if (p.membersUp !== null) g.set({ pool: p.id }, p.membersUp);
  }));
  gauge('lbtopo_pool_current_sessions', 'Current sessions of the pool backend (scur); absent when the stats socket did not answer.', ['pool'], eachPool((g, p) => {
    if (p.currentSessions !== null) g.set({ pool: p.id }, p.currentSessions);
  }));
  gauge('lbtopo_problems', 'Problems on the host by code and severity (every code is listed, 0 when absent).', ['code', 'severity'], (g, s) => {
    for (const [code, n] of s.problems) g.set({ code, severity: PROBLEM_CODES[code].severity }, n);
  });
  gauge('lbtopo_octavia_operating_status', OCTAVIA_STATUS_HELP, ['load_balancer', 'kind', 'id', 'status'], (g, s) => fillOctaviaStatus(g, s.octavia));
  gauge('lbtopo_scrape_duration_seconds', 'Time to look at the host for this scrape.', [], (g, s) => g.set(s.durationSeconds));

  return usePrometheus({
    registry,
    endpoint: '/metrics',
    // The full URL as a label would make one series per query string.
    labels: { url: false },
  });
}
