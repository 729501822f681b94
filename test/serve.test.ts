// `lbtopo serve` as a process: it starts on loopback, answers, and shuts down cleanly on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

test('serve listens on loopback, answers GraphQL and exits 0 on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-serve-'));
  mkdirSync(join(dir, 'none')); // an empty state dir: no pools (a missing one would be a failed look)
  const child = spawn('node', ['src/main.ts', 'serve', '--listen', '127.0.0.1:0', '--db', join(dir, 'db.sqlite'),
    '--lbaas-dir', join(dir, 'none'), '--octavia-dir', join(dir, 'none')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /serving (http:\/\/127\.0\.0\.1:\d+\/graphql)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  let body: { data: { pools: unknown[] }; extensions: { probes: Array<{ probe: string }> } };
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ pools { id } }"}' });
    body = (await res.json()) as typeof body;
  } catch (error) {
    child.kill('SIGKILL'); // never leave the server behind a failed test
    throw error;
  }
  if (!Array.isArray(body.data?.pools)) child.kill('SIGKILL');
  assert.deepEqual(body.data.pools, [], 'empty state dirs: no pools, not an error');
  assert.deepEqual(body.extensions.probes.map((p) => p.probe), ['lbaas']);
  const [code] = await Promise.all([once(child, 'exit').then(([c]) => c), Promise.resolve(child.kill('SIGTERM'))]);
  assert.equal(code, 0);
  assert.match(stderr, /SIGTERM, shutting down/);
});
