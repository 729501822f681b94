// OpenTelemetry traces: an app with LBTOPO_OTLP_ENDPOINT sends its spans (request, root fields,
// probe looks) to a tiny OTLP/HTTP receiver on loopback, in one trace with the right parents; with
// no endpoint nothing is sent; a closed port changes neither the answer nor its latency.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { createApp } from '../src/server.ts';
import type { App } from '../src/server.ts';
import { gql } from './support.ts';
import { execFileSync } from 'node:child_process';

const POOL = '5b1c3a4e-8f2d-4c1a-9e7b-1234567890ab';
const root = mkdtempSync(join(tmpdir(), 'lbtopo-tracing-'));
const lbaasDir = join(root, 'lbaas');

interface OtlpSpan { traceId: string; spanId: string; parentSpanId?: string; name: string; attributes: Array<{ key: string; value: Record<string, unknown> }> }
const bodies: Array<{ contentType: string | undefined; path: string | undefined; body: any }> = [];
let receiver: Server;
let receiverUrl: string;

const spans = (): OtlpSpan[] => bodies.flatMap((b) => b.body.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans)));
const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v ? (v.stringValue ?? v.intValue ?? v.boolValue) : undefined;
};

function appWith(name: string, env: Record<string, string>): App {
  return createApp(loadConfig({
    LBTOPO_DB: join(root, `${name}.sqlite`), LBTOPO_LBAAS_DIR: lbaasDir, LBTOPO_OCTAVIA_DIR: join(root, 'octavia'),
    LBTOPO_NETNS_DIR: join(root, 'netns'), LBTOPO_TTL: '1h', LBTOPO_REFRESH: '0', ...env,
  }), { log: () => {} });
}

