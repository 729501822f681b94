// `lbtopo fleet serve`: the fleet schema over the fleet database (LBTOPO_FLEET_DB, a reader
// role), with the host server's HTTP rules (loopback by default, LBTOPO_TOKEN required elsewhere,
// the same bearer check: server.ts), /health, /ready (the database answers and LISTEN is up),
// /metrics (hosts up and stale, problems by code and host) and /http_sd (Prometheus HTTP service
// discovery: every host's /metrics as a target).
import { createYoga } from 'graphql-yoga';
import type { Plugin, YogaServerInstance } from 'graphql-yoga';
import { Gauge, Registry } from 'prom-client';
import type { Config } from '../config.ts';
import { useBearerToken } from '../server.ts';
import { FleetCache } from './cache.ts';
import { fleetSchema } from './graphql/index.ts';
import type { FleetContext } from './graphql/builder.ts';
import { fleetProblems } from './problems.ts';

export interface FleetApp {
  config: Config;
  cache: FleetCache;
  yoga: YogaServerInstance<Record<string, unknown>, FleetContext>;
  close(): void;
  stop(): Promise<void>;
}

export const FLEET_GRAPHIQL_QUERY = `# Pools whose haproxy is missing, on every host
{
  pools(where: { haproxy: MISSING }) { id host { name stale } namespaceName observedAt }
  hosts(stale: true) { name lastPush }
}
`;

export async function createFleetApp(config: Config, options: { log?: (m: string) => void } = {}): Promise<FleetApp> {
  const log = options.log ?? ((m: string) => console.error(m));
  if (!config.fleetDb) throw new Error('lbtopo fleet serve needs LBTOPO_FLEET_DB (a PostgreSQL URL of a lbtopo_reader role)');
  const cache = new FleetCache(config.fleetDb, log);
  await cache.start();
  const yoga = createYoga<Record<string, unknown>, FleetContext>({
    schema: fleetSchema,
    context: () => ({ cache, now: Date.now() }),
    graphiql: { title: 'lbaas-topology fleet', defaultQuery: FLEET_GRAPHIQL_QUERY },
    landingPage: false,
    logging: { debug: () => {}, info: () => {}, warn: (...a: unknown[]) => log(a.map(String).join(' ')), error: (...a: unknown[]) => log(a.map(String).join(' ')) },
    plugins: [useBearerToken(config.token), useFleetEndpoints(cache)],
  });
  const stop = () => cache.stop();
  return { config, cache, yoga, stop, close: () => void stop() };
}

/** Prometheus HTTP SD: [{ targets: ["host:port"], labels: {...} }], one group per host with a scrape URL. */
export function httpSdTargets(cache: FleetCache, now = Date.now()): Array<{ targets: string[]; labels: Record<string, string> }> {
  const groups: Array<{ targets: string[]; labels: Record<string, string> }> = [];
  for (const h of [...cache.hosts.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!h.scrapeUrl) continue;
    let url: URL;
    try {
      url = new URL(h.scrapeUrl);
    } catch {
      continue;
    }
    groups.push({
      targets: [url.host],
      labels: {
        __scheme__: url.protocol.replace(':', ''),
        __metrics_path__: url.pathname || '/metrics',
        lbtopo_host: h.name,
        lbtopo_kind: h.kind,
        lbtopo_stale: String(cache.isStale(h, now)),
      },
    });
  }
  return groups;
}

function useFleetEndpoints(cache: FleetCache): Plugin {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: 'lbtopo_fleet_hosts',
    help: 'Hosts that pushed to the fleet database, by state (up: pushed within three intervals; stale: not).',
    labelNames: ['state'],
    registers,
    collect() {
      const now = Date.now();
      const hosts = [...cache.hosts.values()];
      const stale = hosts.filter((h) => cache.isStale(h, now)).length;
      this.set({ state: 'up' }, hosts.length - stale);
      this.set({ state: 'stale' }, stale);
    },
  });
  new Gauge({
    name: 'lbtopo_fleet_host_last_push_age_seconds',
    help: 'Seconds since each host last pushed.',
    labelNames: ['host'],
    registers,
    collect() {
      this.reset();
      const now = Date.now();
      for (const h of cache.hosts.values()) this.set({ host: h.name }, (now - h.lastPush) / 1000);
    },
  });
  new Gauge({
    name: 'lbtopo_fleet_problems',
    help: 'Problems by code, severity and host, as the hosts last pushed them (and HOST_STALE).',
    labelNames: ['code', 'severity', 'host'],
    registers,
    collect() {
      this.reset();
      const counts = new Map<string, { code: string; severity: string; host: string; n: number }>();
      for (const p of fleetProblems(cache, Date.now())) {
        const k = `${p.code}\u0000${p.host}`;
        const c = counts.get(k) ?? { code: p.code, severity: p.severity, host: p.host, n: 0 };
        c.n++;
        counts.set(k, c);
      }
      for (const c of counts.values()) this.set({ code: c.code, severity: c.severity, host: c.host }, c.n);
    },
  });
  new Gauge({ name: 'lbtopo_fleet_pools', help: 'Pool facts in the fleet.', registers, collect() { this.set(cache.pools().length); } });
  new Gauge({ name: 'lbtopo_fleet_listen_up', help: '1 while the LISTEN connection that keeps the cache fresh is up.', registers, collect() { this.set(cache.listening ? 1 : 0); } });

  return {
    async onRequest({ url, endResponse, fetchAPI }) {
      switch (url.pathname) {
        case '/health':
          endResponse(new fetchAPI.Response('ok', { status: 200 }));
          return;
        case '/ready': {
          const ok = await cache.pool.query('SELECT 1').then(() => cache.listening, () => false);
          endResponse(new fetchAPI.Response(ok ? 'ready' : 'not ready: the fleet database or its LISTEN connection is down', { status: ok ? 200 : 503 }));
          return;
        }
        case '/metrics':
          endResponse(new fetchAPI.Response(await registry.metrics(), { status: 200, headers: { 'content-type': registry.contentType } }));
          return;
        case '/http_sd':
          endResponse(new fetchAPI.Response(JSON.stringify(httpSdTargets(cache)), { status: 200, headers: { 'content-type': 'application/json' } }));
          return;
        default:
      }
    },
  };
}
