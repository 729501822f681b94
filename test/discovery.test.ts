// Host discovery against a real lab, module by module (no GraphQL): what each probe sees on a
// healthy pool, and what it sees for each fault.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { labUp, POOL_FAULTS } from '../src/lab/lab.ts';
import type { Lab, LabPool, PoolFault } from '../src/lab/lab.ts';
import { CommandGateway } from '../src/host/exec.ts';
import { listNamespaces } from '../src/host/netns.ts';
import { scanProcesses, identify } from '../src/host/procfs.ts';
import { readNamespaceNetwork } from '../src/host/iproute.ts';
import type { NamespaceNetwork } from '../src/host/iproute.ts';
import { readOvsSnapshot } from '../src/host/ovs.ts';
import type { OvsSnapshot } from '../src/host/ovs.ts';
import { listLbaasDeployments } from '../src/host/lbaas-state.ts';
import { queryHaproxyStats } from '../src/host/haproxy-stats.ts';
import type { StatRow } from '../src/host/haproxy-stats.ts';
import { DiscoveryError } from '../src/host/errors.ts';
import { ipNetnsIdentify } from './support.ts';

let lab: Lab;
let healthy: LabPool;
const faulted = new Map<PoolFault, LabPool>();
const FAULTS: readonly PoolFault[] = POOL_FAULTS;
const gateway = new CommandGateway();

before(async () => {
  lab = await labUp({ v1Pools: FAULTS.length + 1, v2LoadBalancers: 1 });
  const v1 = lab.pools.filter((p) => p.layout === 'v1');
  healthy = v1[0]!;
  for (const [i, fault] of FAULTS.entries()) {
    const pool = v1[i + 1]!;
    await lab.injectFault(pool.poolId, fault);
    faulted.set(fault, pool);
  }
});

after(async () => {
  await lab?.down();
});

const network = (pool: LabPool) => readNamespaceNetwork(gateway, pool.namespace);
const tapOf = (net: NamespaceNetwork, pool: LabPool) => net.interfaces.find((i) => i.name === pool.tapName);
let ovs: OvsSnapshot;
const ovsPort = async (pool: LabPool) => {
  ovs ??= await readOvsSnapshot(gateway, lab.ovsdb);
  return ovs.ports.find((p) => p.name === pool.tapName) ?? null;
};

test('state dirs: every lab pool with its layout, files and pid file', async () => {
  const deployments = await listLbaasDeployments({ lbaasDir: lab.lbaasDir, octaviaDir: lab.octaviaDir });
  for (const pool of lab.pools) {
    const d = deployments.find((x) => x.configPath === pool.configPath);
    assert.ok(d, pool.poolId);
    assert.equal(d.layout, pool.layout);
    assert.equal(d.namespace, pool.namespace);
    assert.equal(d.socketPath, pool.socketPath);
    const backend = d.config!.backends.find((b) => b.poolId === pool.poolId)!;
    assert.deepEqual(backend.servers.map((s) => [s.id, s.address, s.port]).sort(), pool.members.map((m) => [m.id, m.address, m.port]).sort());
    if (pool.layout === 'v2') assert.equal(d.id, pool.loadBalancerId);
  }
  const h = deployments.find((x) => x.id === healthy.poolId)!;
  assert.deepEqual(h.pids, [lab.haproxyPid(healthy.poolId)], 'haproxy pid equals the pid file');
  const killed = deployments.find((x) => x.id === faulted.get('kill-haproxy')!.poolId)!;
  assert.equal(killed.pids.length, 1, 'the stale pid file stays');
  const named = (await scanProcesses()).find((p) => p.pid === killed.pids[0]);
  assert.ok(!named || named.state === 'Z' || named.comm !== 'haproxy', 'but names no running haproxy');
  assert.ok(deployments.some((x) => x.id === faulted.get('delete-namespace')!.poolId), 'a deleted namespace leaves its state dir');
});

