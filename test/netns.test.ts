// Named namespaces: classification by name (pure) and listing by stat (real namespaces, as root).
// Other people's labs create namespaces on this machine concurrently, so the integration tests only
// assert on the namespaces they made themselves.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyNamespace, listNamespaces } from '../src/host/netns.ts';

const isRoot = process.getuid?.() === 0;

describe('classifyNamespace', () => {
  const uuid = '3f8e5c1a-9b2d-4e6f-8a7b-1c2d3e4f5a6b';

  it('gives kind and uuid for every OpenStack prefix', () => {
    for (const kind of ['qlbaas', 'qrouter', 'qdhcp', 'snat', 'fip', 'ovnmeta'] as const) {
      assert.deepEqual(classifyNamespace(`${kind}-${uuid}`), { kind, uuid });
    }
  });

  it('knows amphora-haproxy only as an exact name', () => {
    assert.deepEqual(classifyNamespace('amphora-haproxy'), { kind: 'amphora-haproxy', uuid: null });
    assert.deepEqual(classifyNamespace('amphora-haproxy-2'), { kind: 'other', uuid: null });
  });

  it('keeps the kind but no uuid when the tail is not a UUID', () => {
    assert.deepEqual(classifyNamespace('qrouter-test'), { kind: 'qrouter', uuid: null });
    assert.deepEqual(classifyNamespace('qlbaas-'), { kind: 'qlbaas', uuid: null });
    // Upper case is not how Neutron writes ids; not trusted as one.
    assert.deepEqual(classifyNamespace(`qdhcp-${uuid.toUpperCase()}`), { kind: 'qdhcp', uuid: null });
    assert.deepEqual(classifyNamespace(`qdhcp-${uuid}-x`), { kind: 'qdhcp', uuid: null });
  });

  it('calls everything else other', () => {
    for (const name of ['lbtest-1', 'qlbaas', 'xqrouter-1', 'fipx-1', 'cni-1234', 'QLBAAS-1']) {
      assert.deepEqual(classifyNamespace(name), { kind: 'other', uuid: null }, name);
    }
  });
});

describe('listNamespaces on a fake directory', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netns-unit-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns [] for a missing directory', async () => {
    assert.deepEqual(await listNamespaces(join(dir, 'does-not-exist')), []);
  });

  it('skips plain files (a half-made `ip netns add`), directories and invalid names', async () => {
    await writeFile(join(dir, 'qlbaas-half-made'), '');
    await mkdir(join(dir, 'a-directory'));
    await writeFile(join(dir, '-n'), '');
    assert.deepEqual(await listNamespaces(dir), []);
  });
});

describe('listNamespaces on real namespaces', { skip: !isRoot && 'needs root' }, () => {
  const suffix = randomBytes(3).toString('hex');
  const plain = `lbtest-${suffix}-a`;
  const lbaasId = randomUUID();
  const lbaas = `qlbaas-${lbaasId}`;
  const routerId = randomUUID();
  const router = `qrouter-${routerId}`;
  const made = [plain, lbaas, router];
  let mountDir: string;

  before(async () => {
    for (const name of made) execFileSync('ip', ['netns', 'add', name]);
    mountDir = await mkdtemp(join(tmpdir(), 'netns-mounts-'));
  });
  after(async () => {
    try {
      execFileSync('umount', [join(mountDir, 'bound')], { stdio: 'ignore' });
    } catch {
      // not mounted (the test failed before mounting)
    }
    await rm(mountDir, { recursive: true, force: true });
    for (const name of made) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  });

  it('finds ours with their kinds, and inode/dev equal to `stat /run/netns/NAME`', async () => {
    const all = await listNamespaces();
    const names = all.map((ns) => ns.name);
    assert.deepEqual(names, [...names].sort(), 'sorted by name');
    const ours = all.filter((ns) => made.includes(ns.name));
    assert.deepEqual(ours.map((ns) => ns.name).sort(), [...made].sort());
    for (const ns of ours) {
      const [inode, dev] = execFileSync('stat', ['-c', '%i %d', `/run/netns/${ns.name}`], { encoding: 'utf8' })
        .trim()
        .split(' ')
        .map(Number);
      assert.equal(ns.inode, inode, `inode of ${ns.name}`);
      assert.equal(ns.dev, dev, `dev of ${ns.name}`);
      assert.equal(ns.path, `/run/netns/${ns.name}`);
    }
    const byName = new Map(ours.map((ns) => [ns.name, ns]));
    assert.deepEqual(pick(byName.get(plain)), { kind: 'other', uuid: null });
    assert.deepEqual(pick(byName.get(lbaas)), { kind: 'qlbaas', uuid: lbaasId });
    assert.deepEqual(pick(byName.get(router)), { kind: 'qrouter', uuid: routerId });
    // Distinct namespaces have distinct inodes.
    assert.equal(new Set(ours.map((ns) => ns.inode)).size, ours.length);
  });

  it('keeps a bind-mounted namespace and skips a plain file next to it', async () => {
    await writeFile(join(mountDir, 'bound'), '');
    execFileSync('mount', ['--bind', `/run/netns/${plain}`, join(mountDir, 'bound')]);
    await writeFile(join(mountDir, 'half-made'), '');
    const listed = await listNamespaces(mountDir);
    assert.deepEqual(listed.map((ns) => ns.name), ['bound']);
    const [real] = (await listNamespaces()).filter((ns) => ns.name === plain);
    assert.equal(listed[0]?.inode, real?.inode);
  });
});

function pick(ns: { kind: string; uuid: string | null } | undefined): { kind: string; uuid: string | null } | undefined {
  return ns && { kind: ns.kind, uuid: ns.uuid };
}
