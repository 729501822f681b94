// The HTTP edge over real HTTP against a served app (no lab: the state dirs are empty, which
// every edge rule is independent of): Host allow-list, same-origin CORS, JSON-only POST bodies,
// no mutation over GET, GraphiQL behind the token, query limits refused fast, and the
// GraphQL-over-HTTP audit of graphql-http.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serverAudits } from 'graphql-http';
import { loadConfig } from '../src/config.ts';
import { createApp, serve } from '../src/server.ts';
import type { App } from '../src/server.ts';

interface Served { app: App; server: Server; base: string; port: number }

async function served(env: Record<string, string> = {}): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-edge-'));
  for (const d of ['lbaas', 'octavia', 'netns']) mkdirSync(join(dir, d));
  const config = loadConfig({
    LBTOPO_DB: join(dir, 'db.sqlite'), LBTOPO_LBAAS_DIR: join(dir, 'lbaas'), LBTOPO_OCTAVIA_DIR: join(dir, 'octavia'),
    LBTOPO_NETNS_DIR: join(dir, 'netns'), LBTOPO_LISTEN: '127.0.0.1:0', ...env,
  });
  const app = createApp(config, { log: () => {} });
  const server = await serve(app);
  const port = (server.address() as AddressInfo).port;
  return { app, server, base: `http://127.0.0.1:${port}`, port };
}

function stop(s: Served | undefined): void {
  s?.server.close();
  s?.server.closeAllConnections();
  s?.app.close();
}