test('namespaces: each pool namespace with kind qlbaas, the pool uuid and the nsfs inode', async () => {
  const namespaces = await listNamespaces();
  for (const pool of lab.pools) {
    const ns = namespaces.find((n) => n.name === pool.namespace);
    if (pool === faulted.get('delete-namespace')) {
      assert.equal(ns, undefined);
      continue;
    }
    assert.ok(ns, pool.namespace);
    assert.equal(ns.kind, 'qlbaas');
    assert.equal(ns.uuid, pool.layout === 'v1' ? pool.poolId : pool.loadBalancerId);
    assert.equal(ns.inode, statSync(`/run/netns/${pool.namespace}`).ino);
  }
});

test('a healthy pool: tap, MAC, VIP/prefix, default route, OVS bridge, tag and iface-id', async () => {
  for (const pool of [healthy, lab.pools.find((p) => p.layout === 'v2')!]) {
    assert.equal(pool.tapName, `tap${pool.portId.slice(0, 11)}`);
    const net = await network(pool);
    const tap = tapOf(net, pool)!;
    assert.ok(tap, 'the tap is in the namespace');
    assert.equal(tap.macAddress, pool.mac);
    assert.match(pool.mac, /^fa:16:3e:/);
    // An OVS internal port: 'openvswitch' with the kernel datapath; the lab's user-space (netdev)
    // datapath makes it a tap device, which the kernel reports as 'tun'.
    assert.ok(tap.kind === 'openvswitch' || tap.kind === 'tun', `kind ${tap.kind}`);
    assert.ok(tap.flags.includes('UP'));
    assert.deepEqual(tap.addresses.filter((a) => a.family === 'inet').map((a) => [a.address, a.prefixLength]), [[pool.vip, pool.prefixLength]]);
    assert.ok(tap.stats && tap.stats.txPackets >= 0);
    const def = net.routes.find((r) => r.family === 'inet' && r.destination === 'default' && r.table === 'main');
    assert.equal(def?.gateway, pool.gateway);
    assert.equal(def?.device, pool.tapName);
    const port = (await ovsPort(pool))!;
    assert.equal(port.bridge, 'br-int');
    assert.equal(port.tag, pool.vlanTag);
    assert.equal(port.interfaces[0]!.type, 'internal');
    assert.equal(port.interfaces[0]!.externalIds['iface-id'], pool.portId);
    assert.equal(port.interfaces[0]!.externalIds['attached-mac'], pool.mac);
    assert.ok((port.interfaces[0]!.ofport ?? 0) > 0);
  }
});

test('a healthy pool: its haproxy is the pid-file process, in its namespace, and members are UP/DOWN', async () => {
  const processes = await scanProcesses();
  const pid = lab.haproxyPid(healthy.poolId)!;
  const proc = processes.find((p) => p.pid === pid)!;
  assert.equal(proc.comm, 'haproxy');
  assert.ok(proc.argv.includes(healthy.configPath));
  const namespaces = await listNamespaces();
  assert.equal(proc.netnsInode, namespaces.find((n) => n.name === healthy.namespace)!.inode);
  assert.deepEqual(await identify(pid), ipNetnsIdentify(pid));
  const stats = await queryHaproxyStats(healthy.socketPath);
  if (!stats.reachable) assert.fail(`stats socket: ${stats.error}`);
  for (const m of healthy.members) {
    const row: StatRow = stats.rows.find((r) => r.type === 'server' && r.svname === m.id)!;
    assert.equal(row.pxname, healthy.poolId);
    assert.equal(row.status, m.answering ? 'UP' : 'DOWN');
  }
});

