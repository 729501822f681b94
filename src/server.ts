// The HTTP side: yoga over the schema, with GraphiQL served offline (graphiql.ts; `/` leads there),
// /health (liveness) and /ready (the SQLite file answers), /metrics for Prometheus (metrics.ts),
// a bearer token when configured, probe traces in every response's extensions, expected errors
// shown and unexpected ones masked and logged.
import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { createGraphQLError, createYoga, maskError as yogaMaskError } from 'graphql-yoga';
import type { Plugin, YogaServerInstance } from 'graphql-yoga';
import { GraphQLError, getOperationAST } from 'graphql';
import type { ExecutionResult, OperationDefinitionNode } from 'graphql';
import { schema } from './graphql/index.ts';
import type { GraphQLContext } from './graphql/context.ts';
import type { Config } from './config.ts';
import { CommandGateway } from './host/exec.ts';
import { ObservationStore } from './cache/store.ts';
import type { StoreHealth } from './cache/store.ts';
import { ProbeFailedError, ProbeRunner } from './cache/runner.ts';
import { AnswerCache, registerAnswerMetrics } from './cache/answers.ts';
import { defineHostProbes } from './topology/probes.ts';
import type { HostProbes } from './topology/probes.ts';
import { TopologySession } from './topology/session.ts';
import { graphiqlOptions, renderGraphiqlPage, useGraphiqlAssets } from './graphiql.ts';
import { StatsUnavailableError } from './topology/members.ts';
import { useMetrics } from './metrics.ts';
import { cloudProbesFor } from './topology/cloud-setup.ts';
import { useQueryLimits } from './graphql/limits.ts';
import { corsPolicy, graphiqlBehindToken, useHttpEdge } from './http/edge.ts';
import { Refusals, registerEdgeMetrics } from './edge-metrics.ts';
import { callbackLogger, createLogger, useRequestLog, yogaLogging } from './log.ts';
import type { Logger } from './log.ts';
import { startHostWatchers } from './topology/watchers.ts';
import { netlinkSupport, startNetlinkWorkers, stopNetlinkWorkers, watchNamespace } from './host/netlink.ts';
import { startHostWorkers, stopHostWorkers } from './host/host-workers.ts';
import { monitorOvs } from './host/ovsdb-jsonrpc.ts';
import type { HostWatchers, WatchSources } from './topology/watchers.ts';
import { startBackgroundRefresher } from './topology/refresher.ts';
import type { BackgroundRefresher } from './topology/refresher.ts';
import { createTracing } from './tracing.ts';
import { frontListener, ResponseReplay } from './http/replay.ts';
import type { ReplayedRequest, ReplayValidity } from './http/replay.ts';

/** The event sources this host offers: netlink when the addon loads, and the OVSDB monitor. */
function defaultWatchSources(config: Config): WatchSources {
  return {
    ...(config.netlink && netlinkSupport().available ? { watchNamespace } : {}),
    ...(config.ovsdbJsonRpc ? { monitorOvs: (target: string, handlers: Parameters<typeof monitorOvs>[1]) => monitorOvs(target, handlers, { ssl: config.ovsdbSsl }) } : {}),
  };
}


export interface App {
  config: Config;
  yoga: YogaServerInstance<Record<string, unknown>, GraphQLContext>;
  gateway: CommandGateway;
  store: ObservationStore;
  runner: ProbeRunner;
  probes: HostProbes;
  /** A session outside HTTP (CLI `query` and `check` in-process). */
  newSession(): TopologySession;
  watchers: HostWatchers | null;
  refresher: BackgroundRefresher | null;
  /** Whole answers reused while their looks would be served the same (src/cache/answers.ts). */
  answers: AnswerCache;
  /** The bytes of reused answers, sent again by serve()'s front for the same request (src/http/replay.ts); null with tracing on. */
  replay: ResponseReplay | null;
  close(): void;
  /** Exports the spans queued so far (LBTOPO_OTLP_ENDPOINT; resolves at once when tracing is off). */
  flushTraces(): Promise<void>;
}

export interface AppOptions {
  /** Plain messages at warn and worse (tests, the in-process CLI); without it, logs follow LBTOPO_LOG_*. */
  log?: (message: string) => void;
  logger?: Logger;
  /**
   * A long-lived server (serve): change events outdate the cache (LBTOPO_EVENTS) and a background
   * refresher keeps checks and scrapes warm (LBTOPO_REFRESH). One-shot CLI runs need neither.
   */
  background?: boolean;
  /** Write the cache file in a thread of its own (ObservationStore's writerThread); defaults to `background`. */
  writerThread?: boolean;
  /** Where change events come from; defaults to what this host offers. */
  watchSources?: WatchSources;
}

