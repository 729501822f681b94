// GraphiQL that works on an air-gapped network node. yoga's built-in page loads its script, CSS
// and Monaco workers from unpkg.com, so without internet it stays at "Loading ..." forever.
// @graphql-yoga/render-graphiql bundles all of them as strings; rather than inlining 9 MB into
// every page it renders, the page here is a few hundred bytes naming same-origin files, served
// (gzipped once, cacheable) from that package under /graphiql/. The page names no external URL.
//
// The tabs it opens with run as opened: the default tab's variables never reach the variables
// editor (graphiql#3392, "$id not provided" on the first Run), so no default tab needs variables;
// the trace of the worst pool has the pool id inlined.
import { gzipSync } from 'node:zlib';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';
import type { TopologySession } from './topology/session.ts';
import { listPools } from './topology/queries.ts';
import { diagnoseHost } from './diagnose/diagnose.ts';
import { readExampleQuery } from './example-queries.ts';

export const GRAPHIQL_ASSETS_PATH = '/graphiql/';

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
}

/** The bundle's strings by the file name the page uses. Loaded on the first request for one. */
const ASSET_EXPORTS: Record<string, { key: 'js' | 'css' | 'editorWorkerService' | 'jsonWorker' | 'graphqlWorker' | 'favicon'; type: string }> = {
  'yoga-graphiql.js': { key: 'js', type: 'text/javascript; charset=utf-8' },
  'graphiql.css': { key: 'css', type: 'text/css; charset=utf-8' },
  'editor.worker.js': { key: 'editorWorkerService', type: 'text/javascript; charset=utf-8' },
  'json.worker.js': { key: 'jsonWorker', type: 'text/javascript; charset=utf-8' },
  'graphql.worker.js': { key: 'graphqlWorker', type: 'text/javascript; charset=utf-8' },
  'favicon.ico': { key: 'favicon', type: 'image/x-icon' },
};

let assets: Promise<Map<string, Asset>> | null = null;
function loadAssets(): Promise<Map<string, Asset>> {
  // A dynamic import: the bundle is 9 MB of JavaScript source, and `lbtopo --help`, `check` and a
  // server nobody opens in a browser should not parse it.
  assets ??= import('@graphql-yoga/render-graphiql/graphiql').then((bundle) => {
    const map = new Map<string, Asset>();
    for (const [file, { key, type }] of Object.entries(ASSET_EXPORTS)) {
      const text = bundle[key];
      // The favicon is a data: URL; serve its bytes.
      const body = key === 'favicon' ? Buffer.from(text.replace(/^data:[^,]*;base64,/, ''), 'base64') : Buffer.from(text, 'utf8');
      map.set(file, { type, body, gzip: gzipSync(body) });
    }
    return map;
  });
  return assets;
}

const html = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page: same-origin script, CSS and workers only (yoga's renderGraphiQL hook). */
export function renderGraphiqlPage(options: GraphiQLOptions): string {
  const a = GRAPHIQL_ASSETS_PATH;
  // JSON inside <script>: "</script>" or "<!--" in a query must not end the script.
  const opts = JSON.stringify(options).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<title>${html(options.title ?? 'GraphiQL')}</title>
<link rel="icon" href="${a}favicon.ico" />
<link rel="stylesheet" href="${a}graphiql.css" />
</head>
<body id="body" class="no-focus-outline">
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root"></div>
<script>
self.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl: function (moduleId, label) {
    return ${JSON.stringify(a)} + ({ json: 'json.worker.js', graphql: 'graphql.worker.js' }[label] || 'editor.worker.js');
  },
};
</script>
<script src="${a}yoga-graphiql.js"></script>
<script>YogaGraphiQL.renderYogaGraphiQL(document.querySelector('#root'), ${opts});</script>
</body>
</html>
`;
}

/** Serves /graphiql/* from the installed bundle, and sends `/` to the GraphiQL page. */
export function useGraphiqlAssets(graphqlPath = '/graphql'): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname === '/' && (request.method === 'GET' || request.method === 'HEAD')) {
        endResponse(new fetchAPI.Response(null, { status: 302, headers: { location: graphqlPath } }));
        return;
      }
      if (!url.pathname.startsWith(GRAPHIQL_ASSETS_PATH)) return;
      const file = url.pathname.slice(GRAPHIQL_ASSETS_PATH.length);
      if (!Object.hasOwn(ASSET_EXPORTS, file) || (request.method !== 'GET' && request.method !== 'HEAD')) {
        endResponse(new fetchAPI.Response('not found', { status: 404, headers: { 'content-type': 'text/plain' } }));
        return;
      }
      return loadAssets().then((map) => {
        const asset = map.get(file)!;
        const gzip = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
        const headers: Record<string, string> = { 'content-type': asset.type, 'cache-control': 'public, max-age=86400', vary: 'accept-encoding' };
        if (gzip) headers['content-encoding'] = 'gzip';
        const body = gzip ? asset.gzip : asset.body;
        headers['content-length'] = String(body.length);
        endResponse(new fetchAPI.Response(request.method === 'HEAD' ? null : new Uint8Array(body), { status: 200, headers }));
      });
    },
  };
}

/** How long opening GraphiQL may wait for the diagnosis that picks the worst pool. */
const WORST_POOL_BUDGET_MS = 3000;

/** The pool with the worst problem (problems come worst first), else the first pool. */
async function worstPool(session: TopologySession): Promise<{ id: string; why: string } | null> {
  const pools = await listPools(session).catch(() => []);
  if (pools.length === 0) return null;
  const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), WORST_POOL_BUDGET_MS).unref());
  const problems = await Promise.race([diagnoseHost(session).catch(() => null), timeout]);
  const worst = problems?.find((p) => p.poolId !== null && pools.some((pool) => pool.id === p.poolId));
  if (worst) {
    const n = problems!.filter((p) => p.poolId === worst.poolId).length;
    return { id: worst.poolId!, why: `worst pool on this host: ${worst.severity} ${worst.code}${n > 1 ? ` and ${n - 1} more` : ''}` };
  }
  return { id: pools[0]!.id, why: problems ? 'no pool has a problem; this is the first pool' : 'the first pool (the diagnosis took too long to pick the worst)' };
}

/** pool-trace.graphql with the pool id written in, so the tab needs no variables. */
export function poolTraceFor(id: string, why: string): string {
  const trace = readExampleQuery('pool-trace');
  const body = trace.slice(trace.indexOf('query PoolTrace'));
  return `# The trace of one pool, problems first (${why}).\n# Another pool: change the id below.\n${body
    .replace('query PoolTrace($id: String!)', 'query PoolTrace')
    .replace('pool(id: $id)', `pool(id: ${JSON.stringify(id)})`)}`;
}

/**
 * GraphiQL opens on the host's problems, worst first; then the trace of the worst pool with its
 * problems at the top; then every pool's trace.
 */
export async function graphiqlOptions(session: TopologySession): Promise<GraphiQLOptions> {
  const worst = await worstPool(session);
  const tabs: NonNullable<GraphiQLOptions['defaultTabs']> = [{ query: readExampleQuery('problems') }];
  if (worst) tabs.push({ query: poolTraceFor(worst.id, worst.why) });
  tabs.push({ query: readExampleQuery('pools-trace') });
  return { title: 'lbaas-topology', defaultTabs: tabs };
}
