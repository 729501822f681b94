import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseOvsDump, readOvsSnapshot, decodeSet, isValidOvsdbTarget } from '../src/host/ovs.ts';
import { CommandGateway } from '../src/host/exec.ts';
import { DiscoveryError } from '../src/host/errors.ts';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as { output: string };

test('decodes OVSDB sets: a bare atom is a one-element set, ["set",[]] is empty', () => {
  assert.deepEqual(decodeSet(4095), [4095]);
  assert.deepEqual(decodeSet(['set', []]), []);
  assert.deepEqual(decodeSet(['set', [10, 20]]), [10, 20]);
  assert.deepEqual(decodeSet(['uuid', 'abc']), [['uuid', 'abc']]);
});

test('parses a recorded dump into bridge -> port -> interface', () => {
  const snap = parseOvsDump(fixture('ovs-vsctl-no-vswitchd.json').output);
  assert.deepEqual(snap.bridges.map((b) => [b.name, b.datapathType, b.ports]), [
    ['br-ex', '', ['br-ex']],
    ['br-int', 'netdev', ['br-int', 'tap70081ac2-6f', 'tapdead000-00', 'trunkport']],
  ]);
  const tap = snap.ports.find((p) => p.name === 'tap70081ac2-6f')!;
  assert.equal(tap.bridge, 'br-int');
  assert.equal(tap.tag, 1);
  assert.deepEqual(tap.trunks, []);
  assert.equal(tap.vlanMode, null);
  assert.deepEqual(tap.otherConfig, { net_uuid: '11111111-2222-4333-8444-555555555555' });
  assert.equal(tap.interfaces.length, 1);
  assert.deepEqual(tap.interfaces[0]!.externalIds, {
    'attached-mac': 'fa:16:3e:16:c7:69',
    'iface-id': '70081ac2-6f2b-4b8c-9d1e-5a3c2b1d0e9f',
    'iface-status': 'active',
  });
  assert.equal(tap.interfaces[0]!.type, 'internal');
  assert.equal(tap.interfaces[0]!.ofport, null, 'no vswitchd ran, so ofport is the empty set');
  const dead = snap.ports.find((p) => p.name === 'tapdead000-00')!;
  assert.equal(dead.tag, 4095);
  assert.deepEqual(dead.trunks, [4095], 'a one-element set is printed as the bare atom');
  assert.equal(dead.vlanMode, 'trunk');
  assert.deepEqual(snap.ports.find((p) => p.name === 'trunkport')!.trunks, [10, 20]);
});

test('garbage, truncated or reshaped output is a parse error naming ovs-vsctl', () => {
  const good = fixture('ovs-vsctl-no-vswitchd.json').output;
  for (const bad of ['', 'ovs-vsctl: garbage\n', good.slice(0, good.length / 2), good.replace(/"headings"/g, '"heads"'),
    good.replace('"netdev"', '["map",[]]')]) {
    assert.throws(() => parseOvsDump(bad, ['ovs-vsctl', '--format=json']), (err: unknown) =>
      err instanceof DiscoveryError && err.kind === 'parse' && err.message.startsWith('ovs-vsctl'));
  }
});

test('refuses OVSDB targets that are not plain unix/tcp/ssl targets', () => {
  assert.equal(isValidOvsdbTarget('unix:/var/run/openvswitch/db.sock'), true);
  assert.equal(isValidOvsdbTarget('tcp:127.0.0.1:6640'), true);
  for (const bad of ['--help', 'unix:/x; rm -rf /', 'punix:/x', 'unix:relative', '']) assert.equal(isValidOvsdbTarget(bad), false, bad);
});

// A real ovsdb-server of our own (no ovs-vswitchd, so nothing touches the kernel or a lab).
let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lbtopo-ovs-'));
  execFileSync('ovsdb-tool', ['create', join(dir, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema']);
  execFileSync('ovsdb-server', [join(dir, 'conf.db'), `--remote=punix:${join(dir, 'db.sock')}`, `--pidfile=${join(dir, 'pid')}`,
    '--detach', `--log-file=${join(dir, 'log')}`, `--unixctl=${join(dir, 'ctl')}`]);
  const vsctl = (...args: string[]) => execFileSync('ovs-vsctl', [`--db=unix:${join(dir, 'db.sock')}`, '--no-wait', ...args]);
  vsctl('init');
  vsctl('add-br', 'br-int');
  vsctl('add-port', 'br-int', 'tapabcdef01-23', 'tag=7', '--', 'set', 'Interface', 'tapabcdef01-23', 'type=internal',
    'external_ids:iface-id=abcdef01-2345-4678-9abc-def012345678');
});
after(() => {
  try { process.kill(Number(readFileSync(join(dir, 'pid'), 'utf8')), 'SIGTERM'); } catch { /* already gone */ }
  rmSync(dir, { recursive: true, force: true });
});

test('reads a live OVSDB with exactly one ovs-vsctl run', async () => {
  const gateway = new CommandGateway();
  const snap = await readOvsSnapshot(gateway, `unix:${join(dir, 'db.sock')}`);
  assert.equal(gateway.runCount, 1);
  assert.equal(gateway.runs[0]!.argv[0], 'ovs-vsctl');
  const port = snap.ports.find((p) => p.name === 'tapabcdef01-23')!;
  assert.equal(port.bridge, 'br-int');
  assert.equal(port.tag, 7);
  assert.equal(port.interfaces[0]!.externalIds['iface-id'], 'abcdef01-2345-4678-9abc-def012345678');
});

test('a database socket that does not exist is an error naming ovs-vsctl, not a crash', async () => {
  const gateway = new CommandGateway({ timeoutMs: 8000 });
  await assert.rejects(readOvsSnapshot(gateway, `unix:${join(dir, 'nope.sock')}`), (err: unknown) =>
    err instanceof DiscoveryError && err.kind === 'exit' && /ovs-vsctl/.test(err.message));
});

test('a missing ovs-vsctl binary is a not-found error', async () => {
  const gateway = new CommandGateway();
  const savedPath = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    await assert.rejects(readOvsSnapshot(gateway, `unix:${join(dir, 'db.sock')}`), (err: unknown) =>
      err instanceof DiscoveryError && err.kind === 'not-found');
  } finally {
    process.env.PATH = savedPath;
  }
});
