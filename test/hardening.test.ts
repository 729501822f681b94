// Issue 8 "wrong answers" and file-probe items, each reproduced on a real lab or on crafted state
// dirs beside it, and shown fixed: canonical config paths, haproxy recognised by exe, history
// for a pool dead at the first look, a deleted namespace not served from the cache, a missing
// state dir not read as "0 pools", configs and pid files that cannot serve, one rule for ids.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labUp } from '../src/lab/lab.ts';
import type { Lab, LabPool } from '../src/lab/lab.ts';
import type { App } from '../src/server.ts';
import { appForLab, commandsDuring, gql } from './support.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

let lab: Lab;
let app: App;
let healthy: LabPool, dead: LabPool, relativeStart: LabPool, spare: LabPool;
const started: ChildProcess[] = [];

before(async () => {
  lab = await labUp({ v1Pools: 4, v2LoadBalancers: 0 });
  [healthy, dead, relativeStart, spare] = lab.pools as [LabPool, LabPool, LabPool, LabPool];
  await lab.injectFault(dead.poolId, 'kill-haproxy');
  app = appForLab(lab);
});

after(async () => {
  for (const child of started) child.kill('SIGKILL');
  app?.close();
  await lab?.down();
});

const MISSING = '{ pools(where: { haproxy: MISSING }, maxAge: 0) { id } }';
const missingIds = async (a: App) => ((await gql(a, MISSING)).data.pools as Array<{ id: string }>).map((p) => p.id).sort();

test('a symlinked or relative LBTOPO_LBAAS_DIR finds the running haproxy (item 6)', async () => {
  const link = join(mkdtempSync(join(tmpdir(), 'lbtopo-link-')), 'lbaas');
  symlinkSync(lab.lbaasDir, link);
  for (const dir of [link, relative(process.cwd(), lab.lbaasDir)]) {
    const a = appForLab(lab, { LBTOPO_LBAAS_DIR: dir });
    try {
      assert.deepEqual(await missingIds(a), [dead.poolId], `only the killed pool is MISSING with LBTOPO_LBAAS_DIR=${dir}`);
      const problems = await gql(a, `{ problems(code: HAPROXY_MISSING) { poolId } }`);
      assert.deepEqual(problems.data.problems.map((p: { poolId: string }) => p.poolId), [dead.poolId]);
    } finally {
      a.close();
    }
  }
});

test('a haproxy started with a relative -f in its state dir is the pool haproxy (item 6)', async () => {
  await lab.injectFault(relativeStart.poolId, 'kill-haproxy');
  const stateDir = join(relativeStart.configPath, '..');
  // As an operator restarting it by hand from the state dir: `-f conf`, relative to the cwd.
  execFileSync('ip', ['netns', 'exec', relativeStart.namespace, 'haproxy', '-f', 'conf', '-p', 'pid'], { cwd: stateDir });
  const pid = Number(readFileSync(join(stateDir, 'pid'), 'utf8').trim());
  const res = await gql(app, 'query($id: String!) { pool(id: $id, maxAge: 0) { haproxy { pid configPath haproxyMatch argv } } }', { id: relativeStart.poolId });
  assert.equal(res.errors, undefined);
  assert.equal(res.data.pool.haproxy.pid, pid);
  assert.deepEqual(res.data.pool.haproxy.argv.slice(1, 3), ['-f', 'conf'], 'argv as written');
  assert.equal(res.data.pool.haproxy.configPath, relativeStart.configPath, 'resolved against /proc/PID/cwd');
  assert.match(res.data.pool.haproxy.haproxyMatch, /exe \/usr\/sbin\/haproxy/);
});

test('a bash whose argv says `haproxy -f <conf>` does not take a dead pool off MISSING (item 10)', async () => {
  // A local user can name any program haproxy in argv[0]; the kernel's exe cannot be faked.
  const fake = spawn('/bin/bash', ['-c', 'sleep 600; :', '-f', dead.configPath, '-p', join(dead.configPath, '..', 'pid')], { argv0: 'haproxy', detached: true, stdio: 'ignore' });
  started.push(fake);
  try {
    await new Promise((r) => setTimeout(r, 200));
    const argv = readFileSync(`/proc/${fake.pid}/cmdline`, 'utf8').split('\0');
    assert.equal(argv[0], 'haproxy', 'the fake really has argv[0] haproxy');
    assert.deepEqual(await missingIds(app), [dead.poolId]);
    // Not a haproxy, so not even listed by default (LBTOPO_PROCESSES=lbaas); with =all, it says why not.
    assert.equal((await gql(app, `{ process(pid: ${fake.pid}) { pid } }`)).data.process, null);
    const wide = appForLab(lab, { LBTOPO_PROCESSES: 'all' });
    try {
      const res = await gql(wide, `{ process(pid: ${fake.pid}) { haproxyMatch configPath pool { id } } }`);
      assert.deepEqual(res.data.process, { haproxyMatch: null, configPath: null, pool: null });
    } finally {
      wide.close();
    }
    const problems = await gql(app, 'query($id: String!) { pool(id: $id) { problems(code: HAPROXY_MISSING) { code } } }', { id: dead.poolId });
    assert.deepEqual(problems.data.pool.problems, [{ code: 'HAPROXY_MISSING' }]);
  } finally {
    fake.kill('SIGKILL');
  }
});

