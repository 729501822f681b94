// /metrics for Prometheus: the host's state (pools, members, listeners, problems), the probes,
// the HTTP and GraphQL requests (http-metrics.ts), the process and Node (prom-client's default
// collectors) and lbtopo_build_info. Every name and label passes `promtool check metrics`.
// The host gauges are computed when Prometheus scrapes, through one TopologySession per scrape,
// so they obey the cache TTL like any query (a scrape every 15s with LBTOPO_TTL=10s looks at the
// host at most once per scrape, and never when a query just did). Probe durations and failures
// are counted as they happen, for queries and scrapes alike.
//
// Every registry is the app's own (not prom-client's global one): tests create many apps in one
// process, and a metric registered twice in one registry throws.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ResponseReplay } from './http/replay.ts';
import { useHttpMetrics } from './http-metrics.ts';
import { packageVersion } from './version.ts';
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

interface MemberSample {
  id: string;
  /** 1 UP (or no check), 0 otherwise; null when its row is missing from the stats. */
  up: number | null;
  currentSessions: number | null;
  sessionsTotal: number | null;
  bytesIn: number | null;
  bytesOut: number | null;
}

interface ListenerSample {
  id: string;
  currentSessions: number | null;
  sessionsTotal: number | null;
  bytesIn: number | null;
  bytesOut: number | null;
}

interface PoolSample {
  id: string;
  layout: string;
  loadBalancerId: string | null;
  haproxyUp: number | null;
  membersTotal: number;
  /** Null when the stats socket did not answer: unknown is not 0. */
  membersUp: number | null;
  currentSessions: number | null;
  sessionsTotal: number | null;
  bytesIn: number | null;
  bytesOut: number | null;
  statsUp: number;
  /** Empty when the stats socket did not answer. */
  members: MemberSample[];
  listeners: ListenerSample[];
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
          const base = {
            id: pool.id,
            layout: pool.layout,
            loadBalancerId: pool.loadBalancerId,
            haproxyUp: processes ? (liveHaproxyOf(pool, processes) ? 1 : 0) : null,
            membersTotal: servers.length,
          };
          if (!answer?.reachable || !pool.backend) {
            return { ...base, membersUp: null, currentSessions: null, sessionsTotal: null, bytesIn: null, bytesOut: null, statsUp: 0, members: [], listeners: [] };
          }
          const backend = pool.backend.name;
          const rows = statsIndex(answer.rows).byProxy.get(backend) ?? [];
          const isUp = (status: string | null) => /^(UP|no check)/.test(status ?? '');
          const members = servers.map((s): MemberSample => {
            const row = rows.find((r) => r.type === 'server' && r.svname === s.id);
            return { id: s.id, up: row ? (isUp(row.status) ? 1 : 0) : null, currentSessions: row?.scur ?? null, sessionsTotal: row?.stot ?? null, bytesIn: row?.bin ?? null, bytesOut: row?.bout ?? null };
          });
          const listeners = pool.frontends.map((f): ListenerSample => {
            const row = (statsIndex(answer.rows).byProxy.get(f.name) ?? []).find((r) => r.type === 'frontend');
            return { id: f.name, currentSessions: row?.scur ?? null, sessionsTotal: row?.stot ?? null, bytesIn: row?.bin ?? null, bytesOut: row?.bout ?? null };
          });
          const backendRow = rows.find((r) => r.type === 'backend');
          return {
            ...base,
            membersUp: members.filter((m) => m.up === 1).length,
            currentSessions: backendRow?.scur ?? null,
            sessionsTotal: backendRow?.stot ?? null,
            bytesIn: backendRow?.bin ?? null,
            bytesOut: backendRow?.bout ?? null,
            statsUp: 1,
            members,
            listeners,
          };
        }),
      )
    : null;
  const counts = new Map<ProblemCode, number>(PROBLEM_CODE_NAMES.map((c) => [c, 0]));
  for (const p of await diagnoseHost(session)) counts.set(p.code, (counts.get(p.code) ?? 0) + 1);
  const octavia = await scrapeOctavia(session, pools ?? []);
  return { pools: samples, octavia, problems: counts, durationSeconds: (performance.now() - t0) / 1000 };
}

