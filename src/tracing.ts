// OpenTelemetry traces over OTLP/HTTP (JSON), only when LBTOPO_OTLP_ENDPOINT is set: one span per
// GraphQL request (operation name and type, status, errors), a child per root field's resolver
// (root fields only: the count stays bounded by the query, never by the pool count), and a child
// per probe look (probe, scope, source, error). Without an endpoint nothing here is imported and
// nothing is exported; the SDK is loaded with dynamic imports so startup and --help do not pay.
//
// A slow or dead collector never touches an answer: spans go to a bounded batch queue (dropped
// when full), exports run on the processor's timer with a deadline, and a failure is logged once
// at warn until an export succeeds again.
import type { Plugin } from 'graphql-yoga';
import { defaultFieldResolver, Kind } from 'graphql';
import type { DocumentNode, GraphQLFieldResolver, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import type { Context, Span, Tracer } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { GraphQLContext } from './graphql/context.ts';
import type { ProbeTraceEntry } from './cache/runner.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';

/** Where a request's span sits on its context object (root field resolvers look it up there). */
const REQUEST_SPAN = Symbol('lbtopo.requestSpan');
type TracedContext = GraphQLContext & { request?: Request; [REQUEST_SPAN]?: { span: Span; ctx: Context; tracer: Tracer } };

interface Loaded {
  tracer: Tracer;
  api: typeof import('@opentelemetry/api');
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

async function load(config: Config & { otlpEndpoint: string }, logger: Logger): Promise<Loaded> {
  const [api, sdk, otlp, resources] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const inner = new otlp.OTLPTraceExporter({ url: config.otlpEndpoint, timeoutMillis: 5000, concurrencyLimit: 2 });
  let failing = false;
  // The processor drops a failed batch silently (diag is a no-op): say so once, and again after a recovery.
  const exporter: SpanExporter = {
    export(spans: ReadableSpan[], done) {
      inner.export(spans, (result) => {
        if (result.code !== 0 && !failing) {
          failing = true;
          logger.warn('traces: export to the OTLP endpoint failed; spans are dropped until it answers', { endpoint: config.otlpEndpoint, error: result.error?.message });
        } else if (result.code === 0 && failing) {
          failing = false;
          logger.info('traces: the OTLP endpoint answers again', { endpoint: config.otlpEndpoint });
        }
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush(),
  };
  const provider = new sdk.TracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': config.otlpServiceName }),
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter, maxQueueSize: 4096, maxExportBatchSize: 512, scheduledDelayMillis: 1000, exportTimeoutMillis: 5000 })],
  });
  return {
    tracer: provider.getTracer('lbaas-topology'),
    api,
    flush: () => provider.forceFlush({ timeoutMillis: 5000 }).catch(() => {}),
    shutdown: () => provider.shutdown().catch(() => {}),
  };
}

/** Wraps the root types' resolvers once; a context without a request span calls through untouched. */
const wrapped = new WeakSet<GraphQLSchema>();
function wrapRootResolvers(schema: GraphQLSchema): void {
  if (wrapped.has(schema)) return;
  wrapped.add(schema);
  for (const type of [schema.getQueryType(), schema.getMutationType()]) {
    if (!type) continue;
    for (const field of Object.values(type.getFields())) {
      const resolve: GraphQLFieldResolver<unknown, TracedContext> = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, context: TracedContext, info) => {
        const parent = context?.[REQUEST_SPAN];
        if (!parent) return resolve(source, args, context, info);
        const span = parent.tracer.startSpan(`${type.name}.${field.name}`, { attributes: { 'graphql.field.name': field.name, 'graphql.field.path': String(info.path.key) } }, parent.ctx);
        const fail = (e: unknown) => span.setStatus({ code: 2, message: e instanceof Error ? e.message : String(e) });
        try {
          const out = resolve(source, args, context, info);
          if (out instanceof Promise) return out.then((v) => { span.end(); return v; }, (e: unknown) => { fail(e); span.end(); throw e; });
          span.end();
          return out;
        } catch (e) {
          fail(e);
          span.end();
          throw e;
        }
      };
    }
  }
}