test('haproxyHistory of a pool dead at the first look says "missing since the first look at T" (item 11)', async () => {
  const fresh = appForLab(lab); // a new database: this is lbtopo's first look
  try {
    const q = 'query($id: String!) { pool(id: $id, maxAge: 0) { haproxyHistory { running sinceFirstLook from summary } } }';
    const first = await gql(fresh, q, { id: dead.poolId });
    assert.equal(first.errors, undefined);
    const [period] = first.data.pool.haproxyHistory;
    assert.equal(first.data.pool.haproxyHistory.length, 1);
    assert.equal(period.running, false);
    assert.equal(period.sinceFirstLook, true);
    assert.match(period.summary, new RegExp(`^missing since the first look at ${period.from.replace(/[.]/g, '\\.')}`));
    const again = await gql(fresh, q, { id: dead.poolId });
    assert.equal(again.data.pool.haproxyHistory[0].from, period.from, 'the first look stays the first');
    const live = await gql(fresh, q, { id: healthy.poolId });
    assert.deepEqual(live.data.pool.haproxyHistory.map((p: { running: boolean; sinceFirstLook: boolean }) => [p.running, p.sinceFirstLook]), [[true, true]]);
  } finally {
    fresh.close();
  }
});

test('a namespace deleted since the last look is not served from the cache (item 12)', async () => {
  const cached = appForLab(lab, { LBTOPO_TTL: '1h' });
  try {
    const doomed = await lab.addOrphanNamespace();
    const q = `{ namespace(name: "${doomed}") { name interfaces { name } } }`;
    const before = await gql(cached, q);
    assert.ok(before.data.namespace.interfaces.some((i: { name: string }) => i.name === 'lo'));
    execFileSync('ip', ['netns', 'del', doomed]);
    let res: any;
    const ran = await commandsDuring(cached, async () => { res = await gql(cached, q); });
    assert.deepEqual(ran, [], 'one stat tells it, no command');
    assert.equal(res.data.namespace.interfaces, null, 'no interfaces from a namespace that is gone');
    const error = res.errors?.find((e: { extensions?: Record<string, unknown> }) => e.extensions?.scope === doomed);
    assert.equal(error?.extensions?.reason, 'gone', JSON.stringify(res.errors));
  } finally {
    cached.close();
  }
});

test('a missing or mistyped state dir is CHECK_INCOMPLETE and check is not OK, not "0 pools" (item 8)', async () => {
  const typo = `${lab.lbaasDir}-typo`;
  const a = appForLab(lab, { LBTOPO_LBAAS_DIR: typo });
  try {
    const res = await gql(a, '{ problems { code probe message } pools { id } }');
    assert.equal(res.data.pools, null, 'no silent empty list');
    assert.match(res.errors?.[0]?.message ?? '', /LBTOPO_LBAAS_DIR/);
    assert.deepEqual(res.data.problems.map((p: { code: string }) => p.code), ['CHECK_INCOMPLETE'], 'and no ORPHAN_NAMESPACE for every qlbaas namespace');
    assert.match(res.data.problems[0].message, /does not exist/);
  } finally {
    a.close();
  }
  const check = spawn(process.execPath, ['src/main.ts', 'check'], { cwd: ROOT, env: { ...process.env, ...lab.env(), LBTOPO_LBAAS_DIR: typo, LBTOPO_DB: join(mkdtempSync(join(tmpdir(), 'lbtopo-db-')), 'db.sqlite') } });
  let stdout = '';
  check.stdout.on('data', (d) => (stdout += d));
  const status = await new Promise((r) => check.on('close', r));
  assert.notEqual(status, 0, stdout);
  assert.doesNotMatch(stdout, /LBAAS OK/);
  assert.match(stdout, /CHECK_INCOMPLETE/);
});

/** A state dir beside the lab's with hand-written configs (the lab's namespaces and OVS stay real). */
function craftedStateDir(files: Record<string, string | null>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-crafted-'));
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    if (content === null) mkdirSync(full, { recursive: true });
    else {
      mkdirSync(join(full, '..'), { recursive: true });
      writeFileSync(full, content);
    }
  }
  return dir;
}