/** A raw HTTP request (fetch forbids setting Host and Origin the way a browser or an attacker does). */
function raw(port: number, options: { method?: string; path?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path ?? '/graphql', headers: options.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

let s: Served;
before(async () => { s = await served(); });
after(() => stop(s));

const POOLS = JSON.stringify({ query: '{ pools { id } }' });

test('Host allow-list: loopback names and the listen address pass, a rebound name gets 421', async () => {
  for (const host of [`127.0.0.1:${s.port}`, `localhost:${s.port}`, `[::1]:${s.port}`, 'LOCALHOST']) {
    const r = await raw(s.port, { method: 'POST', headers: { host, 'content-type': 'application/json' }, body: POOLS });
    assert.equal(r.status, 200, host);
  }
  const runsBefore = s.app.runner.runCount;
  for (const host of [`attacker.example:${s.port}`, 'rebind.127.0.0.1.nip.io', '127.0.0.2']) {
    const r = await raw(s.port, { method: 'POST', headers: { host, 'content-type': 'application/json' }, body: POOLS });
    assert.equal(r.status, 421, host);
    assert.equal(JSON.parse(r.body).errors[0].extensions.code, 'HOST_NOT_ALLOWED');
    assert.match(JSON.parse(r.body).errors[0].message, /LBTOPO_ALLOWED_HOSTS/);
  }
  assert.equal(s.app.runner.runCount, runsBefore, 'a refused request looks at nothing');
  const extra = await served({ LBTOPO_ALLOWED_HOSTS: 'lb-node-3.example' });
  try {
    assert.equal((await raw(extra.port, { method: 'POST', headers: { host: 'lb-node-3.example:4000', 'content-type': 'application/json' }, body: POOLS })).status, 200);
    assert.equal((await raw(extra.port, { method: 'POST', headers: { host: 'other.example', 'content-type': 'application/json' }, body: POOLS })).status, 421);
  } finally {
    stop(extra);
  }
});

test('CORS: same origin only by default, no credentials for anyone; an allow-list opens exactly its origins', async () => {
  const same = await raw(s.port, { method: 'POST', headers: { host: `127.0.0.1:${s.port}`, origin: `http://127.0.0.1:${s.port}`, 'content-type': 'application/json' }, body: POOLS });
  assert.equal(same.status, 200, 'GraphiQL on the same origin works');
  for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${s.port + 1}`]) {
    const r = await raw(s.port, { method: 'POST', headers: { host: `127.0.0.1:${s.port}`, origin, 'content-type': 'application/json' }, body: POOLS });
    assert.equal(r.status, 403, origin);
    assert.equal(r.headers['access-control-allow-origin'], undefined, `no CORS header echoed to ${origin}`);
    assert.equal(r.headers['access-control-allow-credentials'], undefined);
    const preflight = await raw(s.port, { method: 'OPTIONS', headers: { host: `127.0.0.1:${s.port}`, origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    assert.equal(preflight.headers['access-control-allow-origin'], undefined, `a preflight from ${origin} is not allowed`);
  }
  const dash = await served({ LBTOPO_CORS_ORIGINS: 'https://dash.example:8443' });
  try {
    const ok = await raw(dash.port, { method: 'POST', headers: { host: `127.0.0.1:${dash.port}`, origin: 'https://dash.example:8443', 'content-type': 'application/json' }, body: POOLS });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://dash.example:8443');
    assert.equal(ok.headers['access-control-allow-credentials'], undefined, 'the token is a header: no credentials mode');
    const preflight = await raw(dash.port, { method: 'OPTIONS', headers: { host: `127.0.0.1:${dash.port}`, origin: 'https://dash.example:8443', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' } });
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://dash.example:8443');
    assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
    const other = await raw(dash.port, { method: 'POST', headers: { host: `127.0.0.1:${dash.port}`, origin: 'https://dash.example', 'content-type': 'application/json' }, body: POOLS });
    assert.equal(other.status, 403, 'another port is another origin');
  } finally {
    stop(dash);
  }
});

test('POST bodies only as JSON: a web form cannot trigger refresh (415, nothing runs)', async () => {
  const refresh = 'mutation { refresh { probe } }';
  const runsBefore = s.app.runner.runCount;
  const forms: Array<[string, string]> = [
    ['application/x-www-form-urlencoded', `query=${encodeURIComponent(refresh)}`],
    ['multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({ query: refresh })}\r\n--x--\r\n`],
    ['text/plain', JSON.stringify({ query: refresh })],
    ['application/graphql', refresh],
  ];
  for (const [type, body] of forms) {
    const r = await fetch(`${s.base}/graphql`, { method: 'POST', headers: { 'content-type': type }, body });
    assert.equal(r.status, 415, type);
    assert.equal(((await r.json()) as any).errors[0].extensions.code, 'UNSUPPORTED_MEDIA_TYPE');
  }
  const none = await raw(s.port, { method: 'POST', headers: { host: `127.0.0.1:${s.port}` }, body: JSON.stringify({ query: refresh }) });
  assert.equal(none.status, 415, 'no content-type at all');
  assert.equal(s.app.runner.runCount, runsBefore, 'no probe ran');
  const json = await fetch(`${s.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ query: 'mutation { refresh(probes: [LBAAS]) { probe source } }' }) });
  assert.equal(json.status, 200);
  assert.deepEqual(((await json.json()) as any).data.refresh, [{ probe: 'lbaas', source: 'ran' }]);
});

test('GET never runs a mutation', async () => {
  const runsBefore = s.app.runner.runCount;
  const r = await fetch(`${s.base}/graphql?query=${encodeURIComponent('mutation { refresh { probe } }')}`, { headers: { accept: 'application/json' } });
  assert.equal(r.status, 405);
  assert.equal(s.app.runner.runCount, runsBefore);
  const q = await fetch(`${s.base}/graphql?query=${encodeURIComponent('{ pools { id } }')}`, { headers: { accept: 'application/json' } });
  assert.equal(q.status, 200, 'queries over GET still work (scripts with curl)');
});

test('GraphiQL and /metrics are behind the token when one is set; /health is not', async () => {
  const t = await served({ LBTOPO_TOKEN: 's3cret' });
  try {
    const page = await fetch(`${t.base}/graphql`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 401);
    assert.doesNotMatch(await page.text(), /graphiql/i);
    assert.equal((await fetch(`${t.base}/metrics`)).status, 401);
    assert.equal((await fetch(`${t.base}/health`)).status, 200);
    const authed = await fetch(`${t.base}/graphql`, { headers: { accept: 'text/html', authorization: 'Bearer s3cret' } });
    assert.equal(authed.status, 200);
    assert.match(await authed.text(), /graphiql/i);
  } finally {
    stop(t);
  }
});

/** The 278-byte back-link nesting that took 54 s and 3 GB before limits. */
function nestedRoutes(): string {
  let q = '{ namespaces { name } }';
  for (let i = 0; i < 9; i++) q = q.replace('{ name }', '{ routes { namespace { name } } }');
  q = q.replace('{ name }', '{ name routes { destination } }');
  while (Buffer.byteLength(q) < 278) q = q.replace('{ namespaces', ' { namespaces');
  return q;
}

async function post(base: string, query: string): Promise<{ status: number; body: any; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return { status: r.status, body: await r.json(), ms: performance.now() - t0 };
}

test('the 278-byte nested routes { namespace { routes } } query is refused fast, by depth and by cost', async () => {
  const q = nestedRoutes();
  assert.equal(Buffer.byteLength(q), 278);
  const runsBefore = s.app.runner.runCount;
  const r = await post(s.base, q);
  assert.ok(r.ms < 500, `refused in ${r.ms} ms`);
  assert.equal(r.body.data, undefined, 'nothing executed');
  const codes = r.body.errors.map((e: any) => e.extensions.code).sort();
  assert.deepEqual(codes, ['QUERY_TOO_COSTLY', 'QUERY_TOO_DEEP']);
  const deep = r.body.errors.find((e: any) => e.extensions.code === 'QUERY_TOO_DEEP');
  assert.match(deep.message, /nests fields 21 deep, deeper than the 10 allowed \(LBTOPO_QUERY_MAX_DEPTH\)/);
  assert.equal(s.app.runner.runCount, runsBefore, 'no probe ran');
  // With the depth limit lifted, the cost alone still refuses it.
  const lifted = await served({ LBTOPO_QUERY_MAX_DEPTH: '100' });
  try {
    const again = await post(lifted.base, q);
    assert.deepEqual(again.body.errors.map((e: any) => e.extensions.code), ['QUERY_TOO_COSTLY']);
    assert.match(again.body.errors[0].message, /LBTOPO_QUERY_MAX_COST/);
  } finally {
    stop(lifted);
  }
});

test('1000 aliases of problems are refused fast: by the token limit, and without it by aliases, fields and cost', async () => {
  const q = `{ ${Array.from({ length: 1000 }, (_, i) => `p${i}: problems { code }`).join(' ')} }`;
  const first = await post(s.base, q);
  assert.ok(first.ms < 1000, `refused in ${first.ms} ms`);
  assert.equal(first.body.data, undefined);
  assert.deepEqual(first.body.errors.map((e: any) => e.extensions.code), ['QUERY_TOO_LARGE'], '6002 tokens');
  const wide = await served({ LBTOPO_QUERY_MAX_TOKENS: '100000' });
  let r: Awaited<ReturnType<typeof post>>;
  try {
    r = await post(wide.base, q);
  } finally {
    stop(wide);
  }
  assert.ok(r.ms < 1000, `refused in ${r.ms} ms`);
  assert.equal(r.body.data, undefined);
  const byCode = Object.fromEntries(r.body.errors.map((e: any) => [e.extensions.code, e.extensions]));
  assert.deepEqual(Object.keys(byCode).sort(), ['QUERY_TOO_COSTLY', 'QUERY_TOO_MANY_ALIASES', 'QUERY_TOO_MANY_FIELDS']);
  assert.deepEqual([byCode.QUERY_TOO_MANY_ALIASES.actual, byCode.QUERY_TOO_MANY_ALIASES.max], [1000, 30]);
  assert.equal(byCode.QUERY_TOO_MANY_FIELDS.actual, 2000);
  assert.equal(byCode.QUERY_TOO_COSTLY.actual, 101_000);
});

test('a document beyond the token limit is refused while parsing', async () => {
  const q = `{ pools { ${'id '.repeat(6000)} } }`;
  const r = await post(s.base, q);
  assert.equal(r.body.errors[0].extensions.code, 'QUERY_TOO_LARGE');
  assert.match(r.body.errors[0].message, /5000 tokens allowed \(LBTOPO_QUERY_MAX_TOKENS\)/);
});

test('every example query passes the default limits', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const dir = new URL('../examples/queries/', import.meta.url);
  for (const file of readdirSync(dir)) {
    const r = await fetch(`${s.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: readFileSync(new URL(file, dir), 'utf8'), variables: { id: '00000000-0000-4000-8000-000000000000' } }) });
    const body = (await r.json()) as any;
    assert.ok(!(body.errors ?? []).some((e: any) => String(e.extensions?.code).startsWith('QUERY_TOO')), `${file}: ${JSON.stringify(body.errors)}`);
  }
});

