// `lbtopo check -t`: the deadline covers the whole run, in-process and against --url, and ends it
// with UNKNOWN naming what was still running, well before whatever was slow gives up by itself.
// The slow parts are real: an OVSDB socket that accepts and never answers (as a wedged
// ovsdb-server does; ovs-vsctl waits for it up to its --timeout), and an HTTP server that accepts
// and never responds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const POOL = '5e1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
let env: NodeJS.ProcessEnv;
let sock: string;
const servers: Server[] = [];
const held: Socket[] = [];

function silentServer(): Server {
  const s = createServer((c) => held.push(c));
  servers.push(s);
  return s;
}

function check(args: string[]): Promise<{ status: number | null; stdout: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/main.ts', 'check', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, ms: performance.now() - t0 }));
  });
}

before(async () => {
  const root = mkdtempSync(join(tmpdir(), 'lbtopo-deadline-'));
  const dir = join(root, 'lbaas', POOL);
  mkdirSync(dir, { recursive: true });
  sock = join(root, 'db.sock');
  writeFileSync(join(dir, 'conf'), readFileSync(join(ROOT, 'test/fixtures/lbaas-v1-pool.conf'), 'utf8'));
  mkdirSync(join(root, 'netns'));
  mkdirSync(join(root, 'octavia'));
  await new Promise<void>((r) => silentServer().listen(sock, r));
  env = {
    ...process.env,
    LBTOPO_LBAAS_DIR: join(root, 'lbaas'),
    LBTOPO_OCTAVIA_DIR: join(root, 'octavia'),
    LBTOPO_NETNS_DIR: join(root, 'netns'),
    LBTOPO_OVSDB: `unix:${sock}`,
    LBTOPO_DB: join(root, 'topology.sqlite'),
    // ovs-vsctl would give up after 30 s; the check's deadline is far shorter.
    LBTOPO_COMMAND_TIMEOUT: '30s',
  };
  delete env.LBTOPO_TOKEN;
});

after(() => {
  for (const c of held) c.destroy();
  for (const s of servers) s.close();
});

test('in-process: -t ends the run with UNKNOWN naming the probe still running', async () => {
  // 4 s: the rest of the check takes about 1 s on a loaded 2-core machine; the socket would hold it 30 s.
  const run = await check(['-t', '4s', '--max-age', '0']);
  assert.equal(run.status, 3, run.stdout);
  assert.equal(run.stdout, `LBAAS UNKNOWN - timed out after 4s (-t) waiting for ovs:unix:${sock}\n`);
  assert.ok(run.ms < 4000 + 2500, `exited ${Math.round(run.ms)} ms after start`);
});

test('--url: -t covers a server that accepts and never answers', async () => {
  const s = silentServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  const run = await check(['--url', url, '-t', '1s']);
  assert.equal(run.status, 3);
  assert.equal(run.stdout, `LBAAS UNKNOWN - timed out after 1s (-t) waiting for an answer from ${url}\n`);
  assert.ok(run.ms < 1000 + 2500, `exited ${Math.round(run.ms)} ms after start`);
});