const V1_ONLY_GLOBAL = '11111111-1111-4111-8111-111111111111';
const V1_PID_DIR = '22222222-2222-4222-8222-222222222222';
const V2_LB = '33333333-3333-4333-8333-333333333333';
const V2_POOL = '44444444-4444-4444-8444-444444444444';

test('a config with only global, a frontend without a backend, a backend without a frontend, an unreadable pid file: all problems (item 9)', async () => {
  const fine = `global\n  daemon\nfrontend f1\n  bind 10.9.0.1:80\n  default_backend ${V1_PID_DIR}\nbackend ${V1_PID_DIR}\n  server m1 10.9.0.2:80\n`;
  const dir = craftedStateDir({
    [`${V1_ONLY_GLOBAL}/conf`]: 'global\n  daemon\n  maxconn 100\n',
    [`${V1_PID_DIR}/conf`]: fine,
    [`${V1_PID_DIR}/pid`]: null, // a directory where the pid file should be: EISDIR
    [`v2/${V2_LB}/haproxy.conf`]: `# Configuration for ${V2_LB}\nglobal\n  daemon\nfrontend lonely\n  bind 10.9.0.5:80\n  mode tcp\nbackend ${V2_POOL}\n  server m1 10.9.0.6:80\n`,
  });
  const a = appForLab(lab, { LBTOPO_LBAAS_DIR: dir });
  try {
    const res = await gql(a, '{ problems(severity: WARNING) { code poolId namespaceName file message } }');
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    const got = res.data.problems.map((p: { code: string; poolId: string | null; file: string }) => `${p.code} ${p.poolId ?? '-'} ${p.file.slice(dir.length + 1)}`).sort();
    assert.deepEqual(got, [
      `CONFIG_INCOMPLETE - v2/${V2_LB}/haproxy.conf`, // frontend lonely names no backend
      `CONFIG_INCOMPLETE ${V1_ONLY_GLOBAL} ${V1_ONLY_GLOBAL}/conf`, // only global
      `CONFIG_INCOMPLETE ${V2_POOL} v2/${V2_LB}/haproxy.conf`, // backend no frontend uses
      `PID_FILE_UNREADABLE ${V1_PID_DIR} ${V1_PID_DIR}/pid`,
    ]);
    const lonely = res.data.problems.find((p: { message: string }) => /frontend lonely/.test(p.message));
    assert.match(lonely.message, /names no backend/);
  } finally {
    a.close();
  }
});

