// The HTTP side: yoga over the schema, with GraphiQL whose default query traces one pool,
// /health (liveness) and /ready (the SQLite file answers), /metrics for Prometheus (metrics.ts),
// a bearer token when configured, probe traces in every response's extensions, expected errors
// shown and unexpected ones masked and logged.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { createGraphQLError, createYoga, maskError as yogaMaskError } from 'graphql-yoga';
import type { GraphiQLOptions, Plugin, YogaServerInstance } from 'graphql-yoga';
import { GraphQLError } from 'graphql';
import type { ExecutionResult } from 'graphql';
import { schema } from './graphql/index.ts';
import type { GraphQLContext } from './graphql/context.ts';
import type { Config } from './config.ts';
import { CommandGateway } from './host/exec.ts';
import { ObservationStore } from './cache/store.ts';
import { ProbeFailedError, ProbeRunner } from './cache/runner.ts';
import { defineHostProbes } from './topology/probes.ts';
import type { HostProbes } from './topology/probes.ts';
import { TopologySession } from './topology/session.ts';
import { listPools } from './topology/queries.ts';
import { readExampleQuery } from './example-queries.ts';
import { StatsUnavailableError } from './topology/members.ts';
import { useMetrics } from './metrics.ts';
import { cloudProbesFor } from './topology/cloud-setup.ts';


export interface App {
  config: Config;
  yoga: YogaServerInstance<Record<string, unknown>, GraphQLContext>;
  gateway: CommandGateway;
  store: ObservationStore;
  runner: ProbeRunner;
  probes: HostProbes;
  /** A session outside HTTP (CLI `query` and `check` in-process). */
  newSession(): TopologySession;
  close(): void;
}

export interface AppOptions {
  log?: (message: string) => void;
}

export function createApp(config: Config, options: AppOptions = {}): App {
  const log = options.log ?? ((m: string) => console.error(m));
  const gateway = new CommandGateway({ timeoutMs: config.commandTimeoutMs, concurrency: config.commandConcurrency });
  const store = new ObservationStore(config.db);
  const runner = new ProbeRunner(store, log);
  const probes = defineHostProbes(config, gateway);
  const cloud = cloudProbesFor(config);
  const newSession = () => new TopologySession(runner, probes, config, cloud);

  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    context: () => ({ session: newSession() }),
    graphiql: () => graphiqlOptions(newSession()),
    landingPage: false,
    logging: { debug: () => {}, info: () => {}, warn: (...a: unknown[]) => log(a.map(String).join(' ')), error: (...a: unknown[]) => log(a.map(String).join(' ')) },
    maskedErrors: { maskError: (error, message, isDev) => exposeExpectedError(error) ?? yogaMaskError(error, message, isDev) },
    plugins: [useBearerToken(config.token), useReadiness(store), useMetrics(runner, newSession), useProbeExtensions()],
  });
  return { config, yoga, gateway, store, runner, probes, newSession, close: () => store.close() };
}

/**
 * GraphiQL opens on the trace of one pool (the first on this host) and, in a second tab, the
 * trace of every pool. Listing pools reads the state dirs only.
 */
async function graphiqlOptions(session: TopologySession): Promise<GraphiQLOptions> {
  const pools = await listPools(session).catch(() => []);
  return {
    title: 'lbaas-topology',
    defaultTabs: [
      { query: readExampleQuery('pool-trace'), variables: JSON.stringify({ id: pools[0]?.id ?? '<pool uuid>' }, null, 2) },
      { query: readExampleQuery('pools-trace') },
    ],
  };
}

/** Host failures are expected: show what failed and why instead of "Unexpected error.". */
function exposeExpectedError(error: unknown): GraphQLError | null {
  if (!(error instanceof GraphQLError)) return null;
  const original = error.originalError;
  let extensions: Record<string, unknown> | null = null;
  if (original instanceof ProbeFailedError) extensions = { code: 'PROBE_FAILED', probe: original.probe, scope: original.scope, reason: original.kind };
  else if (original instanceof StatsUnavailableError) extensions = { code: 'STATS_UNAVAILABLE', probe: 'stats', scope: original.socketPath, reason: original.reason };
  if (!extensions || !original) return null;
  return createGraphQLError(original.message, { nodes: error.nodes, path: error.path, extensions });
}

function useProbeExtensions(): Plugin<GraphQLContext> {
  return {
    onExecute() {
      return {
        onExecuteDone({ args, result, setResult }) {
          const session = (args.contextValue as GraphQLContext).session;
          if (!session || Symbol.asyncIterator in (result as object)) return;
          const r = result as ExecutionResult;
          const failures = session.trace.filter((e) => e.error);
          setResult({
            ...r,
            extensions: {
              ...r.extensions,
              probes: session.trace.map((e) => ({ ...e, durationMs: Math.round(e.durationMs * 10) / 10 })),
              ...(failures.length > 0 ? { probeFailures: failures.map((e) => ({ probe: e.probe, scope: e.scope, servedStale: e.source === 'stale', observedAt: e.observedAt, ...e.error })) } : {}),
            },
          });
        },
      };
    },
  };
}

function useReadiness(store: ObservationStore): Plugin {
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== '/ready') return;
      try {
        store.ping();
        endResponse(new fetchAPI.Response('ready', { status: 200 }));
      } catch (err) {
        endResponse(new fetchAPI.Response(`not ready: ${(err as Error).message}`, { status: 503 }));
      }
    },
  };
}

function useBearerToken(token: string | null): Plugin {
  const expected = token ? Buffer.from(`Bearer ${token}`) : null;
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (!expected || url.pathname === '/health') return;
      const given = Buffer.from(request.headers.get('authorization') ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        endResponse(new fetchAPI.Response(JSON.stringify({ errors: [{ message: 'missing or wrong bearer token' }] }), {
          status: 401,
          headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' },
        }));
      }
    },
  };
}

/** Listens; resolves when listening. SIGINT/SIGTERM close the server and the database. */
export async function serve(app: App): Promise<Server> {
  const server = createServer(app.yoga);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(app.config.listen.port, app.config.listen.host, () => resolve());
  });
  const shutdown = (signal: string) => {
    console.error(`lbtopo: ${signal}, shutting down`);
    server.close(() => {
      app.close();
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  return server;
}