before(async () => {
  mkdirSync(join(lbaasDir, POOL), { recursive: true });
  writeFileSync(join(lbaasDir, POOL, 'conf'), readFileSync(new URL('./fixtures/lbaas-v1-pool.conf', import.meta.url), 'utf8'));
  mkdirSync(join(root, 'netns'));
  mkdirSync(join(root, 'octavia')); // a state dir that is given must exist
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      bodies.push({ contentType: req.headers['content-type'], path: req.url, body: JSON.parse(text) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`;
});

after(() => {
  receiver?.close();
  rmSync(root, { recursive: true, force: true });
});

const QUERY = 'query PoolIds { pools { id } namespaces { name } }';

test('a request, its root fields and its probe looks reach the OTLP receiver as one trace', async () => {
  const app = appWith('traced', { LBTOPO_OTLP_ENDPOINT: receiverUrl, LBTOPO_OTLP_SERVICE_NAME: 'lbtopo-test' });
  try {
    assert.equal(app.replay, null, 'a replay makes no spans: with tracing on, every request goes through yoga');
    const untraced = appWith('untraced', {});
    assert.notEqual(untraced.replay, null);
    untraced.close();
    const res = await gql(app, QUERY);
    assert.deepEqual(res.data.pools.map((p: { id: string }) => p.id), [POOL]);
    await app.flushTraces();
  } finally {
    app.close();
  }
  assert.ok(bodies.length > 0, 'the receiver got an export');
  assert.match(bodies[0]!.contentType ?? '', /application\/json/);
  assert.equal(bodies[0]!.path, '/v1/traces');
  const service = bodies[0]!.body.resourceSpans[0].resource.attributes.find((a: any) => a.key === 'service.name');
  assert.equal(service.value.stringValue, 'lbtopo-test');

  const all = spans();
  const request = all.find((s) => s.name === 'query PoolIds');
  assert.ok(request, `a request span named after the operation among ${all.map((s) => s.name).join(', ')}`);
  assert.equal(request.parentSpanId ?? '', '');
  assert.equal(attr(request, 'graphql.operation.name'), 'PoolIds');
  assert.equal(attr(request, 'graphql.operation.type'), 'query');
  assert.equal(Number(attr(request, 'http.response.status_code')), 200);
  assert.equal(Number(attr(request, 'graphql.errors')), 0);

  const fields = all.filter((s) => s.name.startsWith('Query.')).map((s) => s.name).sort();
  assert.deepEqual(fields, ['Query.namespaces', 'Query.pools']);
  const lbaas = all.filter((s) => s.name === 'probe lbaas');
  assert.ok(lbaas.length >= 1, 'a span for the lbaas look');
  assert.equal(attr(lbaas[0]!, 'lbtopo.source'), 'ran');
  assert.equal(attr(lbaas[0]!, 'lbtopo.scope') !== undefined, true);
  for (const s of all.filter((x) => x !== request)) {
    assert.equal(s.traceId, request.traceId, `${s.name} is in the request's trace`);
    assert.equal(s.parentSpanId, request.spanId, `${s.name} is a child of the request`);
  }
  // A list of pools gives spans per root field, not per item.
  assert.ok(all.length <= 2 + 1 + 10, `bounded span count: ${all.length}`);
});

test('with no endpoint nothing reaches the receiver', async () => {
  const before = bodies.length;
  const app = appWith('untraced', {});
  try {
    const res = await gql(app, QUERY);
    assert.deepEqual(res.data.pools.map((p: { id: string }) => p.id), [POOL]);
    await app.flushTraces();
    await new Promise((r) => setTimeout(r, 1500)); // longer than the batch delay
  } finally {
    app.close();
  }
  assert.equal(bodies.length, before);
});

test('an unreachable collector changes neither the answer nor its latency', async () => {
  // A port that was just bound and closed on loopback: connections are refused.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const warnings: string[] = [];
  const dead = createApp(loadConfig({
    LBTOPO_DB: join(root, 'dead.sqlite'), LBTOPO_LBAAS_DIR: lbaasDir, LBTOPO_OCTAVIA_DIR: join(root, 'octavia'),
    LBTOPO_NETNS_DIR: join(root, 'netns'), LBTOPO_TTL: '1h', LBTOPO_REFRESH: '0', LBTOPO_OTLP_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`,
  }), { log: (m) => warnings.push(m) });
  const plain = appWith('plain', {});
  try {
    const timed = async (app: App) => {
      const t0 = performance.now();
      const res = await gql(app, QUERY);
      return { ms: performance.now() - t0, res };
    };
    await timed(dead); await timed(plain); // warm both (module load, first look)
    const a = await timed(dead);
    const b = await timed(plain);
    assert.deepEqual(a.res.data, b.res.data);
    assert.equal(a.res.errors, undefined);
    await dead.flushTraces(); // the export fails here, after the answers
    const c = await timed(dead);
    assert.deepEqual(c.res.data, b.res.data);
    // Generous: a blocked export would take its 5 s deadline.
    assert.ok(c.ms < b.ms + 500, `answer with a dead collector ${c.ms.toFixed(1)} ms vs ${b.ms.toFixed(1)} ms without tracing`);
    await dead.flushTraces();
    const failures = warnings.filter((w) => w.includes('export to the OTLP endpoint failed'));
    assert.equal(failures.length, 1, `one warning, not one per batch: ${warnings.join(' | ')}`);
  } finally {
    dead.close();
    plain.close();
  }
});

test('with no endpoint the OpenTelemetry SDK and exporter are never imported', () => {
  // A fresh process: module resolution is watched from before the server module loads.
  const script = `
    import { registerHooks } from 'node:module';
    const seen = [];
    registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); if (/@opentelemetry[\\/](sdk-trace|exporter-trace|otlp|resources)/.test(r.url)) seen.push(r.url); return r; } });
    const { loadConfig } = await import(${JSON.stringify(new URL('../src/config.ts', import.meta.url).href)});
    const { createApp } = await import(${JSON.stringify(new URL('../src/server.ts', import.meta.url).href)});
    const env = JSON.parse(process.argv[1]);
    const app = createApp(loadConfig(env), { log: () => {} });
    const res = await app.yoga.fetch('http://lbtopo.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ pools { id } }' }) });
    await res.json();
    await app.flushTraces();
    app.close();
    console.log(JSON.stringify({ status: res.status, seen }));
  `;
  const run = (extra: Record<string, string>) => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify({
    LBTOPO_DB: join(root, `sub${Object.keys(extra).length}.sqlite`), LBTOPO_LBAAS_DIR: lbaasDir, LBTOPO_OCTAVIA_DIR: join(root, 'octavia'),
    LBTOPO_NETNS_DIR: join(root, 'netns'), LBTOPO_TTL: '1h', ...extra,
  })], { encoding: 'utf8', timeout: 60_000 }).trim().split('\n').at(-1)!) as { status: number; seen: string[] };
  const off = run({});
  assert.equal(off.status, 200);
  assert.deepEqual(off.seen, []);
  // The same watch sees them when tracing is on, so an empty list above means something.
  const on = run({ LBTOPO_OTLP_ENDPOINT: receiverUrl });
  assert.equal(on.status, 200);
  assert.ok(on.seen.some((u) => u.includes('sdk-trace')), on.seen.join(' '));
});