test('ids: pool(id) takes an upper-case UUID like port(id); processes(namespace:) is refused before /proc is read (item 20)', async () => {
  const upper = await gql(app, `{ pool(id: "${healthy.poolId.toUpperCase()}") { id } port(id: "${healthy.portId.toUpperCase()}") { id } }`);
  assert.equal(upper.errors, undefined);
  assert.deepEqual(upper.data, { pool: { id: healthy.poolId }, port: { id: healthy.portId } });
  const bad = await gql(app, '{ processes(namespace: "a b", maxAge: 0) { pid } }');
  assert.equal(bad.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  assert.deepEqual(bad.extensions?.probes, [], 'nothing was read');
  const long = await gql(app, `{ pool(id: "${'x'.repeat(100_000)}") { id } }`);
  assert.ok((long.errors?.[0]?.message.length ?? Infinity) < 300, 'the echo of bad input is cut');
  void spare;
});

const FIFO_PID = '55555555-5555-4555-8555-555555555551';
const ZERO_PID = '55555555-5555-4555-8555-555555555552';
const HUGE_CONF = '55555555-5555-4555-8555-555555555553';
const FIFO_CONF = '55555555-5555-4555-8555-555555555554';
const SHADOW_CONF = '55555555-5555-4555-8555-555555555555';
const ZERO_CONF = '55555555-5555-4555-8555-555555555556';

test('a FIFO, /dev/zero or a huge file as pid file or config never hangs or bloats, and /etc/shadow does not leak (items 1, 18)', async () => {
  const conf = (id: string) => `global\n  daemon\nfrontend f-${id}\n  bind 10.9.1.1:80\n  default_backend ${id}\nbackend ${id}\n  server m1 10.9.1.2:80\n`;
  const dir = craftedStateDir({
    [`${FIFO_PID}/conf`]: conf(FIFO_PID),
    [`${ZERO_PID}/conf`]: conf(ZERO_PID),
    [`${HUGE_CONF}/pid`]: '1\n',
    [`${FIFO_CONF}/pid`]: '1\n',
    [`${SHADOW_CONF}/pid`]: '1\n',
    [`${ZERO_CONF}/pid`]: '1\n',
  });
  execFileSync('mkfifo', [join(dir, FIFO_PID, 'pid')]);
  symlinkSync('/dev/zero', join(dir, ZERO_PID, 'pid'));
  execFileSync('truncate', ['-s', '50M', join(dir, HUGE_CONF, 'conf')]); // sparse: 50 MB read as zeros
  execFileSync('mkfifo', [join(dir, FIFO_CONF, 'conf')]);
  symlinkSync('/etc/shadow', join(dir, SHADOW_CONF, 'conf'));
  symlinkSync('/dev/zero', join(dir, ZERO_CONF, 'conf'));
  const a = appForLab(lab, { LBTOPO_LBAAS_DIR: dir });
  const rssBefore = process.memoryUsage().rss;
  try {
    const t0 = Date.now();
    const deadline = new Promise<never>((_r, reject) => setTimeout(() => reject(new Error('the query hung')), 15_000));
    const res = await Promise.race([gql(a, '{ pools(maxAge: 0) { id pidFilePids configError } problems { code poolId message } }'), deadline]);
    assert.ok(Date.now() - t0 < 10_000, `answered in ${Date.now() - t0} ms`);
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    const pool = (id: string) => res.data.pools.find((p: { id: string }) => p.id === id);
    const codes = (id: string) => res.data.problems.filter((p: { poolId: string }) => p.poolId === id).map((p: { code: string }) => p.code);
    assert.deepEqual(pool(FIFO_PID).pidFilePids, []);
    assert.ok(codes(FIFO_PID).includes('PID_FILE_UNREADABLE'));
    assert.match(res.data.problems.find((p: { poolId: string; code: string }) => p.poolId === FIFO_PID && p.code === 'PID_FILE_UNREADABLE').message, /a FIFO, not a regular file/);
    assert.ok(codes(ZERO_PID).includes('PID_FILE_UNREADABLE'));
    assert.match(pool(HUGE_CONF).configError, /too large: 52428800 bytes \(the limit is 4194304\)/);
    assert.ok(codes(HUGE_CONF).includes('CONFIG_UNREADABLE'));
    assert.match(pool(FIFO_CONF).configError, /a FIFO, not a regular file/);
    assert.match(pool(ZERO_CONF).configError, /a character device, not a regular file/);
    const shadow = pool(SHADOW_CONF).configError as string;
    const shadowStart = readFileSync('/etc/shadow', 'utf8').slice(0, 8);
    assert.ok(!shadow.includes(shadowStart), `no content of /etc/shadow: ${shadow}`);
    assert.match(shadow, /content is not shown: it is \/etc\/shadow, outside the state dir/);
    const stored = JSON.stringify(a.store.latest('lbaas', '')!.payload).length;
    assert.ok(stored < 100_000, `the stored look is small (${stored} bytes)`);
    assert.ok(process.memoryUsage().rss - rssBefore < 200 * 1024 * 1024, 'no bloat');
  } finally {
    a.close();
  }
});

test('processes { argv } lists only LBaaS processes by default and redacts secret-looking values (item 19)', async () => {
  const secretive = spawn('/bin/bash', ['-c', 'sleep 600; :', 'svc', '--db-password=hunter2', '--token', 'abc'], { detached: true, stdio: 'ignore' });
  started.push(secretive);
  try {
    await new Promise((r) => setTimeout(r, 200));
    const q = '{ processes(maxAge: 0) { pid argv command } }';
    const byDefault = await gql(app, q);
    const pids = byDefault.data.processes.map((p: { pid: number }) => p.pid);
    assert.ok(!pids.includes(secretive.pid), 'a root-namespace process that is neither haproxy nor keepalived is not listed');
    assert.ok(pids.includes(lab.haproxyPid(healthy.poolId)), 'the pools\' haproxy is');
    assert.equal((await gql(app, `{ process(pid: ${secretive.pid}) { pid } }`)).data.process, null);
    const wide = appForLab(lab, { LBTOPO_PROCESSES: 'all' });
    try {
      const all = await gql(wide, q);
      const entry = all.data.processes.find((p: { pid: number }) => p.pid === secretive.pid);
      assert.ok(entry, 'LBTOPO_PROCESSES=all lists it');
      assert.deepEqual(entry.argv.slice(3), ['svc', '--db-password=<redacted>', '--token', '<redacted>']);
      assert.ok(!JSON.stringify(all).includes('hunter2'));
    } finally {
      wide.close();
    }
  } finally {
    secretive.kill('SIGKILL');
  }
});
