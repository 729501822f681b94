// Runs one GraphQL document for the CLI (`query`, `check`): in-process through yoga.fetch (the
// same server code, no port opened, config from LBTOPO_* and the serve flags), or against a
// running server with --url. Both return the HTTP status and the JSON body, so callers judge
// the answer the same way wherever it came from.
import { loadConfig, parseDuration, settingOptions } from '../config.ts';
import type { App } from '../server.ts';

export interface GraphQLRequestBody {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string | null;
  /** e.g. { trace: true }: every probe look in extensions.probes (check -vvv). */
  extensions?: Record<string, unknown>;
}

export interface GraphQLResponseBody {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, unknown> }>;
  extensions?: Record<string, unknown>;
}

export interface GraphQLAnswer {
  status: number;
  body: GraphQLResponseBody;
}

/** A bad flag or argument: query exits 2, check UNKNOWN. */
export class UsageError extends Error {}

/** The flags query and check share besides the serve settings (which include --token). */
export const TARGET_OPTIONS = { url: { type: 'string' }, timeout: { type: 'string' } } as const;

/** Where to run from parsed flags: --url (else in-process with the serve-setting flags), --timeout, --token. */
export function targetFromFlags(values: Record<string, unknown>): Target {
  const timeout = values.timeout as string | undefined;
  const timeoutMs = timeout === undefined ? 30_000 : parseDuration(timeout);
  if (timeoutMs === null) throw new UsageError(`--timeout ${JSON.stringify(timeout)} is not a duration (e.g. 30s)`);
  const settings = Object.fromEntries(Object.keys(settingOptions()).map((flag) => [flag, values[flag] as string | undefined]));
  return { url: (values.url as string | undefined) ?? null, token: settings.token ?? process.env.LBTOPO_TOKEN ?? null, settings, timeoutMs };
}

/** The server could not be reached, or did not answer with JSON. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
}

export interface Target {
  /** A server's GraphQL URL; null runs in-process. */
  url: string | null;
  /** Bearer token for --url (in-process uses the configured one). */
  token: string | null;
  /** Flags that override LBTOPO_* for in-process runs. */
  settings: Record<string, string | undefined>;
  timeoutMs: number;
}

/** http://host:4000 and http://host:4000/ mean http://host:4000/graphql. */
export function graphqlUrl(url: string): string {
  const u = new URL(url);
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/graphql';
  return u.toString();
}

/** onApp: the in-process app, once made (check's deadline asks it what is still running). */
export async function runGraphQL(target: Target, request: GraphQLRequestBody, hooks: { onApp?: (app: App) => void; signal?: AbortSignal } = {}): Promise<GraphQLAnswer> {
  const body = JSON.stringify(request);
  if (target.url) {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
    if (target.token) headers.authorization = `Bearer ${target.token}`;
    let response: Response;
    try {
      const signals = [AbortSignal.timeout(target.timeoutMs), ...(hooks.signal ? [hooks.signal] : [])];
      response = await fetch(graphqlUrl(target.url), { method: 'POST', headers, body, signal: AbortSignal.any(signals) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new UnreachableError(`cannot reach ${target.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) as GraphQLResponseBody };
    } catch {
      throw new UnreachableError(`${target.url} answered HTTP ${response.status} without JSON: ${text.slice(0, 200)}`);
    }
  }
  const config = loadConfig(process.env, target.settings);
  const { createApp } = await import('../server.ts');
  const app = createApp(config, { log: (m) => process.stderr.write(`lbtopo: ${m}\n`) });
  hooks.onApp?.(app);
  try {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (config.token) headers.authorization = `Bearer ${config.token}`;
    const response = await app.yoga.fetch('http://lbtopo.local/graphql', { method: 'POST', headers, body });
    return { status: response.status, body: (await response.json()) as GraphQLResponseBody };
  } finally {
    app.close();
  }
}