/** The yoga plugin serving /metrics (behind the bearer token like every path but /health). */
export function useMetrics(runner: ProbeRunner, newSession: () => TopologySession, register: (registers: Registry[]) => void = () => {}, replay: Pick<ResponseReplay, 'onReplay'> | null = null): Plugin {
  const registry = new Registry();
  const registers = [registry];
  register(registers);

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

  // Counters whose value haproxy keeps (stot, bin, bout): set at each scrape from the stats.
  const counter = (name: string, help: string, labelNames: string[], fill: (set: (labels: Record<string, string>, v: number) => void, s: Scrape) => void) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const s = await scrape();
        this.reset();
        fill((labels, v) => this.inc(labels, v), s);
      },
    });

  // `loadbalancer` only where there is one (v2, Octavia): a v1 series has no such label.
  const poolLabels = (p: PoolSample) => ({ pool: p.id, ...(p.loadBalancerId ? { loadbalancer: p.loadBalancerId } : {}) });
  const eachPool = (fill: (g: Gauge<string>, p: PoolSample) => void) => (g: Gauge<string>, s: Scrape) => {
    for (const p of s.pools ?? []) fill(g, p);
  };
  const setIf = (g: Gauge<string>, labels: Record<string, string>, v: number | null) => {
    if (v !== null) g.set(labels, v);
  };
  gauge('lbtopo_pools', 'Pools found in the LBaaS state dirs (absent when they could not be read).', [], (g, s) => {
    if (s.pools) g.set(s.pools.length);
  });
  gauge('lbtopo_pool_haproxy_up', '1 when a live haproxy runs the pool config, else 0.', ['pool', 'layout', 'loadbalancer'], eachPool((g, p) => {
    setIf(g, { ...poolLabels(p), layout: p.layout }, p.haproxyUp);
  }));
  gauge('lbtopo_pool_stats_up', '1 when the pool stats socket answered, else 0.', ['pool', 'loadbalancer'], eachPool((g, p) => g.set(poolLabels(p), p.statsUp)));
  gauge('lbtopo_pool_members', 'Members (server lines) in the pool config.', ['pool', 'loadbalancer'], eachPool((g, p) => g.set(poolLabels(p), p.membersTotal)));
  gauge('lbtopo_pool_members_up', 'Members haproxy reports UP (or no check); absent when the stats socket did not answer.', ['pool', 'loadbalancer'], eachPool((g, p) => setIf(g, poolLabels(p), p.membersUp)));
  gauge('lbtopo_pool_current_sessions', 'Current sessions of the pool backend (scur); absent when the stats socket did not answer.', ['pool', 'loadbalancer'], eachPool((g, p) => setIf(g, poolLabels(p), p.currentSessions)));
  // A counter over each pool's items (the pool itself, its members, its listeners), left out where
  // the stats socket did not say.
  const eachCounter = <T>(items: (p: PoolSample) => readonly T[], labels: (p: PoolSample, item: T) => Record<string, string>, pick: (item: T) => number | null) =>
    (set: (l: Record<string, string>, v: number) => void, s: Scrape) => {
      for (const p of s.pools ?? []) for (const item of items(p)) {
        const v = pick(item);
        if (v !== null) set(labels(p, item), v);
      }
    };
  const eachPoolCounter = (pick: (p: PoolSample) => number | null) => eachCounter((p) => [p], poolLabels, pick);
  counter('lbtopo_pool_sessions_total', 'Sessions the pool backend has handled since haproxy started (stot).', ['pool', 'loadbalancer'], eachPoolCounter((p) => p.sessionsTotal));
  counter('lbtopo_pool_bytes_in_total', 'Bytes received by the pool backend since haproxy started (bin).', ['pool', 'loadbalancer'], eachPoolCounter((p) => p.bytesIn));
  counter('lbtopo_pool_bytes_out_total', 'Bytes sent by the pool backend since haproxy started (bout).', ['pool', 'loadbalancer'], eachPoolCounter((p) => p.bytesOut));

  // Per member: absent when the stats socket did not answer (unknown is not down).
  const memberLabels = (p: PoolSample, m: MemberSample) => ({ ...poolLabels(p), member: m.id });
  gauge('lbtopo_member_up', '1 when haproxy reports the member UP (or no check), else 0.', ['pool', 'member', 'loadbalancer'], eachPool((g, p) => {
    for (const m of p.members) setIf(g, memberLabels(p, m), m.up);
  }));
  gauge('lbtopo_member_current_sessions', 'Current sessions on the member (scur).', ['pool', 'member', 'loadbalancer'], eachPool((g, p) => {
    for (const m of p.members) setIf(g, memberLabels(p, m), m.currentSessions);
  }));
  const eachMemberCounter = (pick: (m: MemberSample) => number | null) => eachCounter((p) => p.members, memberLabels, pick);
  counter('lbtopo_member_sessions_total', 'Sessions sent to the member since haproxy started (stot).', ['pool', 'member', 'loadbalancer'], eachMemberCounter((m) => m.sessionsTotal));
  counter('lbtopo_member_bytes_in_total', 'Bytes received from clients for the member since haproxy started (bin).', ['pool', 'member', 'loadbalancer'], eachMemberCounter((m) => m.bytesIn));
  counter('lbtopo_member_bytes_out_total', 'Bytes sent to clients from the member since haproxy started (bout).', ['pool', 'member', 'loadbalancer'], eachMemberCounter((m) => m.bytesOut));

  // Per listener (the haproxy frontend: the VIP in v1, a listener in v2 and Octavia).
  const listenerLabels = (p: PoolSample, l: ListenerSample) => ({ ...poolLabels(p), listener: l.id });
  gauge('lbtopo_listener_current_sessions', 'Current sessions on the listener frontend (scur).', ['pool', 'listener', 'loadbalancer'], eachPool((g, p) => {
    for (const l of p.listeners) setIf(g, listenerLabels(p, l), l.currentSessions);
  }));
  const eachListenerCounter = (pick: (l: ListenerSample) => number | null) => eachCounter((p) => p.listeners, listenerLabels, pick);
  counter('lbtopo_listener_sessions_total', 'Sessions the listener frontend has accepted since haproxy started (stot).', ['pool', 'listener', 'loadbalancer'], eachListenerCounter((l) => l.sessionsTotal));
  counter('lbtopo_listener_bytes_in_total', 'Bytes the listener frontend received since haproxy started (bin).', ['pool', 'listener', 'loadbalancer'], eachListenerCounter((l) => l.bytesIn));
  counter('lbtopo_listener_bytes_out_total', 'Bytes the listener frontend sent since haproxy started (bout).', ['pool', 'listener', 'loadbalancer'], eachListenerCounter((l) => l.bytesOut));

  gauge('lbtopo_problems', 'Problems on the host by code and severity (every code is listed, 0 when absent).', ['code', 'severity'], (g, s) => {
    for (const [code, n] of s.problems) g.set({ code, severity: PROBLEM_CODES[code].severity }, n);
  });
  gauge('lbtopo_octavia_operating_status', OCTAVIA_STATUS_HELP, ['load_balancer', 'kind', 'id', 'status'], (g, s) => fillOctaviaStatus(g, s.octavia));
  gauge('lbtopo_scrape_duration_seconds', 'Time to look at the host for this scrape.', [], (g, s) => g.set(s.durationSeconds));

  // The process: CPU, memory, file descriptors, event loop lag, GC (prom-client's collectors).
  collectDefaultMetrics({ register: registry });
  // These three are gauges named like counters (promtool rejects them); the per-type gauges
  // without _total (nodejs_active_handles{type}, ...) carry the same numbers.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  new Gauge({ name: 'lbtopo_build_info', help: 'Always 1; the labels say which build runs.', labelNames: ['version', 'node_version'], registers }).set({ version: packageVersion(), node_version: process.version }, 1);

  return useHttpMetrics(registry, replay);
}
