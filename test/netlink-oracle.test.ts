// Netlink against its oracle on a real lab: for every namespace of a faulted lab (every pool
// fault, a v2 load balancer, an Octavia amphora, the member namespaces, an orphan), what
// readNamespaceNetworkNetlink reads equals what `ip -s -d -j -batch` reads, counters aside. Then
// change events from a lab namespace, an overflowing event socket, and a namespace deleted
// while watched, which only close() really frees.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readlinkSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { labUp, POOL_FAULTS } from '../src/lab/lab.ts';
import type { Lab, LabPool } from '../src/lab/lab.ts';
import { CommandGateway } from '../src/host/exec.ts';
import { DiscoveryError } from '../src/host/errors.ts';
import { readNamespaceNetwork } from '../src/host/iproute.ts';
import type { NamespaceNetwork } from '../src/host/iproute.ts';
import { listNamespaces } from '../src/host/netns.ts';
import type { NamedNamespace } from '../src/host/netns.ts';
import { NetlinkError, netlinkSupport, readNamespaceNetworkNetlink, stopNetlinkWorkers, watchNamespace } from '../src/host/netlink.ts';
import type { NetlinkChangeKind } from '../src/host/netlink.ts';
import { readNamespaceNetworkBest } from '../src/topology/readers.ts';
import { hashOfJson, knownJsonOf } from '../src/host/known-json.ts';

const run = promisify(execFile);
const gateway = new CommandGateway();
let lab: Lab;
let healthy: LabPool;
let labNamespaces: NamedNamespace[];

before(async () => {
  assert.deepEqual(netlinkSupport(), { available: true }, 'the addon is built (npm ci runs node-gyp)');
  // Other lab tests on the machine queue for the one lab at a time: wait for them.
  lab = await labUp({ v1Pools: POOL_FAULTS.length + 1, v2LoadBalancers: 1, octaviaLoadBalancers: 1, lockTimeoutMs: 40 * 60_000 });
  const v1 = lab.pools.filter((p) => p.layout === 'v1');
  healthy = v1[0]!;
  for (const [i, fault] of POOL_FAULTS.entries()) await lab.injectFault(v1[i + 1]!.poolId, fault);
  await lab.addOrphanNamespace();
  const ours = new Set([...lab.pools.map((p) => p.namespace), ...lab.pools.flatMap((p) => p.members.map((m) => m.namespace)), ...lab.orphanNamespaces]);
  labNamespaces = (await listNamespaces()).filter((ns) => ours.has(ns.name));
});

after(async () => {
  await stopNetlinkWorkers();
  await lab?.down();
});

/** Everything but the counters deep-equal; netlink read after ip, so each counter may only have grown. */
function differences(netlink: NamespaceNetwork, ip: NamespaceNetwork): string | null {
  const withoutStats = (n: NamespaceNetwork) => ({ ...n, interfaces: n.interfaces.map((i) => ({ ...i, stats: i.stats === null ? null : 'present' })) });
  try {
    assert.deepEqual(withoutStats(netlink), withoutStats(ip));
  } catch (err) {
    return (err as Error).message;
  }
  for (const [i, iface] of netlink.interfaces.entries()) {
    const before = ip.interfaces[i]!.stats!;
    for (const [key, value] of Object.entries(iface.stats ?? {})) {
      if (value < before[key as keyof typeof before]) return `${iface.name} ${key}: ${value} < ip's ${before[key as keyof typeof before]}`;
    }
  }
  return null;
}

