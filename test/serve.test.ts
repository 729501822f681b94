// `lbtopo serve` as a process, from the compiled build (bin/lbtopo runs dist/, made by npm run build,
// which `npm test` runs first): it starts on loopback, answers, refuses an oversize body, and shuts down cleanly on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

test('serve listens on loopback, answers GraphQL, refuses a body over LBTOPO_MAX_BODY_BYTES and exits 0 on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-serve-'));
  // Empty state dirs: a host with nothing to serve yet (a given dir that does not exist is a failure).
  mkdirSync(join(dir, 'lbaas'));
  mkdirSync(join(dir, 'octavia'));
  const child = spawn('bin/lbtopo', ['serve', '--listen', '127.0.0.1:0', '--db', join(dir, 'db.sqlite'),
    '--lbaas-dir', join(dir, 'lbaas'), '--octavia-dir', join(dir, 'octavia')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /serving (http:\/\/127\.0\.0\.1:\d+\/graphql)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ pools { id } }"}' });
    const body = (await res.json()) as { data: { pools: unknown[] }; extensions: { probes?: unknown[]; probeSummary: { looks: number; ran: number; shared: number; cache: number; slowest: Array<{ probe: string }> } } };
    assert.deepEqual(body.data.pools, [], 'no state dir: no pools, not an error');
    // Without X-Lbtopo-Trace the answer carries a short summary, not the per-look trace.
    assert.equal(body.extensions.probes, undefined);
    assert.equal(body.extensions.probeSummary.looks, 1);
    // Ran, or joined or already looked at by the background refresher that serve starts.
    assert.equal(body.extensions.probeSummary.ran + body.extensions.probeSummary.shared + body.extensions.probeSummary.cache, 1);
    assert.deepEqual(body.extensions.probeSummary.slowest.map((p) => p.probe), ['lbaas']);
    const traced = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-lbtopo-trace': 'probes' }, body: '{"query":"{ pools(maxAge: 0) { id } }"}' });
    const tracedBody = (await traced.json()) as { extensions: { probes: Array<{ probe: string; source: string }> } };
    // maxAge: 0 looks now, or joins the refresher's look already under way.
    assert.deepEqual(tracedBody.extensions.probes.map((p) => p.probe), ['lbaas']);
    assert.match(tracedBody.extensions.probes[0]!.source, /^(ran|shared)$/);
    // serve() puts the front (src/http/replay.ts) before yoga: a body over the cap is refused unread.
    const oversize = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ pools { id } }', pad: 'x'.repeat(1024 * 1024) }) });
    assert.equal(oversize.status, 413);
    assert.equal(((await oversize.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code, 'REQUEST_TOO_LARGE');
    const [code] = await Promise.all([once(child, 'exit').then(([c]) => c), Promise.resolve(child.kill('SIGTERM'))]);
    assert.equal(code, 0);
    assert.match(stderr, /SIGTERM, shutting down/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL'); // a failed assertion must not leave it running
  }
});