const UNTRACED = (path: string) => path === '/health' || path === '/ready' || path === '/metrics' || path.startsWith('/graphiql/');

export interface Tracing {
  plugin: Plugin<GraphQLContext>;
  /** Exports what is queued (tests; shutdown does it too). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Null without an endpoint: then nothing is loaded. */
export function createTracing(config: Config, schema: GraphQLSchema, logger: Logger): Tracing | null {
  const endpoint = config.otlpEndpoint;
  if (!endpoint) return null;
  let loaded: Loaded | null = null;
  const loading = load({ ...config, otlpEndpoint: endpoint }, logger).then(
    (l) => { loaded = l; return l; },
    (e: Error) => { logger.warn('traces: the OpenTelemetry SDK did not load; tracing is off', { error: e.message }); return null; },
  );
  wrapRootResolvers(schema);
  const spans = new WeakMap<Request, { span: Span; ctx: Context; tracer: Tracer }>();

  const plugin: Plugin<GraphQLContext> = {
    async onRequest({ request, url }) {
      if (UNTRACED(url.pathname)) return;
      const l = loaded ?? (await loading);
      if (!l) return;
      const span = l.tracer.startSpan(`${request.method} ${url.pathname}`, { kind: 1, attributes: { 'http.request.method': request.method, 'url.path': url.pathname } });
      spans.set(request, { span, ctx: l.api.trace.setSpan(l.api.ROOT_CONTEXT, span), tracer: l.tracer });
    },
    onExecute({ args }) {
      const context = args.contextValue as TracedContext;
      const entry = context.request ? spans.get(context.request) : undefined;
      if (!entry) return;
      context[REQUEST_SPAN] = entry;
      const ops = (args.document as DocumentNode).definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
      const op = args.operationName ? ops.find((o) => o.name?.value === args.operationName) : ops[0];
      entry.span.updateName(`${op?.operation ?? 'unknown'} ${op?.name?.value ?? '(anonymous)'}`);
      entry.span.setAttributes({ 'graphql.operation.type': op?.operation ?? 'unknown', 'graphql.operation.name': op?.name?.value ?? '(anonymous)' });
      // Each look is pushed to the session's trace as it settles: that is the look's end, and the
      // request it belongs to, whatever the dataloader batching did to async context.
      const trace = context.session?.trace;
      if (trace) {
        const push = trace.push.bind(trace);
        trace.push = (...looks: ProbeTraceEntry[]) => {
          for (const look of looks) probeSpan(entry, look);
          return push(...looks);
        };
      }
      return {
        onExecuteDone({ result }) {
          const errors = Symbol.asyncIterator in (result as object) ? 0 : ((result as { errors?: unknown[] }).errors?.length ?? 0);
          entry.span.setAttribute('graphql.errors', errors);
          if (trace) entry.span.setAttribute('lbtopo.probe_looks', trace.length);
          if (errors > 0) entry.span.setStatus({ code: 2, message: `${errors} GraphQL error(s)` });
        },
      };
    },
    onResponse({ request, response }) {
      const entry = spans.get(request);
      if (!entry) return;
      spans.delete(request);
      entry.span.setAttribute('http.response.status_code', response.status);
      if (response.status >= 500) entry.span.setStatus({ code: 2, message: `HTTP ${response.status}` });
      entry.span.end();
    },
  };
  return {
    plugin,
    flush: async () => { await (await loading)?.flush(); },
    shutdown: async () => { await (await loading)?.shutdown(); },
  };
}

function probeSpan(parent: { ctx: Context; tracer: Tracer }, look: ProbeTraceEntry): void {
  const end = Date.now();
  const span = parent.tracer.startSpan(`probe ${look.probe}`, {
    startTime: end - look.durationMs,
    attributes: { 'lbtopo.probe': look.probe, 'lbtopo.scope': look.scope, 'lbtopo.source': look.source, ...(look.observedAt ? { 'lbtopo.observed_at': look.observedAt } : {}) },
  }, parent.ctx);
  if (look.error) {
    span.setAttributes({ 'lbtopo.error.kind': look.error.kind });
    span.setStatus({ code: 2, message: look.error.message });
  }
  span.end(end);
}