export function createApp(config: Config, options: AppOptions = {}): App {
  const logger = options.logger ?? (options.log ? callbackLogger(options.log) : createLogger({ format: config.logFormat, level: config.logLevel }));
  const log = (m: string) => logger.warn(m);
  const gateway = new CommandGateway({ timeoutMs: config.commandTimeoutMs, concurrency: config.commandConcurrency, queueLimit: config.commandQueue });
  const refusals = new Refusals();
  const store = new ObservationStore(config.db, { log, writerThread: options.writerThread ?? Boolean(options.background) });
  const runner = new ProbeRunner(store, log);
  let watchers: HostWatchers | null = null;
  const probes = defineHostProbes(config, gateway, { ovsReplica: (target) => watchers?.ovsReplica(target) ?? null });
  const cloud = cloudProbesFor(config);
  const namespaceFilesWatched = () => watchers?.namespaceFilesWatched() ?? false;
  const newSession = () => {
    const session = new TopologySession(runner, probes, config, cloud);
    session.namespaceFilesWatched = namespaceFilesWatched;
    return session;
  };
  const tracing = createTracing(config, schema, logger);
  const answers = new AnswerCache(runner, namespaceFilesWatched);
  // A replay makes no spans: with OTLP tracing on, every request goes through yoga.
  const replay = tracing ? null : new ResponseReplay(() => storeSignature(store.health()));

  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    context: () => ({ session: newSession() }),
    graphiql: graphiqlBehindToken(config.token, () => graphiqlOptions(newSession())),
    renderGraphiQL: renderGraphiqlPage,
    landingPage: false,
    cors: corsPolicy(config),
    logging: yogaLogging(logger, (e) => e instanceof ProbeFailedError || e instanceof StatsUnavailableError),
    maskedErrors: { maskError: (error, message, isDev) => exposeExpectedError(error) ?? yogaMaskError(error, message, isDev) },
    plugins: [
      ...(tracing ? [tracing.plugin] : []),
      useRequestLog(logger, replay), useHttpEdge(config, refusals.count), useBearerToken(config.token), useGraphiqlAssets(), useReadiness(store),
      useMetrics(runner, newSession, (registers) => {
        registerEdgeMetrics(registers, gateway, refusals);
        registerAnswerMetrics(registers, answers);
      }, replay),
      useQueryLimits(config.limits, refusals.count), useProbeExtensions(), useStoreHealth(store),
      // Last, so that it keeps an answer as executed, before any plugin's onExecuteDone rewrites it.
      useAnswerReuse(answers, replay),
    ],
  });
  // A long-lived server starts its netlink workers now, not on the first request.
  const ownsNetlinkWorkers = Boolean(options.background && config.netlink && netlinkSupport().available);
  if (ownsNetlinkWorkers) startNetlinkWorkers();
  if (options.background) startHostWorkers();
  watchers = options.background ? startHostWatchers(config, runner, options.watchSources ?? defaultWatchSources(config), log) : null;
  const refresher = options.background && config.refreshMs > 0 ? startBackgroundRefresher(newSession, config.refreshMs, log) : null;
  return {
    config, yoga, gateway, store, runner, probes, newSession, watchers, refresher, answers, replay,
    close: () => {
      watchers?.close();
      void refresher?.stop();
      // Started workers hold the event loop (their message ports) until stopped; a later read starts new ones.
      if (ownsNetlinkWorkers) void stopNetlinkWorkers();
      if (options.background) void stopHostWorkers();
      store.close();
      void tracing?.shutdown();
    },
    flushTraces: async () => { await tracing?.flush(); },
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

/** The request header that asks for every probe look in `extensions.probes`. */
export const PROBE_TRACE_HEADER = 'x-lbtopo-trace';

/**
 * Every answer says in `extensions.probeSummary` how many looks ran, were shared, came from the
 * cache or failed, and the slowest few; the full per-look trace (one entry per namespace: 400 on a
 * 200-pool trace) only with `X-Lbtopo-Trace: probes` or `"extensions": {"trace": true}` in the body.
 * Failures are always listed in full in `extensions.probeFailures`.
 */
function useProbeExtensions(): Plugin<GraphQLContext> {
  return {
    onExecute() {
      return {
        onExecuteDone({ args, result, setResult }) {
          const context = args.contextValue as GraphQLContext & { request?: Request; params?: { extensions?: Record<string, unknown> } };
          const session = context.session;
          if (!session || Symbol.asyncIterator in (result as object)) return;
          const r = result as ExecutionResult;
          const failures = session.trace.filter((e) => e.error);
          const wantTrace = context.request?.headers.get(PROBE_TRACE_HEADER) === 'probes' || context.params?.extensions?.trace === true;
          const round = (ms: number) => Math.round(ms * 10) / 10;
          const bySource: Record<string, number> = { ran: 0, shared: 0, cache: 0, stale: 0, failed: 0 };
          for (const e of session.trace) bySource[e.source] = (bySource[e.source] ?? 0) + 1;
          const slowest = [...session.trace].sort((a, b) => b.durationMs - a.durationMs).slice(0, 3).map((e) => ({ probe: e.probe, scope: e.scope, source: e.source, durationMs: round(e.durationMs) }));
          setResult({
            ...r,
            extensions: {
              ...r.extensions,
              probeSummary: { looks: session.trace.length, ...bySource, slowest, ...(session.answerReused ? { answerReused: true } : {}) },
              ...(wantTrace ? { probes: session.trace.map((e) => ({ ...e, durationMs: round(e.durationMs) })) } : {}),
              ...(failures.length > 0 ? { probeFailures: failures.map((e) => ({ probe: e.probe, scope: e.scope, servedStale: e.source === 'stale', observedAt: e.observedAt, ...e.error })) } : {}),
            },
          });
        },
      };
    },
  };
}

/**
 * Serves a query's kept answer while every look it was built from would be served the same
 * observation (src/cache/answers.ts says when); keeps each answer that qualifies. The session's
 * trace gets the looks as cache hits, so extensions read as for an execution.
 */
function useAnswerReuse(answers: AnswerCache, replay: ResponseReplay | null): Plugin<GraphQLContext> {
  // The requests answered by a reused answer, for the replay to keep what yoga sends for them.
  const reused = new WeakMap<Request, { validity: ReplayValidity; note: Omit<ReplayedRequest, 'durationMs' | 'method' | 'path' | 'status'> }>();
  const keyOf = (args: { contextValue: unknown; operationName?: string | null | undefined; variableValues?: unknown }, op: OperationDefinitionNode | null | undefined): string | null => {
    const params = (args.contextValue as { params?: { query?: string } }).params;
    if (typeof params?.query !== 'string') return null;
    if (op?.operation !== 'query') return null; // refresh (a mutation) always runs
    return `${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}\u0000${params.query}`;
  };
  // The executions under way, by key: a request for the same answer waits for it rather than
  // executing too. Without this, the 32 requests in flight when a look changed all executed the
  // same answer at once (at 1000 pools, the 100 ms tail of the polled MISSING).
  const executing = new Map<string, Promise<void>>();
  return {
    onExecute({ args, setExecuteFn, executeFn }) {
      const session = (args.contextValue as GraphQLContext).session;
      const op = getOperationAST(args.document, args.operationName);
      const key = session ? keyOf(args, op) : null;
      if (!key) return;
      /** Serves the kept answer in place of executing (every onExecuteDone still runs, so the kept, unmasked errors are masked and coded as an executed answer's are). */
      const serveKept = (kept: NonNullable<ReturnType<AnswerCache['lookup']>>) => {
        session.trace.push(...kept.trace);
        session.answerReused = true;
        const request = (args.contextValue as { request?: Request }).request;
        if (replay && request) {
          // What the request log and the metrics see of this answer (its errors as kept, before
          // masking, as their onExecuteDone sees them), for a replay to report the same.
          const errors = (kept.result as ExecutionResult).errors ?? [];
          reused.set(request, {
            validity: { stillReused: () => answers.stillReuses(key, kept.token) },
            note: {
              operation: { name: op?.name?.value ?? null, type: op?.operation ?? 'unknown' },
              errorCodes: errors.map((e) => String(e.extensions?.code ?? 'other')),
              probes: kept.trace,
            },
          });
        }
        return kept.result as ExecutionResult;
      };
      const kept = answers.lookup(key);
      if (kept) {
        setExecuteFn(() => serveKept(kept));
        return;
      }
      const under = executing.get(key);
      if (under) {
        // Once it is done, its answer if the cache kept it and it still stands (no event since),
        // else this request executes as it would have.
        setExecuteFn(async (execArgs) => {
          await under;
          const after = answers.lookup(key);
          return after ? serveKept(after) : executeFn(execArgs);
        });
        return;
      }
      let finished = () => {};
      const mine = new Promise<void>((resolve) => { finished = resolve; });
      executing.set(key, mine);
      const finish = () => {
        if (executing.get(key) === mine) executing.delete(key);
        finished();
      };
      // An execution that throws never reaches onExecuteDone: the waiters must not wait forever.
      setExecuteFn(async (execArgs) => {
        try {
          return await executeFn(execArgs);
        } catch (err) {
          finish();
          throw err;
        }
      });
      return {
        onExecuteDone({ result }) {
          try {
            if (Symbol.asyncIterator in (result as object)) return;
            if (session.budget?.stopWaiting.aborted) return;
            const { data, errors } = result as ExecutionResult;
            answers.keep(key, { data, ...(errors ? { errors } : {}) }, session.looks, session.reusable);
          } finally {
            finish();
          }
        },
      };
    },
    onResponse({ request, response, serverContext }) {
      const note = replay ? reused.get(request) : undefined;
      const fingerprint = replay?.fingerprintOf((serverContext as { req?: IncomingMessage }).req);
      if (!replay || !note || !fingerprint || request.method !== 'POST' || response.status !== 200) return;
      // Read from a clone, without holding this response back.
      void response.clone().arrayBuffer().then((bytes) => {
        replay.keep(fingerprint, {
          validity: note.validity,
          status: response.status,
          headers: [...response.headers].filter(([name]) => name !== 'content-length'),
          body: Buffer.from(bytes),
          note: { ...note.note, method: request.method, path: new URL(request.url).pathname, status: response.status },
        });
      }, () => {});
    },
  };
}

function useReadiness(store: ObservationStore): Plugin {
  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== '/ready') return;
      try {
        store.ping();
        endResponse(new fetchAPI.Response(['ready', ...storeNotes(store.health())].join('\n'), { status: 200 }));
      } catch (err) {
        endResponse(new fetchAPI.Response(`not ready: ${(err as Error).message}`, { status: 503 }));
      }
    },
  };
}

