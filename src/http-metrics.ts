// Serves /metrics, and counts the HTTP requests and GraphQL operations it sees. Ours rather than
// @graphql-yoga/plugin-prometheus, whose names fail `promtool check metrics` (counters without
// _total, camelCase labels, durations without units) and whose operationName label grows a series
// per name a client invents.
//
// Every label value is bounded: routes are a fixed list, methods and error codes allow-lists,
// operation names those of our own documents (examples/queries, the CLI's) and `other` for the
// rest, so 5000 distinct names from clients add no series.
import { readdirSync, readFileSync } from 'node:fs';
import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { Kind } from 'graphql';
import type { DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { EXAMPLE_QUERIES_DIR } from './example-queries.ts';
import type { ResponseReplay } from './http/replay.ts';

const ROUTES = ['/graphql', '/metrics', '/health', '/ready', '/'] as const;
const METHODS = new Set(['GET', 'POST', 'HEAD', 'OPTIONS']);
/** extensions.code values worth a series; anything else is `other`. */
const ERROR_CODES = new Set(['PROBE_FAILED', 'STATS_UNAVAILABLE', 'BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'INTERNAL_SERVER_ERROR']);
/** The operations the CLI sends (src/cli/check.ts, src/cli/trace.ts). */
const CLI_OPERATIONS = ['LbtopoCheck', 'Trace', 'IntrospectionQuery'];

/** Operation names of our documents: the example queries and the CLI's. */
export function knownOperations(): Set<string> {
  const names = new Set(CLI_OPERATIONS);
  try {
    for (const file of readdirSync(EXAMPLE_QUERIES_DIR)) {
      if (!file.endsWith('.graphql')) continue;
      for (const m of readFileSync(new URL(file, EXAMPLE_QUERIES_DIR), 'utf8').matchAll(/^\s*(?:query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)/gm)) names.add(m[1]!);
    }
  } catch {
    // No examples shipped: only the CLI's names.
  }
  return names;
}

export function routeOf(pathname: string): string {
  if ((ROUTES as readonly string[]).includes(pathname)) return pathname;
  if (pathname.startsWith('/graphiql/')) return '/graphiql';
  return 'other';
}

function operationOf(document: DocumentNode, name: string | null | undefined): { name: string | null; type: string } {
  const ops = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const op = name ? ops.find((o) => o.name?.value === name) : ops[0];
  return { name: op?.name?.value ?? null, type: op?.operation ?? 'unknown' };
}

/** A replay (src/http/replay.ts) is counted as the request and the operation it answers again. */
export function useHttpMetrics(registry: Registry, replay?: Pick<ResponseReplay, 'onReplay'> | null): Plugin {
  const registers = [registry];
  const known = knownOperations();
  const operationLabel = (name: string | null) => (name === null ? 'anonymous' : known.has(name) ? name : 'other');

  const requests = new Counter({ name: 'lbtopo_http_requests_total', help: 'HTTP requests by method, route and status code.', labelNames: ['method', 'route', 'code'], registers });
  const requestDuration = new Histogram({
    name: 'lbtopo_http_request_duration_seconds',
    help: 'Time from request to response, by method and route.',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const operations = new Counter({
    name: 'lbtopo_graphql_operations_total',
    help: 'GraphQL operations executed, by type, name (ours by name, any other as "other") and result (ok, errors).',
    labelNames: ['operation_type', 'operation', 'result'],
    registers,
  });
  const operationDuration = new Histogram({
    name: 'lbtopo_graphql_operation_duration_seconds',
    help: 'Time to execute a GraphQL operation, by type and name (as lbtopo_graphql_operations_total).',
    labelNames: ['operation_type', 'operation'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const errors = new Counter({ name: 'lbtopo_graphql_errors_total', help: 'Errors in GraphQL results, by extensions.code (other for the rest).', labelNames: ['code'], registers });

  // One way to count, for a request yoga answered and for one the front replayed.
  const countRequest = (rawMethod: string, path: string, status: number, seconds: number | undefined) => {
    const method = METHODS.has(rawMethod) ? rawMethod : 'other';
    const route = routeOf(path);
    requests.inc({ method, route, code: String(status) });
    if (seconds !== undefined) requestDuration.observe({ method, route }, seconds);
  };
  const countOperation = (op: { name: string | null; type: string }, errorCodes: readonly string[], seconds: number) => {
    const labels = { operation_type: op.type, operation: operationLabel(op.name) };
    operations.inc({ ...labels, result: errorCodes.length > 0 ? 'errors' : 'ok' });
    operationDuration.observe(labels, seconds);
    for (const code of errorCodes) errors.inc({ code: ERROR_CODES.has(code) ? code : 'other' });
  };
  replay?.onReplay((r) => {
    countRequest(r.method, r.path, r.status, r.durationMs / 1000);
    countOperation(r.operation, r.errorCodes, r.durationMs / 1000);
  });

  const started = new WeakMap<Request, number>();
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      started.set(request, performance.now());
      if (url.pathname !== '/metrics') return;
      return registry.metrics().then(
        (text) => endResponse(new fetchAPI.Response(text, { status: 200, headers: { 'content-type': registry.contentType } })),
        (err: Error) => endResponse(new fetchAPI.Response(`metrics failed: ${err.message}\n`, { status: 500, headers: { 'content-type': 'text/plain' } })),
      );
    },
    onExecute({ args }) {
      const t0 = performance.now();
      const op = operationOf(args.document, args.operationName);
      return {
        onExecuteDone({ result }) {
          if (Symbol.asyncIterator in (result as object)) return;
          const errs = (result as { errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }).errors ?? [];
          countOperation(op, errs.map((e) => String(e.extensions?.code ?? 'other')), (performance.now() - t0) / 1000);
        },
      };
    },
    onResponse({ request, response }) {
      const t0 = started.get(request);
      countRequest(request.method, new URL(request.url).pathname, response.status, t0 === undefined ? undefined : (performance.now() - t0) / 1000);
    },
  };
}
