// Logs on stderr: one line per HTTP request (method, path, status, duration, the GraphQL
// operation, and the probes that ran or came from the cache), and the server's own messages, with
// levels. LBTOPO_LOG_FORMAT=json (default: one JSON object per line, for journald, Loki or an ELK
// pipeline) or text (for a person at a terminal); LBTOPO_LOG_LEVEL=debug|info|warn|error.
//
// Expected host failures (a probe that failed, a stats socket that does not answer) are already
// in the response and in the request line's probe list, so they are logged at debug, not error.
import type { Plugin } from 'graphql-yoga';
import { GraphQLError, Kind } from 'graphql';
import type { DocumentNode } from 'graphql';
import type { GraphQLContext } from './graphql/context.ts';
import type { ResponseReplay } from './http/replay.ts';

import { LOG_LEVELS } from './config.ts';
import type { LogFormat, LogLevel } from './config.ts';

export type LogFields = Record<string, unknown>;

export interface Logger {
  level: LogLevel;
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** key=value, quoted when the value has spaces or quotes; { lbaas: { ran: 1 } } as lbaas.ran=1. */
function textValue(v: unknown): string {
  const flat = (o: unknown, prefix = ''): string[] =>
    o !== null && typeof o === 'object' && !Array.isArray(o) ? Object.entries(o).flatMap(([k, x]) => flat(x, `${prefix}${k}.`)) : [`${prefix.slice(0, -1)}=${String(o)}`];
  const s = typeof v === 'string' ? v : v !== null && typeof v === 'object' && !Array.isArray(v) ? flat(v).join(',') : JSON.stringify(v);
  return /^[^\s"=]*$/.test(s) && s !== '' ? s : JSON.stringify(s);
}

/**
 * Lines written together once per turn of the event loop (and at once on exit), in order: a
 * write to stderr is a system call, and with a line per request it was ~5 % of the main
 * thread's samples under 32 clients (cpu profile, 200 pools). A line waits at most for the
 * current turn.
 */
export function batchedLines(sink: (text: string) => void, onExit: (flush: () => void) => void = () => {}): (line: string) => void {
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    sink(text);
  };
  onExit(flush);
  return (line) => {
    pending.push(line);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}

let stderrWriter: ((line: string) => void) | undefined;

/** The process's one batched stderr writer (a pipe or a file: written synchronously on Linux, so exit loses nothing). */
function stderrLines(): (line: string) => void {
  stderrWriter ??= batchedLines((text) => process.stderr.write(text), (flush) => process.on('exit', flush));
  return stderrWriter;
}

export function createLogger(options: { format?: LogFormat; level?: LogLevel; write?: (line: string) => void; now?: () => Date } = {}): Logger {
  const format = options.format ?? 'json';
  const threshold = LOG_LEVELS.indexOf(options.level ?? 'info');
  const write = options.write ?? stderrLines();
  const now = options.now ?? (() => new Date());
  const log = (level: LogLevel, msg: string, fields: LogFields = {}) => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    const time = now().toISOString();
    if (format === 'json') write(`${JSON.stringify({ time, level, msg, ...fields })}\n`);
    else {
      const rest = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${textValue(v)}`);
      write(`${time} ${level.toUpperCase().padEnd(5)} ${msg}${rest.length ? ` ${rest.join(' ')}` : ''}\n`);
    }
  };
  return {
    level: LOG_LEVELS[threshold]!,
    log,
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
  };
}

/** A logger that writes plain messages through a (message) => void callback (tests, the CLI). */
export function callbackLogger(fn: (message: string) => void, level: LogLevel = 'warn'): Logger {
  return createLogger({ format: 'text', level, write: (line) => fn(line.replace(/^\S+ \S+\s+/, '').trimEnd()) });
}

/** What yoga hands its logger: strings, Errors, GraphQLErrors. Expected host failures go to debug. */
export function yogaLogging(logger: Logger, isExpected: (error: unknown) => boolean) {
  const describe = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  const original = (a: unknown) => (a instanceof GraphQLError ? a.originalError ?? a : a);
  return {
    debug: (...args: unknown[]) => logger.debug(describe(args)),
    info: (...args: unknown[]) => logger.info(describe(args)),
    warn: (...args: unknown[]) => logger.warn(describe(args)),
    error: (...args: unknown[]) => {
      if (args.every((a) => isExpected(original(a)))) logger.debug(describe(args), { expected: true });
      else logger.error(describe(args), { stack: args.find((a): a is Error => a instanceof Error)?.stack });
    },
  };
}

interface RequestNote {
  start: number;
  operation?: string | null;
  operationType?: string;
  probes?: Array<{ probe: string; scope: string; source: string; durationMs: number; error?: unknown }>;
  errors?: number;
}

function operationOf(document: DocumentNode, name: string | null | undefined): { name: string | null; type: string } | null {
  const ops = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const op = name ? ops.find((o) => o.name?.value === name) : ops[0];
  return op ? { name: op.name?.value ?? null, type: op.operation } : null;
}

/** { lbaas: { ran: 1 }, stats: { cache: 200 } }: bounded by probes x sources, whatever the pool count. */
function probeSummary(probes: NonNullable<RequestNote['probes']>): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const p of probes) {
    const bySource = (out[p.probe] ??= {});
    bySource[p.source] = (bySource[p.source] ?? 0) + 1;
  }
  return out;
}

/** What one request's log line says (a replayed one's too, src/http/replay.ts). */
interface RequestLine {
  method: string;
  path: string;
  status: number;
  durationMs: number;
  operation?: string | null;
  operationType?: string;
  errors?: number;
  probes?: NonNullable<RequestNote['probes']>;
}

function logRequest(logger: Logger, line: RequestLine): void {
  const probes = line.probes ?? [];
  const fields: LogFields = {
    method: line.method,
    path: line.path,
    status: line.status,
    duration_ms: Math.round(line.durationMs * 10) / 10,
  };
  if (line.operationType) {
    Object.assign(fields, {
      operation: line.operation ?? '(anonymous)',
      operation_type: line.operationType,
      errors: line.errors,
      probes_run: probes.filter((p) => p.source === 'ran').length,
      probes_cached: probes.filter((p) => p.source === 'cache' || p.source === 'shared').length,
      probes_failed: probes.filter((p) => p.error).length,
      probes: probeSummary(probes),
    });
  }
  // Health checks and scrapes every few seconds are noise at info.
  const quiet = line.path === '/health' || line.path === '/ready' || line.path === '/metrics' || line.path.startsWith('/graphiql/');
  logger.log(line.status >= 500 ? 'warn' : quiet ? 'debug' : 'info', 'request', fields);
}

/**
 * One line per request at info (warn for 5xx): what was asked, how it went, what ran on the host.
 * A request the front answered by a replay is logged the same way, from what the kept one noted.
 */
export function useRequestLog(logger: Logger, replay?: Pick<ResponseReplay, 'onReplay'> | null): Plugin<GraphQLContext> {
  const notes = new WeakMap<Request, RequestNote>();
  replay?.onReplay((r) => logRequest(logger, {
    method: r.method, path: r.path, status: r.status, durationMs: r.durationMs,
    operation: r.operation.name, operationType: r.operation.type, errors: r.errorCodes.length, probes: r.probes,
  }));
  return {
    onRequest({ request }) {
      notes.set(request, { start: performance.now() });
    },
    onExecute({ args }) {
      return {
        onExecuteDone({ result }) {
          const ctx = args.contextValue as GraphQLContext & { request?: Request };
          const note = ctx.request ? notes.get(ctx.request) : undefined;
          if (!note) return;
          const op = operationOf(args.document, args.operationName);
          note.operation = op?.name ?? null;
          note.operationType = op?.type ?? 'unknown';
          note.probes = ctx.session?.trace ?? [];
          note.errors = Symbol.asyncIterator in (result as object) ? 0 : ((result as { errors?: unknown[] }).errors?.length ?? 0);
        },
      };
    },
    onResponse({ request, response }) {
      const note = notes.get(request);
      if (!note) return;
      logRequest(logger, {
        method: request.method, path: new URL(request.url).pathname, status: response.status, durationMs: performance.now() - note.start,
        operation: note.operation, operationType: note.operationType, errors: note.errors, probes: note.probes,
      });
    },
  };
}
