import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { loadConfig, ConfigError, parseDuration, SETTINGS } from '../src/config.ts';

test('defaults are the documented ones, loopback and no token', () => {
  const c = loadConfig({});
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 4000 });
  assert.equal(c.netnsDir, '/run/netns');
  assert.equal(c.lbaasDir, '/var/lib/neutron/lbaas');
  assert.equal(c.octaviaDir, '/var/lib/octavia');
  assert.equal(c.ovsdb, 'unix:/var/run/openvswitch/db.sock');
  assert.equal(c.ttlMs, 10_000);
  assert.equal(c.token, null);
});

test('flags override env; per-probe TTLs fall back to LBTOPO_TTL', () => {
  const c = loadConfig({ LBTOPO_TTL: '30s', LBTOPO_TTL_STATS: '2s', LBTOPO_DB: '/env.sqlite' }, { db: '/flag.sqlite', 'ttl-ip': '500ms' });
  assert.equal(c.db, '/flag.sqlite');
  assert.equal(c.probeTtlMs.stats, 2000);
  assert.equal(c.probeTtlMs.ip, 500);
  assert.equal(c.probeTtlMs.ovs, 30_000);
});

test('durations', () => {
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('3'), 3000);
  assert.equal(parseDuration('soon'), null);
});

test('bad values fail with one message naming each setting', () => {
  assert.throws(() => loadConfig({ LBTOPO_TTL: 'soon', LBTOPO_LISTEN: 'nowhere', LBTOPO_OVSDB: '--help' }), (err: unknown) => {
    const m = (err as Error).message;
    return err instanceof ConfigError && /LBTOPO_TTL: "soon" is not a duration/.test(m) && /LBTOPO_LISTEN: "nowhere"/.test(m) && /LBTOPO_OVSDB: "--help" is not an OVSDB target/.test(m);
  });
});

test('listening anywhere but loopback needs a token', () => {
  assert.throws(() => loadConfig({ LBTOPO_LISTEN: '0.0.0.0:4000' }), /without LBTOPO_TOKEN/);
  assert.throws(() => loadConfig({ LBTOPO_LISTEN: '[::]:4000' }), /without LBTOPO_TOKEN/);
  assert.equal(loadConfig({ LBTOPO_LISTEN: '0.0.0.0:4000', LBTOPO_TOKEN: 't' }).token, 't');
  assert.deepEqual(loadConfig({ LBTOPO_LISTEN: '[::1]:4001' }).listen, { host: '::1', port: 4001 });
});

test('lbtopo serve refuses a non-loopback address without a token: exit 2, clear message, nothing served', async () => {
  const run = promisify(execFile);
  await assert.rejects(run('node', ['src/main.ts', 'serve', '--listen', '0.0.0.0:4999'], { env: { ...process.env, LBTOPO_TOKEN: '' } }), (err: { code?: number; stderr?: string }) =>
    err.code === 2 && /refusing to listen on 0\.0\.0\.0:4999 without LBTOPO_TOKEN/.test(err.stderr ?? ''));
});

test('the README configuration table lists every setting', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const s of SETTINGS) assert.match(readme, new RegExp(`\\| \`${s.env}\` \\| \`--${s.flag}\` \\|`), s.env);
});