test('refusals and the command queue are counted in /metrics', async () => {
  const text = await (await fetch(`${s.base}/metrics`)).text();
  assert.match(text, /^lbtopo_requests_refused_total\{reason="host"\} [1-9]/m);
  assert.match(text, /^lbtopo_requests_refused_total\{reason="content-type"\} [1-9]/m);
  assert.match(text, /^lbtopo_requests_refused_total\{reason="depth"\} [1-9]/m);
  assert.match(text, /^lbtopo_command_queue_refused_total 0$/m);
  assert.match(text, /^lbtopo_command_queue_waiting 0$/m);
});

test('graphql-http: every MUST of the GraphQL-over-HTTP audit passes against the served endpoint', async () => {
  const failures: string[] = [];
  const notes: string[] = [];
  const audits = serverAudits({ url: `${s.base}/graphql`, fetchFn: fetch });
  let ok = 0;
  for (const audit of audits) {
    const result = await audit.fn();
    if (result.status === 'ok') ok++;
    if (result.status === 'error') failures.push(`${audit.id} ${audit.name}: ${result.reason}`);
    else if (result.status !== 'ok') notes.push(`${result.status} ${audit.name}: ${result.reason}`);
    if (audit.name.startsWith('MUST') && result.status !== 'ok') failures.push(`${audit.id} ${audit.name}: ${result.status} ${'reason' in result ? result.reason : ''}`);
  }
  console.log(`graphql-http audit: ${ok}/${audits.length} ok${notes.length > 0 ? `; notes:\n  ${notes.join('\n  ')}` : ''}`);
  assert.deepEqual(failures, []);
});