test('faults, as discovery sees them', async () => {
  const processes = await scanProcesses();
  const namespaces = await listNamespaces();
  const haproxyOn = (pool: LabPool) => processes.filter((p) => p.comm === 'haproxy' && p.argv.includes(pool.configPath));

  assert.deepEqual(haproxyOn(faulted.get('kill-haproxy')!), [], 'kill-haproxy: no haproxy on the config');
  await assert.rejects(network(faulted.get('delete-namespace')!), (e: unknown) => e instanceof DiscoveryError && e.kind === 'gone');

  const noPort = faulted.get('delete-ovs-port')!;
  assert.equal(await ovsPort(noPort), null);
  assert.equal(tapOf(await network(noPort), noPort), undefined, 'the internal port device went with it');

  assert.equal((await ovsPort(faulted.get('dead-vlan')!))!.tag, 4095);
  const down = faulted.get('link-down')!;
  const downTap = tapOf(await network(down), down)!;
  assert.equal(downTap.operState, 'DOWN');
  assert.ok(!downTap.flags.includes('UP'));
  const noRoute = faulted.get('no-default-route')!;
  assert.ok(!(await network(noRoute)).routes.some((r) => r.destination === 'default' && r.family === 'inet'));

  const newer = faulted.get('config-newer')!;
  const newerProc = haproxyOn(newer)[0]!;
  assert.ok(statSync(newer.configPath).mtimeMs > newerProc.startedAt, 'config changed after haproxy started');

  const sockGone = faulted.get('stats-socket-removed')!;
  assert.equal(haproxyOn(sockGone).length, 1, 'haproxy still runs');
  const sockResult = await queryHaproxyStats(sockGone.socketPath);
  assert.equal(sockResult.reachable, false);
  assert.equal(!sockResult.reachable && sockResult.reason, 'missing');

  const noVip = faulted.get('vip-address-removed')!;
  assert.ok(!tapOf(await network(noVip), noVip)!.addresses.some((a) => a.address === noVip.vip));

  const mismatch = faulted.get('iface-id-mismatch')!;
  assert.notEqual((await ovsPort(mismatch))!.interfaces[0]!.externalIds['iface-id'], mismatch.portId);

  const ifaceError = faulted.get('ovs-interface-error')!;
  const errPort = (await ovsPort(ifaceError))!;
  assert.equal(errPort.interfaces[0]!.ofport, -1);
  assert.match(errPort.interfaces[0]!.error ?? '', /could not open network device/);

  const membersDown = faulted.get('members-down')!;
  const mdStats = await queryHaproxyStats(membersDown.socketPath);
  if (!mdStats.reachable) assert.fail(`stats socket: ${mdStats.error}`);
  const serverRows = mdStats.rows.filter((r) => r.type === 'server');
  assert.ok(serverRows.length > 0 && serverRows.every((r) => r.status === 'DOWN'), 'every member DOWN');

  assert.equal(haproxyOn(faulted.get('multiple-haproxy')!).length, 2, 'two haproxy on one config');

  const outside = faulted.get('haproxy-outside-namespace')!;
  const [outsideProc] = haproxyOn(outside);
  assert.ok(outsideProc);
  const home = namespaces.find((n) => n.name === outside.namespace)!;
  assert.notEqual(outsideProc.netnsInode, home.inode, 'its haproxy runs in another namespace');
});

test('an orphan namespace and an orphan OVS port are seen as such', async () => {
  const orphanNs = await lab.addOrphanNamespace();
  const orphanPort = await lab.addOrphanOvsPort();
  const namespaces = await listNamespaces();
  assert.equal(namespaces.find((n) => n.name === orphanNs)?.kind, 'qlbaas');
  const deployments = await listLbaasDeployments({ lbaasDir: lab.lbaasDir, octaviaDir: lab.octaviaDir });
  assert.ok(!deployments.some((d) => d.namespace === orphanNs), 'no state dir names it');
  const snapshot = await readOvsSnapshot(gateway, lab.ovsdb);
  const port = snapshot.ports.find((p) => p.name === orphanPort)!;
  assert.equal(port.interfaces[0]!.ofport, -1);
});
