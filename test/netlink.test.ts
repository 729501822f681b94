// The netlink module's edges that need no lab: what netlinkSupport() says when the addon is
// missing, and a namespace this process may not enter (no CAP_SYS_ADMIN), which must come back
// as the typed 'cannot-enter' that the caller turns into the ip -batch fallback.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { netlinkSupport } from '../src/host/netlink.ts';

describe('netlinkSupport', () => {
  it('is available here: npm ci built the addon', () => {
    assert.deepEqual(netlinkSupport(), { available: true });
  });

  it('says why when the addon was not built (a copy of the loader with no build/ above it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lbtnl-noaddon-'));
    try {
      const copy = join(dir, 'netlink-addon.ts');
      copyFileSync(new URL('../src/host/netlink-addon.ts', import.meta.url), copy);
      const { loadNetlinkAddon } = (await import(copy)) as typeof import('../src/host/netlink-addon.ts');
      const load = loadNetlinkAddon();
      assert.equal(load.addon, null);
      assert.match(!load.addon ? load.reason : '', /build\/Release\/lbtopo_netlink\.node was not found .*npm run build:native/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a namespace that cannot be entered', () => {
  const ns = `lbtnl-perm-${randomBytes(3).toString('hex')}`;
  before(() => execFileSync('ip', ['netns', 'add', ns]));
  after(() => execFileSync('ip', ['netns', 'del', ns]));

  it('without CAP_SYS_ADMIN (as nobody) is a NetlinkError cannot-enter / EPERM, and so is a watch', () => {
    const module = new URL('../src/host/netlink.ts', import.meta.url).href;
    const script = `
      import { readNamespaceNetworkNetlink, watchNamespace, stopNetlinkWorkers } from ${JSON.stringify(module)};
      const out = {};
      try { await readNamespaceNetworkNetlink(${JSON.stringify(ns)}, ${JSON.stringify(`/run/netns/${ns}`)}); out.read = 'read'; }
      catch (e) { out.read = { name: e.constructor.name, kind: e.kind, failure: e.failure, errno: e.errno }; }
      const errors = [];
      const w = watchNamespace(${JSON.stringify(ns)}, ${JSON.stringify(`/run/netns/${ns}`)}, { onChange() {}, onOverflow() {}, onError: (e) => errors.push(e.failure) });
      out.ready = await w.ready;
      out.watch = errors;
      await stopNetlinkWorkers();
      console.log(JSON.stringify(out));`;
    const stdout = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      cwd: tmpdir(),
    });
    assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1)!), {
      read: { name: 'NetlinkError', kind: 'failed', failure: 'cannot-enter', errno: 'EPERM' },
      ready: false,
      watch: ['cannot-enter'],
    });
  });
});
