// Shared by the integration tests: an app pointed at a lab, and a GraphQL call through yoga.fetch.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadConfig } from '../src/config.ts';
import { createApp } from '../src/server.ts';
import type { App } from '../src/server.ts';
import type { Lab } from '../src/lab/lab.ts';

export interface GqlResponse<T = any> {
  data?: T;
  errors?: Array<{ message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }>;
  extensions?: {
    probes?: Array<{ probe: string; scope: string; source: string }>;
    probeFailures?: unknown[];
    probeSummary?: { looks: number; ran: number; shared: number; cache: number; stale: number; failed: number; answerReused?: true };
  };
}

export function tmpDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'lbtopo-db-')), 'topology.sqlite');
}

export function appForLab(lab: Lab, env: Record<string, string> = {}, db = tmpDb()): App {
  const config = loadConfig({ ...lab.env(), LBTOPO_DB: db, LBTOPO_TTL: '10s', ...env });
  return createApp(config, { log: () => {} });
}

export async function gql<T = any>(app: App, query: string, variables: Record<string, unknown> = {}): Promise<GqlResponse<T>> {
  const response = await app.yoga.fetch('http://lbtopo.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-lbtopo-trace': 'probes' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GqlResponse<T>;
}

/** Runs `fn` and returns the commands the app ran meanwhile (argv[0] of each). */
export async function commandsDuring(app: App, fn: () => Promise<unknown>): Promise<string[][]> {
  const ran: string[][] = [];
  const stop = app.gateway.onRun((run) => ran.push(run.argv));
  try {
    await fn();
  } finally {
    stop();
  }
  return ran;
}

/** Polls a warm query (no maxAge) until `ok` holds of its data; fails after limitMs. Returns how long it took (ms). */
export async function seenWithin(app: App, query: string, ok: (data: any) => boolean, limitMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const res = await gql(app, query);
    if (res.data && ok(res.data)) return performance.now() - t0;
    if (performance.now() - t0 > limitMs) throw new Error(`not seen within ${limitMs} ms: ${JSON.stringify(res)}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Runs `fn` and returns the probe looks that ran meanwhile (not cache hits or shared runs), as probe:scope. */
export async function probesRunDuring(app: App, fn: () => Promise<unknown>): Promise<string[]> {
  const ran: string[] = [];
  const stop = app.runner.onObserve((entry) => {
    if (entry.source === 'ran') ran.push(`${entry.probe}:${entry.scope}`);
  });
  try {
    await fn();
  } finally {
    stop();
  }
  return ran;
}

/** What `ip netns identify PID` prints, one name per line. */
export function ipNetnsIdentify(pid: number): string[] {
  return execFileSync('ip', ['netns', 'identify', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}