/** Changes whenever what storeNotes would say does. */
function storeSignature(health: StoreHealth): string {
  return `${health.setAside.length}\u0000${health.writeFailure ? `${health.writeFailure.since}\u0000${health.writeFailure.message}` : ''}`;
}

/**
 * The cache's own troubles, said apart from the host's: /ready's body and every response's
 * extensions.store name the file. The server answers through both (see cache/store.ts).
 */
function storeNotes(health: StoreHealth): string[] {
  const notes = health.setAside.map((s) => `the cache file ${s.file} was corrupt (${s.reason}); it was set aside as ${s.movedTo} at ${new Date(s.at).toISOString()} and a new one started`);
  if (health.writeFailure) notes.push(`the cache file ${health.file} cannot be written since ${new Date(health.writeFailure.since).toISOString()} (${health.writeFailure.message}): looks are served from memory, not kept`);
  return notes;
}

/** How long an answer waits for the writes of its looks before it leaves without their outcome. */
const STORE_SETTLE_WAIT_MS = 1000;

function useStoreHealth(store: ObservationStore): Plugin<GraphQLContext> {
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          const said = () => {
            const health = store.health();
            if ((!health.writeFailure && health.setAside.length === 0) || Symbol.asyncIterator in (result as object)) return;
            const r = result as ExecutionResult;
            setResult({ ...r, extensions: { ...r.extensions, store: { file: health.file, writeFailure: health.writeFailure, setAside: health.setAside, notes: storeNotes(health) } } });
          };
          // Looks are written before the answer leaves, so a write that fails is said in it; a
          // file held by another writer (busy for up to its 5 s timeout) does not hold the answer.
          const writing = store.settled();
          if (!writing) return said();
          let timer: NodeJS.Timeout | undefined;
          return Promise.race([writing, new Promise<void>((r) => { timer = setTimeout(r, STORE_SETTLE_WAIT_MS); })]).then(() => {
            clearTimeout(timer);
            said();
          });
        },
      };
    },
  };
}

/** Every path but /health needs the token when one is configured (the fleet service uses it too). */
export function useBearerToken(token: string | null): Plugin {
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

/** What serve() needs: the host App, or the fleet service's (src/fleet/serve.ts). */
export interface Servable {
  config: Pick<Config, 'listen'> & { limits?: Pick<Config['limits'], 'maxBodyBytes'> };
  yoga: unknown;
  replay?: ResponseReplay | null;
  close(): void;
  flushTraces?(): Promise<void>;
}

/** Listens; resolves when listening. SIGINT/SIGTERM close the server and the database. */
export async function serve(app: Servable): Promise<Server> {
  const server = createServer(frontListener(app.yoga as RequestListener, { maxBodyBytes: app.config.limits?.maxBodyBytes, replay: app.replay ?? null }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(app.config.listen.port, app.config.listen.host, () => resolve());
  });
  const shutdown = (signal: string) => {
    console.error(`lbtopo: ${signal}, shutting down`);
    server.close(() => {
      // The last second's spans are still queued: export them, but a dead collector delays exit by 1 s at most.
      void Promise.race([app.flushTraces?.(), new Promise((r) => setTimeout(r, 1000).unref())]).finally(() => {
        app.close();
        process.exit(0);
      });
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  return server;
}
