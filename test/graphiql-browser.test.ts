// GraphiQL in a real browser (Debian's headless Chromium through playwright-core), on a network
// that ends at loopback: every request the page makes is intercepted, and any that would leave
// 127.0.0.1 is refused and fails the test. The page must render from the installed packages,
// open on the host's problems, and its first Run must return data (graphiql#3392 broke that when
// the default tab needed variables). The screenshot is kept in test-artifacts/graphiql.png.
//
// The host is served from crafted state dirs (two neutron-lbaas v1 pools whose namespaces and
// haproxy do not exist, an OVSDB socket nobody serves), so it needs no lab and shows problems.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext } from 'playwright-core';
import { loadConfig } from '../src/config.ts';
import { createApp, serve } from '../src/server.ts';
import type { App } from '../src/server.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ARTIFACTS = join(ROOT, 'test-artifacts');
const POOLS = ['5e1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b', '7f2d3c4b-5a6e-4f70-9b8c-0d1e2f3a4b5c'];

let app: App;
let server: Server;
let base: string;
let context: BrowserContext;
let browser: Browser | null = null;
const requests: string[] = [];
const refused: string[] = [];

function craftedHost(): Record<string, string> {
  const root = mkdtempSync(join(tmpdir(), 'lbtopo-graphiql-'));
  const conf = readFileSync(join(ROOT, 'test/fixtures/lbaas-v1-pool.conf'), 'utf8');
  for (const id of POOLS) {
    mkdirSync(join(root, 'lbaas', id), { recursive: true });
    writeFileSync(join(root, 'lbaas', id, 'conf'), conf.replaceAll(POOLS[0]!, id));
    writeFileSync(join(root, 'lbaas', id, 'pid'), '4194000\n');
  }
  mkdirSync(join(root, 'netns'));
  mkdirSync(join(root, 'octavia'));
  return {
    LBTOPO_LBAAS_DIR: join(root, 'lbaas'),
    LBTOPO_OCTAVIA_DIR: join(root, 'octavia'),
    LBTOPO_NETNS_DIR: join(root, 'netns'),
    LBTOPO_OVSDB: `unix:${join(root, 'db.sock')}`,
    LBTOPO_DB: join(root, 'topology.sqlite'),
    LBTOPO_LISTEN: '127.0.0.1:0',
  };
}

const isLoopback = (url: string) => {
  const u = new URL(url);
  return u.protocol === 'data:' || u.protocol === 'blob:' || (u.protocol === 'http:' && (u.hostname === '127.0.0.1' || u.hostname === '[::1]'));
};

before(async () => {
  app = createApp(loadConfig(craftedHost()), { log: () => {} });
  server = await serve(app);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'lbtopo-chromium-')), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1600, height: 1000 },
  });
  browser = context.browser();
  await context.route('**/*', (route) => {
    const url = route.request().url();
    requests.push(url);
    if (isLoopback(url)) return route.continue();
    refused.push(url);
    return route.abort('blockedbyclient');
  });
});

after(async () => {
  await context?.close();
  await browser?.close();
  server?.close();
  app?.close();
});

test('/ leads to GraphiQL, whose page names no external URL', async () => {
  const root = await fetch(`${base}/`, { redirect: 'manual' });
  assert.equal(root.status, 302);
  assert.equal(root.headers.get('location'), '/graphql');
  const page = await (await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } })).text();
  assert.ok(page.length < 10_000, `a small page, assets apart (${page.length} bytes)`);
  assert.doesNotMatch(page, /https?:\/\//, 'no absolute URL in the page');
  for (const asset of page.matchAll(/(?:src|href)="([^"]+)"/g)) {
    const res = await fetch(`${base}${asset[1]}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.status, 200, asset[1]);
    assert.ok((await res.arrayBuffer()).byteLength > 1000, `${asset[1]} has content`);
  }
  assert.equal((await fetch(`${base}/graphiql/nothing.js`)).status, 404);
});

test('GraphiQL renders offline, opens on the problems and on the worst pool, and the first Run returns data', async () => {
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${base}/`);
  assert.equal(new URL(page.url()).pathname, '/graphql', '/ redirected');
  const run = page.locator('.graphiql-execute-button');
  await run.waitFor({ state: 'visible', timeout: 60_000 });
  const tabs = await page.locator('.graphiql-tab').allInnerTexts();
  assert.deepEqual(tabs.map((t) => t.trim()), ['Problems', 'PoolTrace', '<untitled>'], `tabs: ${JSON.stringify(tabs)}`);

  const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/graphql') && r.request().method() === 'POST'), run.click()]);
  const body = (await response.json()) as { data?: { problems: Array<{ code: string; severity: string; poolId: string | null }> }; errors?: unknown[] };
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  const codes = body.data!.problems.map((p) => p.code);
  assert.ok(codes.includes('HAPROXY_MISSING') && codes.includes('NAMESPACE_MISSING'), codes.join(' '));
  assert.equal(body.data!.problems[0]!.severity, 'CRITICAL', 'worst first');
  // The answer is on screen, not only on the wire.
  await page.locator('.graphiql-response').getByText('NAMESPACE_MISSING').first().waitFor({ timeout: 20_000 });

  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = join(ARTIFACTS, 'graphiql.png');
  await page.screenshot({ path: shot });
  assert.ok(statSync(shot).size > 20_000);
  console.log(`# screenshot: ${shot}`);

  // The second tab is the worst pool's trace, its id written in, problems first: it runs as opened too.
  // A dispatched click: the tabs are draggable, and a pointer click on one is taken for a drag.
  await page.locator('.graphiql-tab-button').nth(1).dispatchEvent('click');
  await page.locator('.graphiql-tab[aria-selected="true"]').getByText('PoolTrace').waitFor();
  // GraphiQL takes the new tab's operation name from its editor a moment after the switch; a Run
  // in that moment sends the previous tab's name ("Cannot infer operation Problems"). A person
  // takes longer than this to move to the Run button.
  await page.waitForTimeout(1500);
  const [trace] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/graphql') && r.request().method() === 'POST'), run.click()]);
  const traced = (await trace.json()) as { data?: { pool: { id: string; problems: Array<{ code: string }> } }; errors?: unknown[] };
  assert.ok(POOLS.includes(traced.data?.pool?.id ?? ""), JSON.stringify(traced).slice(0, 500));
  assert.ok(traced.data!.pool.problems.some((p) => p.code === 'HAPROXY_MISSING'));
  // The pane shows it (errors come first: with no haproxy, the members' health is an error naming the socket).
  await page.locator('.graphiql-response').getByText('STATS_UNAVAILABLE').first().waitFor({ timeout: 20_000 });
  await page.screenshot({ path: join(ARTIFACTS, 'graphiql-trace.png') });

  assert.deepEqual(refused, [], 'no request left loopback');
  assert.ok(requests.some((u) => u.endsWith('/graphiql/yoga-graphiql.js')), 'the bundle came from this server');
  assert.deepEqual(pageErrors, []);
  await page.close();
});