describe('netlink equals ip -batch on a faulted lab', () => {
  it('for every namespace of the lab', async (t) => {
    assert.ok(labNamespaces.length >= lab.pools.length, `${labNamespaces.length} namespaces`);
    assert.ok(labNamespaces.some((n) => n.name === 'amphora-haproxy'));
    for (const ns of labNamespaces) {
      // A namespace the kernel is still settling (IPv6 DAD adds routes) may change between the
      // two reads; one more pair of reads settles that, a real difference stays.
      let diff: string | null = 'not compared';
      for (let attempt = 0; attempt < 3 && diff !== null; attempt++) {
        // The ip reader also records the inode of the file it entered; netlink was told which to expect.
        const { inode, ...ip } = await readNamespaceNetwork(gateway, ns.name);
        assert.equal(inode, ns.inode, `${ns.name}: ip entered the namespace that was listed`);
        const netlink = await readNamespaceNetworkNetlink(ns.name, ns.path, { expectedInode: ns.inode });
        diff = differences(netlink, ip);
      }
      assert.equal(diff, null, `${ns.name}: ${diff}`);
      // What the store records for it is the worker's JSON: exactly the observation, serialized.
      const observation = await readNamespaceNetworkBest(gateway, ns.name, { netnsDir: '/run/netns', netlink: true, timeoutMs: 10_000 });
      const known = knownJsonOf(observation);
      assert.ok(known, `${ns.name}: the netlink reader hands its JSON on`);
      assert.equal(known.json, JSON.stringify(observation), `${ns.name}: the recorded JSON is the observation's`);
      assert.equal(known.hash, hashOfJson(JSON.stringify(observation)));
    }
    t.diagnostic(`${labNamespaces.length} namespaces compared`);
  });

  it('the faults look the same: a deleted namespace is gone for both, a deleted OVS port takes its tap from both', async () => {
    const deleted = lab.pools.find((p) => p.faults.includes('delete-namespace'))!;
    await assert.rejects(readNamespaceNetwork(gateway, deleted.namespace), (e: unknown) => e instanceof DiscoveryError && e.kind === 'gone');
    await assert.rejects(readNamespaceNetworkNetlink(deleted.namespace, `/run/netns/${deleted.namespace}`), (e: unknown) => e instanceof NetlinkError && e.kind === 'gone' && e.failure === 'gone' && e.errno === 'ENOENT');
    const noPort = lab.pools.find((p) => p.faults.includes('delete-ovs-port'))!;
    const net = await readNamespaceNetworkNetlink(noPort.namespace, `/run/netns/${noPort.namespace}`);
    assert.equal(net.interfaces.some((i) => i.name === noPort.tapName), false);
    const down = lab.pools.find((p) => p.faults.includes('link-down'))!;
    const tap = (await readNamespaceNetworkNetlink(down.namespace, `/run/netns/${down.namespace}`)).interfaces.find((i) => i.name === down.tapName)!;
    assert.equal(tap.operState, 'DOWN');
    const ok = (await readNamespaceNetworkNetlink(healthy.namespace, `/run/netns/${healthy.namespace}`)).interfaces.find((i) => i.name === healthy.tapName)!;
    assert.equal(ok.macAddress, healthy.mac);
    assert.ok(ok.kind === 'tun' || ok.kind === 'openvswitch', `kind ${ok.kind}`);
  });

  it('another namespace under the listed name, a plain file, a bad name: typed errors the caller can fall back on', async () => {
    const ns = labNamespaces.find((n) => n.name === healthy.namespace)!;
    await assert.rejects(readNamespaceNetworkNetlink(ns.name, ns.path, { expectedInode: ns.inode + 1 }), (e: unknown) => e instanceof NetlinkError && e.failure === 'gone' && /another namespace/.test(e.message));
    const dir = mkdtempSync(join(tmpdir(), 'lbtnl-'));
    const plain = join(dir, 'half-made');
    writeFileSync(plain, '');
    try {
      await assert.rejects(readNamespaceNetworkNetlink('half-made', plain), (e: unknown) => e instanceof NetlinkError && e.failure === 'gone' && e.errno === 'EINVAL');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await assert.rejects(readNamespaceNetworkNetlink('../x', ns.path), (e: unknown) => e instanceof NetlinkError && /not a valid namespace name/.test(e.message));
    await assert.rejects(readNamespaceNetworkNetlink(ns.name, 'relative/path'), (e: unknown) => e instanceof NetlinkError && /absolute path/.test(e.message));
  });

  it('entering namespaces leaves the main thread in its own namespace', async () => {
    const mine = readlinkSync('/proc/thread-self/ns/net');
    await Promise.all(labNamespaces.map((ns) => readNamespaceNetworkNetlink(ns.name, ns.path)));
    assert.equal(readlinkSync('/proc/thread-self/ns/net'), mine);
    assert.equal(readlinkSync('/proc/self/ns/net'), mine);
  });
});

describe('change events', () => {
  const ipIn = (ns: string, ...args: string[]) => run('ip', ['-n', ns, ...args]);

  it('an address, a link change and a route in a lab namespace each reach the watcher (figures in the diagnostics)', async (t) => {
    const ns = healthy.namespace;
    const seen: Array<{ kind: NetlinkChangeKind; at: number }> = [];
    const errors: Error[] = [];
    const watch = watchNamespace(ns, `/run/netns/${ns}`, {
      onChange: (kind) => seen.push({ kind, at: performance.now() }),
      onOverflow: () => errors.push(new Error('overflow')),
      onError: (err) => errors.push(err),
    });
    try {
      assert.equal(await watch.ready, true);
      const changes: Array<[NetlinkChangeKind, string[], string[]]> = [
        ['address', ['addr', 'add', '10.254.1.1/32', 'dev', 'lo'], ['addr', 'del', '10.254.1.1/32', 'dev', 'lo']],
        ['link', ['link', 'set', 'lo', 'mtu', '65000'], ['link', 'set', 'lo', 'mtu', '65536']],
        ['route', ['route', 'add', '10.254.0.0/16', 'dev', 'lo', 'table', '200'], ['route', 'del', '10.254.0.0/16', 'dev', 'lo', 'table', '200']],
      ];
      for (const [kind, change, undo] of changes) {
        seen.length = 0;
        const started = performance.now();
        await ipIn(ns, ...change);
        const ended = performance.now();
        const deadline = started + 1000;
        while (!seen.some((s) => s.kind === kind) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
        const hit = seen.find((s) => s.kind === kind);
        assert.ok(hit, `${kind} change seen within 1 s`);
        t.diagnostic(`${kind}: callback ${(hit.at - started).toFixed(1)} ms after the ip command started (it ran ${(ended - started).toFixed(1)} ms)`);
        await ipIn(ns, ...undo);
      }
      assert.deepEqual(errors, []);
    } finally {
      watch.close();
    }
  });

  it('an overflowing socket (ENOBUFS) says onOverflow, and events still come after it', async () => {
    const ns = healthy.namespace;
    let overflows = 0;
    const kinds: NetlinkChangeKind[] = [];
    const watch = watchNamespace(ns, `/run/netns/${ns}`, {
      onChange: (kind) => kinds.push(kind),
      onOverflow: () => overflows++,
      onError: (err) => assert.fail(err),
    }, { receiveBufferBytes: 4096 });
    try {
      assert.equal(await watch.ready, true);
      // 400 addresses while this thread is blocked: far more than a 8 KiB queue holds.
      const batch = Array.from({ length: 400 }, (_, i) => `addr add 10.253.${i >> 8}.${i & 255}/32 dev lo`).join('\n');
      execFileSync('ip', ['-n', ns, '-batch', '-'], { input: `${batch}\n` });
      const deadline = performance.now() + 2000;
      while (overflows === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.ok(overflows >= 1, 'overflow reported');
      // onOverflow came after the addon drained the queue; libuv had stopped polling at the socket
      // error and the addon restarted it, so this still arrives.
      kinds.length = 0;
      await ipIn(ns, 'link', 'set', 'lo', 'mtu', '65001');
      const until = performance.now() + 1000;
      while (!kinds.includes('link') && performance.now() < until) await new Promise((r) => setTimeout(r, 2));
      assert.ok(kinds.includes('link'), 'events after the overflow');
      await ipIn(ns, 'link', 'set', 'lo', 'mtu', '65536');
    } finally {
      watch.close();
      // After close(): the flush overflows the queue again, which would race the check above.
      execFileSync('ip', ['-n', ns, 'addr', 'flush', 'dev', 'lo', 'to', '10.253.0.0/16']);
    }
  });

  it('a namespace deleted while watched stays alive until close(), which frees it at once', async () => {
    const id = randomBytes(3).toString('hex');
    const doomed = `lbtnl-del-${id}`;
    const witness = `lbtnl-wit-${id}`;
    execFileSync('ip', ['netns', 'add', doomed]);
    execFileSync('ip', ['netns', 'add', witness]);
    const peerExists = () => execFileSync('ip', ['-n', witness, '-j', 'link', 'show'], { encoding: 'utf8' }).includes('"vw"');
    try {
      // A veth pair across the two: the witness end lives exactly as long as the doomed namespace.
      execFileSync('ip', ['-n', doomed, 'link', 'add', 'vd', 'type', 'veth', 'peer', 'name', 'vw', 'netns', witness]);
      const watch = watchNamespace(doomed, `/run/netns/${doomed}`, { onChange() {}, onOverflow() {}, onError: (err) => assert.fail(err) });
      assert.equal(await watch.ready, true);
      execFileSync('ip', ['netns', 'del', doomed]);
      assert.equal(existsSync(`/run/netns/${doomed}`), false, 'the nsfs entry is gone');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(peerExists(), true, 'the open socket keeps the deleted namespace and its devices alive');
      const closedAt = performance.now();
      watch.close();
      watch.close();
      while (peerExists() && performance.now() - closedAt < 5000) await new Promise((r) => setTimeout(r, 10));
      assert.equal(peerExists(), false, 'after close() the namespace is freed and its veth with it');
    } finally {
      for (const ns of [doomed, witness]) {
        try {
          execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
        } catch {
          // already gone
        }
      }
    }
  });

  it('close() before the socket finished opening leaves nothing open; a missing namespace is onError', async () => {
    const ns = healthy.namespace;
    await readNamespaceNetworkNetlink(ns, `/run/netns/${ns}`); // the worker is up
    const fds = readdirSync('/proc/self/fd').length;
    const early = watchNamespace(ns, `/run/netns/${ns}`, { onChange: () => assert.fail('closed'), onOverflow() {}, onError: (err) => assert.fail(err) });
    early.close();
    assert.equal(await early.ready, false);
    assert.equal(readdirSync('/proc/self/fd').length, fds, 'the socket that arrived after close() was closed');
    const errors: Error[] = [];
    const missing = watchNamespace('lbtnl-none', '/run/netns/lbtnl-none', { onChange() {}, onOverflow() {}, onError: (err) => errors.push(err) });
    assert.equal(await missing.ready, false);
    assert.ok(errors[0] instanceof NetlinkError && errors[0].failure === 'gone');
    missing.close();
  });
});
