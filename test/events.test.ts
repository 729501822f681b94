// The cache fed by change events: an event outdates exactly the observation it touches, so a warm
// answer (no maxAge, a TTL of an hour) shows the change at once. Here the directory watches, on
// crafted state dirs and a private netns dir of real namespaces (made with unshare --net=FILE, so
// /run/netns is never touched); the netlink and OVSDB events are proven on a lab in their own tests.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { createApp } from '../src/server.ts';
import type { App } from '../src/server.ts';
import { ObservationStore } from '../src/cache/store.ts';
import { ProbeRunner } from '../src/cache/runner.ts';
import type { ProbeDefinition } from '../src/cache/runner.ts';
import { gql, seenWithin } from './support.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const POOL_A = '5e1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const POOL_B = '6e1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4c';

const root = mkdtempSync(join(tmpdir(), 'lbtopo-events-'));
const lbaasDir = join(root, 'lbaas');
const netnsDir = join(root, 'netns');
const madeNamespaces: string[] = [];
let app: App;

function addNamespace(name: string): void {
  const file = join(netnsDir, name);
  writeFileSync(file, '');
  execFileSync('unshare', [`--net=${file}`, 'true']);
  madeNamespaces.push(file);
}

function removeNamespace(name: string): void {
  const file = join(netnsDir, name);
  execFileSync('umount', [file]);
  rmSync(file);
  madeNamespaces.splice(madeNamespaces.indexOf(file), 1);
}


before(() => {
  mkdirSync(join(lbaasDir, POOL_A), { recursive: true });
  writeFileSync(join(lbaasDir, POOL_A, 'conf'), fixture('lbaas-v1-pool.conf'));
  mkdirSync(netnsDir);
  mkdirSync(join(root, 'octavia')); // a state dir that is given must exist
  addNamespace(`qlbaas-${POOL_A}`);
  const config = loadConfig({
    LBTOPO_DB: join(root, 'db.sqlite'), LBTOPO_LBAAS_DIR: lbaasDir, LBTOPO_OCTAVIA_DIR: join(root, 'octavia'),
    LBTOPO_NETNS_DIR: netnsDir, LBTOPO_TTL: '1h', LBTOPO_REFRESH: '0',
  });
  app = createApp(config, { log: () => {}, background: true, watchSources: {} });
});

after(() => {
  app?.close();
  for (const file of [...madeNamespaces]) {
    try { execFileSync('umount', [file]); } catch { /* already gone */ }
  }
  rmSync(root, { recursive: true, force: true });
});

test('a pool written to the state dir shows in a warm answer at once, and its removal too', async () => {
  const ids = (d: any) => (d.pools as Array<{ id: string }>).map((p) => p.id);
  assert.deepEqual(ids((await gql(app, '{ pools { id } }')).data), [POOL_A]);
  mkdirSync(join(lbaasDir, POOL_B));
  writeFileSync(join(lbaasDir, POOL_B, 'conf'), fixture('lbaas-v1-pool.conf').replaceAll(POOL_A, POOL_B));
  const added = await seenWithin(app, '{ pools { id } }', (d) => ids(d).includes(POOL_B), 1000);
  rmSync(join(lbaasDir, POOL_B), { recursive: true });
  const removed = await seenWithin(app, '{ pools { id } }', (d) => !ids(d).includes(POOL_B), 1000);
  assert.ok(added < 100 && removed < 100, `seen after ${added.toFixed(0)} and ${removed.toFixed(0)} ms, not within 100 ms`);
});

test('a namespace made or deleted shows in a warm answer at once; without events it waits for the TTL', async () => {
  const names = (d: any) => (d.namespaces as Array<{ name: string }>).map((n) => n.name);
  const extra = `qlbaas-${POOL_B}`;
  assert.deepEqual(names((await gql(app, '{ namespaces { name } }')).data), [`qlbaas-${POOL_A}`]);
  addNamespace(extra);
  const added = await seenWithin(app, '{ namespaces { name } }', (d) => names(d).includes(extra), 1000);
  removeNamespace(extra);
  const removed = await seenWithin(app, '{ namespaces { name } }', (d) => !names(d).includes(extra), 1000);
  assert.ok(added < 100 && removed < 100, `seen after ${added.toFixed(0)} and ${removed.toFixed(0)} ms`);
  assert.ok(app.watchers!.status().some((s) => s.source === 'netns-dir' && s.active));

  // The same change with events off stays unseen while the cached list is fresh: the events did it.
  const quiet = createApp(loadConfig({
    LBTOPO_DB: join(root, 'quiet.sqlite'), LBTOPO_LBAAS_DIR: lbaasDir, LBTOPO_OCTAVIA_DIR: join(root, 'octavia'),
    LBTOPO_NETNS_DIR: netnsDir, LBTOPO_TTL: '1h', LBTOPO_REFRESH: '0', LBTOPO_EVENTS: 'off',
  }), { log: () => {}, background: true, watchSources: {} });
  try {
    await gql(quiet, '{ namespaces { name } }');
    addNamespace(extra);
    await new Promise((r) => setTimeout(r, 150));
    assert.ok(!names((await gql(quiet, '{ namespaces { name } }')).data).includes(extra));
    removeNamespace(extra);
  } finally {
    quiet.close();
  }
});

test('the runner: an event outdates one scope; a look it overtook is neither joined nor kept', async () => {
  const store = new ObservationStore(join(root, 'runner.sqlite'));
  const runner = new ProbeRunner(store, () => {});
  let value = 'old';
  const gates: Array<() => void> = [];
  let runs = 0;
  const def: ProbeDefinition<string> = {
    name: 'p',
    ttlMs: 3_600_000,
    run: async () => {
      runs++;
      const seen = value;
      await new Promise<void>((r) => gates.push(r));
      return seen;
    },
  };
  const first = runner.observe(def, 'a');
  await new Promise((r) => setImmediate(r));
  gates.shift()!();
  assert.equal((await first).value, 'old');
  assert.equal((await runner.observe(def, 'a')).value, 'old', 'fresh: served from the cache');
  assert.equal(runs, 1);

  // A look starts, the host changes, the event arrives: a caller after the event starts its own
  // look, and the overtaken look, finishing last, does not overwrite what the newer one saw.
  const overtaken = runner.observe(def, 'a', { maxAgeMs: 0 });
  await new Promise((r) => setImmediate(r));
  value = 'new';
  runner.invalidate('p', 'a');
  const after = runner.observe(def, 'a');
  await new Promise((r) => setImmediate(r));
  assert.equal(runs, 3, 'the caller after the event did not join the look it overtook');
  gates[1]!(); // the newer look ends first
  assert.equal((await after).value, 'new');
  gates[0]!();
  assert.equal((await overtaken).value, 'old', 'the overtaken caller gets what its look saw');
  assert.equal((await runner.observe(def, 'a')).value, 'new', 'and the cache keeps the newer look');
  assert.equal(runs, 3);
  runner.invalidate('p');
  const again = runner.observe(def, 'a');
  await new Promise((r) => setImmediate(r));
  gates.shift();
  gates.shift();
  gates.shift()!();
  assert.equal((await again).value, 'new');
  assert.equal(runs, 4, 'an event for every scope of a probe outdates this scope too');
  store.close();
});
