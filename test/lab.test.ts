// The lab is the fixture every other test trusts, so it is checked here against the host itself:
// raw `ip -j`, `ovs-vsctl --format=json`, /proc, the files, and the stats socket, never the lab's
// own helpers. Other namespaces and processes may exist on the machine (other labs, other tests):
// assertions only look at what this lab names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { labDown, labUp, type Lab, type LabPool } from '../src/lab/lab.ts';
import { labCommand } from '../src/lab/cli.ts';

const LONG = { timeout: 15 * 60_000 };

// ---- raw views of the host --------------------------------------------------------------------

async function sh(argv: string[]): Promise<string> {
  const [file, ...args] = argv;
  const result = await execa(file ?? 'false', args, { env: { LC_ALL: 'C' } });
  return String(result.stdout);
}

interface IpLink {
  ifname: string;
  flags: string[];
  address?: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
  linkinfo?: { info_kind?: string };
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  type?: string;
}

async function ipJson<T>(namespace: string | null, args: string[]): Promise<T> {
  return JSON.parse(await sh(['ip', ...(namespace ? ['-n', namespace] : []), '-j', ...args])) as T;
}

async function netnsNames(): Promise<string[]> {
  const text = await sh(['ip', '-j', 'netns', 'list']);
  return text.trim() ? (JSON.parse(text) as Array<{ name: string }>).map((entry) => entry.name) : [];
}

/** OVSDB cells: sets of one are bare atoms; maps are ["map", [[k, v]…]]. */
function ovsMap(cell: unknown): Record<string, string> {
  assert.ok(Array.isArray(cell) && cell[0] === 'map', `not an OVSDB map: ${JSON.stringify(cell)}`);
  return Object.fromEntries(cell[1] as Array<[string, string]>);
}

async function ovsRows(lab: Lab, table: string, columns: string[]): Promise<Array<Record<string, unknown>>> {
  const out = await sh(['ovs-vsctl', `--db=${lab.ovsdb}`, '--format=json', `--columns=${columns.join(',')}`, 'list', table]);
  const parsed = JSON.parse(out) as { data: unknown[][]; headings: string[] };
  return parsed.data.map((row) => Object.fromEntries(parsed.headings.map((heading, i) => [heading, row[i]])));
}

async function ovsPort(lab: Lab, name: string): Promise<{ port?: Record<string, unknown>; iface?: Record<string, unknown> }> {
  const ports = await ovsRows(lab, 'Port', ['name', 'tag', 'other_config']);
  const ifaces = await ovsRows(lab, 'Interface', ['name', 'type', 'ofport', 'error', 'external_ids']);
  return { port: ports.find((row) => row['name'] === name), iface: ifaces.find((row) => row['name'] === name) };
}

function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}
/**
 * Zombies count as dead (daemons re-parent to pid 1, which reaps them lazily here), but only once
 * every thread is gone: a SIGKILLed haproxy's leader shows Z while another thread still exits.
 */
function alive(pid: number): boolean {
  const state = procState(pid);
  if (state === null) return false;
  if (state !== 'Z' && state !== 'X') return true;
  try {
    return readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return false;
  }
}

function namespaceInode(name: string): number {
  return statSync(`/run/netns/${name}`).ino;
}
function processNamespaceInode(pid: number): number | null {
  try {
    return Number(/net:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))?.[1]);
  } catch {
    return null;
  }
}
function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}
function livePids(): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).filter(alive);
}
/** Live haproxy processes whose network namespace is `namespace`. */
function haproxiesIn(namespace: string): number[] {
  const inode = namespaceInode(namespace);
  return livePids().filter((pid) => comm(pid) === 'haproxy' && processNamespaceInode(pid) === inode);
}

function readPid(path: string): number {
  return Number(readFileSync(path, 'utf8').trim().split(/\s+/)[0]);
}

/** Wall-clock start of a process: /proc/stat btime + starttime ticks (USER_HZ 100). */
function processStartMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
  return btime * 1000 + ticks * 10;
}

function showStat(socketPath: string): Promise<Array<Record<string, string>>> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: socketPath });
    let text = '';
    socket.setTimeout(3000, () => socket.destroy(new Error('stats socket timeout')));
    socket.on('connect', () => socket.write('show stat\n'));
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      const [header, ...rows] = text.split('\n').filter((line) => line.trim());
      if (!header?.startsWith('# ')) return reject(new Error(`bad show stat: ${text.slice(0, 200)}`));
      const names = header.slice(2).split(',');
      resolve(rows.map((row) => Object.fromEntries(row.split(',').map((cell, i) => [names[i] ?? String(i), cell]))));
    });
  });
}

async function eventually(what: string, timeoutMs: number, check: () => Promise<void> | void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** The haproxy backend of a pool: its id, or `<pool_id>:<listener_id>` in Octavia's config. */
function backendOf(pool: LabPool): string {
  return pool.layout === 'octavia' ? `${pool.poolId}:${pool.frontendId}` : pool.poolId;
}

/** Members as haproxy sees them: the answering one UP after an L7OK check, the other DOWN. */
async function assertMembersAsPlanned(pool: LabPool): Promise<void> {
  const rows = await showStat(pool.socketPath);
  for (const member of pool.members) {
    const row = rows.find((candidate) => candidate['pxname'] === backendOf(pool) && candidate['svname'] === member.id);
    assert.ok(row, `no stats row for member ${member.id}`);
    if (member.answering) {
      assert.equal(row['status'], 'UP');
      assert.match(row['check_status'] ?? '', /^(\* )?L7OK/);
    } else {
      assert.match(row['status'] ?? '', /^DOWN/);
    }
  }
}

// ---- the lab under test -----------------------------------------------------------------------

let lab: Lab;

before(async () => {
  const startedAt = Date.now();
  lab = await labUp({ v1Pools: 2, v2LoadBalancers: 1 });
  console.log(`lab ${lab.dir} up in ${Date.now() - startedAt} ms`);
}, LONG);

after(async () => {
  await lab?.down();
}, LONG);

test('the lab has the planned layout and settings', () => {
  assert.equal(lab.pools.length, 3);
  assert.deepEqual(lab.pools.map((pool) => pool.layout), ['v1', 'v1', 'v2']);
  assert.match(lab.id, /^[0-9a-f]{8}$/);
  assert.equal(lab.bridge, 'br-int');
  assert.deepEqual(lab.env(), {
    LBTOPO_OVSDB: `unix:${join(lab.dir, 'ovs', 'db.sock')}`,
    LBTOPO_LBAAS_DIR: join(lab.dir, 'lbaas'),
    LBTOPO_OCTAVIA_DIR: join(lab.dir, 'octavia'),
    LBTOPO_NETNS_DIR: '/run/netns',
  });
  assert.ok(statSync(lab.octaviaDir).isDirectory());
  assert.ok(statSync(join(lab.dir, 'ovs', 'db.sock')).isSocket());
  const manifest = JSON.parse(readFileSync(join(lab.dir, 'manifest.json'), 'utf8')) as { namespaces: string[]; pools: LabPool[] };
  for (const pool of lab.pools) assert.ok(manifest.namespaces.includes(pool.namespace));
  assert.deepEqual(manifest.pools.map((pool) => pool.poolId), lab.pools.map((pool) => pool.poolId));
});

test('each pool is plugged, configured and running exactly as its LabPool says', async () => {
  const namespaces = await netnsNames();
  const bridgePorts = await sh(['ovs-vsctl', `--db=${lab.ovsdb}`, 'list-ports', 'br-int']);
  for (const pool of lab.pools) {
    // Namespace and state dir as the neutron driver names them.
    const owner = pool.layout === 'v1' ? pool.poolId : pool.loadBalancerId;
    assert.equal(pool.namespace, `qlbaas-${owner}`);
    assert.ok(namespaces.includes(pool.namespace), `${pool.namespace} missing`);
    if (pool.layout === 'v1') {
      assert.equal(pool.loadBalancerId, null);
      assert.equal(pool.stateDir, join(lab.lbaasDir, pool.poolId));
      assert.deepEqual([pool.configPath, pool.pidPath, pool.socketPath], ['conf', 'pid', 'sock'].map((name) => join(pool.stateDir, name)));
    } else {
      assert.equal(pool.stateDir, join(lab.lbaasDir, 'v2', pool.loadBalancerId ?? ''));
      assert.deepEqual(
        [pool.configPath, pool.pidPath, pool.socketPath],
        ['haproxy.conf', 'haproxy.pid', 'haproxy_stats.sock'].map((name) => join(pool.stateDir, name)),
      );
    }
    assert.equal(pool.tapName, `tap${pool.portId.slice(0, 11)}`);
    assert.match(pool.mac, /^fa:16:3e(:[0-9a-f]{2}){3}$/);

    // The tap inside the namespace: MAC, VIP/prefix, up; default route via the gateway.
    const links = await ipJson<IpLink[]>(pool.namespace, ['addr', 'show']);
    const tap = links.find((link) => link.ifname === pool.tapName);
    assert.ok(tap, `${pool.tapName} not in ${pool.namespace}`);
    assert.equal(tap.address, pool.mac);
    assert.ok(tap.flags.includes('UP'));
    assert.ok(tap.addr_info?.some((addr) => addr.family === 'inet' && addr.local === pool.vip && addr.prefixlen === pool.prefixLength));
    assert.ok(links.find((link) => link.ifname === 'lo')?.flags.includes('UP'), 'lo is up');
    const routes = await ipJson<IpRoute[]>(pool.namespace, ['route', 'show']);
    assert.ok(routes.some((route) => route.dst === 'default' && route.gateway === pool.gateway && route.dev === pool.tapName), JSON.stringify(routes));
    // Not in the root namespace any more.
    assert.ok(!existsSync(`/sys/class/net/${pool.tapName}`));

    // The OVS side: the port is on br-int with its tag, neutron's external_ids and net_uuid.
    assert.ok(bridgePorts.split('\n').includes(pool.tapName));
    const { port, iface } = await ovsPort(lab, pool.tapName);
    assert.ok(port && iface);
    assert.equal(port['tag'], pool.vlanTag);
    assert.match(ovsMap(port['other_config'])['net_uuid'] ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(iface['type'], 'internal');
    assert.ok(typeof iface['ofport'] === 'number' && iface['ofport'] > 0);
    assert.deepEqual(ovsMap(iface['external_ids']), { 'attached-mac': pool.mac, 'iface-id': pool.portId, 'iface-status': 'active' });

    // The config in the driver's form.
    const config = readFileSync(pool.configPath, 'utf8');
    const indent = pool.layout === 'v1' ? '\t' : '    ';
    if (pool.layout === 'v2') assert.ok(config.startsWith(`# Configuration for ${pool.loadBalancerId}\nglobal\n`));
    else assert.ok(config.startsWith('global\n\tdaemon\n'));
    assert.ok(config.includes(`\n${indent}stats socket ${pool.socketPath} mode 0666 level user\n`));
    assert.ok(config.includes(`\nfrontend ${pool.frontendId}\n`));
    assert.ok(config.includes(`\n${indent}bind ${pool.vip}:${pool.protocolPort}\n`));
    assert.ok(config.includes(`\nbackend ${pool.poolId}\n`));
    assert.ok(config.includes(`\n${indent}option httpchk GET /\n`));
    for (const member of pool.members) assert.ok(config.includes(`\n${indent}server ${member.id} ${member.address}:${member.port} weight 1 check`));

    // haproxy: the pid file names a live process, started as the driver starts it, inside the namespace.
    const pid = readPid(pool.pidPath);
    assert.equal(lab.haproxyPid(pool.poolId), pid);
    assert.ok(alive(pid));
    assert.deepEqual(cmdline(pid).slice(0, 5), ['haproxy', '-f', pool.configPath, '-p', pool.pidPath]);
    assert.equal(processNamespaceInode(pid), namespaceInode(pool.namespace));
    assert.deepEqual(haproxiesIn(pool.namespace), [pid]);
    assert.ok(statSync(pool.socketPath).isSocket());

    // Members: one UP, one DOWN, in the shared member namespaces on the same VLAN.
    assert.deepEqual(pool.members.map((member) => member.answering), [true, false]);
    for (const member of pool.members) assert.ok(namespaces.includes(member.namespace));
    await assertMembersAsPlanned(pool);
  }
  // Member ids are distinct per pool.
  const memberIds = lab.pools.flatMap((pool) => pool.members.map((member) => member.id));
  assert.equal(new Set(memberIds).size, memberIds.length);
});

test('faults leave the host in exactly the state they name', LONG, async () => {
  const [a, b, c] = lab.pools as [LabPool, LabPool, LabPool];
  const manifestFaults = (): Array<{ poolId: string; fault: string }> =>
    (JSON.parse(readFileSync(join(lab.dir, 'manifest.json'), 'utf8')) as { faults: Array<{ poolId: string; fault: string }> }).faults;

  // --- on the v2 load balancer ---
  const cPid = readPid(c.pidPath);
  await lab.injectFault(c.poolId, 'members-down');
  assert.ok(c.members.every((member) => !member.answering));
  await eventually('both members of the pool DOWN', 15_000, async () => {
    const rows = (await showStat(c.socketPath)).filter((row) => row['pxname'] === c.poolId && row['type'] === '2');
    assert.equal(rows.length, 2);
    for (const row of rows) assert.match(row['status'] ?? '', /^DOWN/);
  });
  assert.equal(readPid(c.pidPath), cPid, 'members-down keeps the same haproxy');
  // Other pools' members are unaffected.
  await assertMembersAsPlanned(a);

  await lab.injectFault(c.poolId, 'config-newer');
  const configMtime = statSync(c.configPath).mtimeMs;
  assert.ok(configMtime > processStartMs(cPid) + 1000, 'config mtime is after haproxy started');
  assert.ok(readFileSync(c.configPath, 'utf8').startsWith(`# Configuration for ${c.loadBalancerId}\n`));

  await lab.injectFault(c.poolId, 'multiple-haproxy');
  const both = haproxiesIn(c.namespace);
  assert.equal(both.length, 2, `two haproxy in ${c.namespace}: ${both.join(' ')}`);
  assert.ok(both.includes(cPid));
  for (const pid of both) assert.ok(cmdline(pid).includes(c.configPath));
  assert.equal(lab.haproxyPid(c.poolId), cPid);

  await lab.injectFault(c.poolId, 'stats-socket-removed');
  assert.ok(!existsSync(c.socketPath));
  assert.ok(alive(cPid));

  await lab.injectFault(c.poolId, 'iface-id-mismatch');
  const mismatched = ovsMap((await ovsPort(lab, c.tapName)).iface?.['external_ids']);
  assert.notEqual(mismatched['iface-id'], c.portId);
  assert.match(mismatched['iface-id'] ?? '', /^[0-9a-f-]{36}$/);

  await lab.injectFault(c.poolId, 'dead-vlan');
  assert.equal((await ovsPort(lab, c.tapName)).port?.['tag'], 4095);

  // --- on the second v1 pool ---
  await lab.injectFault(b.poolId, 'no-default-route');
  let routes = await ipJson<IpRoute[]>(b.namespace, ['route', 'show']);
  assert.ok(!routes.some((route) => route.dst === 'default'), JSON.stringify(routes));
  assert.ok(routes.some((route) => route.dst === '10.77.0.0/16' && route.dev === b.tapName));

  await lab.injectFault(b.poolId, 'link-down');
  let bLinks = await ipJson<IpLink[]>(b.namespace, ['addr', 'show']);
  assert.ok(!bLinks.find((link) => link.ifname === b.tapName)?.flags.includes('UP'));

  await lab.injectFault(b.poolId, 'vip-address-removed');
  bLinks = await ipJson<IpLink[]>(b.namespace, ['addr', 'show']);
  const bTap = bLinks.find((link) => link.ifname === b.tapName);
  assert.ok(bTap, 'the tap stays');
  assert.ok(!bTap.addr_info?.some((addr) => addr.local === b.vip));

  await lab.injectFault(b.poolId, 'ovs-interface-error');
  const broken = await ovsPort(lab, b.tapName);
  assert.equal(broken.iface?.['ofport'], -1);
  assert.match(String(broken.iface?.['error']), /could not open network device/);
  assert.equal(broken.iface?.['type'], '');
  assert.equal(broken.port?.['tag'], b.vlanTag);
  assert.equal(ovsMap(broken.iface?.['external_ids'])['iface-id'], b.portId);
  bLinks = await ipJson<IpLink[]>(b.namespace, ['-d', 'addr', 'show']);
  const stand = bLinks.find((link) => link.ifname === b.tapName);
  assert.ok(stand, 'a device of the tap name is still in the namespace');
  assert.equal(stand.address, b.mac);
  assert.ok(!existsSync(`/sys/class/net/${b.tapName}`), 'and none in the root namespace');

  const bPid = readPid(b.pidPath);
  await lab.injectFault(b.poolId, 'haproxy-outside-namespace');
  assert.ok(!alive(bPid));
  const movedPid = readPid(b.pidPath);
  assert.notEqual(movedPid, bPid);
  assert.ok(alive(movedPid));
  assert.equal(lab.haproxyPid(b.poolId), movedPid);
  assert.deepEqual(cmdline(movedPid).slice(0, 5), ['haproxy', '-f', b.configPath, '-p', b.pidPath]);
  assert.deepEqual(haproxiesIn(b.namespace), []);
  const wrongNamespace = `lbtw-${lab.id}-wrong`;
  assert.equal(processNamespaceInode(movedPid), namespaceInode(wrongNamespace));
  const wrongLinks = await ipJson<IpLink[]>(wrongNamespace, ['addr', 'show']);
  assert.ok(wrongLinks.some((link) => link.addr_info?.some((addr) => addr.local === b.vip)));

  // --- on the first v1 pool ---
  const aPid = readPid(a.pidPath);
  await lab.injectFault(a.poolId, 'kill-haproxy');
  assert.ok(!alive(aPid));
  assert.equal(readPid(a.pidPath), aPid, 'the stale pid file stays');
  assert.ok(statSync(a.socketPath).isSocket(), 'and so does the dead socket file');
  await assert.rejects(showStat(a.socketPath), /ECONNREFUSED/);
  assert.equal(lab.haproxyPid(a.poolId), null);
  assert.deepEqual(haproxiesIn(a.namespace), []);

  await lab.injectFault(a.poolId, 'delete-ovs-port');
  assert.ok(!(await sh(['ovs-vsctl', `--db=${lab.ovsdb}`, 'list-ports', 'br-int'])).split('\n').includes(a.tapName));
  assert.equal((await ovsPort(lab, a.tapName)).iface, undefined);
  const aLinks = await ipJson<IpLink[]>(a.namespace, ['link', 'show']);
  assert.ok(!aLinks.some((link) => link.ifname === a.tapName), 'the tap went with the port');

  await lab.injectFault(a.poolId, 'delete-namespace');
  assert.ok(!(await netnsNames()).includes(a.namespace));
  assert.ok(existsSync(a.configPath) && existsSync(a.pidPath), 'the state dir stays');

  // Every fault is on its LabPool and in the manifest.
  assert.deepEqual(a.faults, ['kill-haproxy', 'delete-ovs-port', 'delete-namespace']);
  assert.deepEqual(b.faults, ['no-default-route', 'link-down', 'vip-address-removed', 'ovs-interface-error', 'haproxy-outside-namespace']);
  assert.deepEqual(c.faults, ['members-down', 'config-newer', 'multiple-haproxy', 'stats-socket-removed', 'iface-id-mismatch', 'dead-vlan']);
  assert.equal(manifestFaults().length, 14);
  assert.deepEqual(new Set(manifestFaults().map((record) => record.fault)).size, 14);
});

test('orphans: a qlbaas namespace without state dir, an OVS port without device', async () => {
  const namespace = await lab.addOrphanNamespace();
  assert.match(namespace, /^qlbaas-[0-9a-f-]{36}$/);
  assert.ok((await netnsNames()).includes(namespace));
  const id = namespace.slice('qlbaas-'.length);
  assert.ok(!existsSync(join(lab.lbaasDir, id)) && !existsSync(join(lab.lbaasDir, 'v2', id)));
  assert.deepEqual(lab.orphanNamespaces, [namespace]);

  const portName = await lab.addOrphanOvsPort();
  assert.match(portName, /^tap[0-9a-f-]{11}$/);
  const { port, iface } = await ovsPort(lab, portName);
  assert.ok(port && iface);
  assert.equal(iface['ofport'], -1);
  assert.match(String(iface['error']), /No such device/);
  assert.ok(!existsSync(`/sys/class/net/${portName}`));
  assert.deepEqual(lab.orphanOvsPorts, [portName]);
});

test('down() leaves nothing of the lab behind, and is idempotent', LONG, async () => {
  const manifest = JSON.parse(readFileSync(join(lab.dir, 'manifest.json'), 'utf8')) as {
    namespaces: string[];
    ovsPorts: string[];
    processes: Array<{ role: string; pid: number | null }>;
  };
  const pids = new Set<number>(manifest.processes.map((record) => record.pid).filter((pid): pid is number => pid !== null));
  for (const pidFile of ['ovsdb-server.pid', 'vswitchd.pid']) pids.add(readPid(join(lab.dir, 'ovs', pidFile)));
  for (const pool of lab.pools) if (existsSync(pool.pidPath)) pids.add(readPid(pool.pidPath));
  const namespaces = [...manifest.namespaces, `lbtw-${lab.id}-wrong`, ...lab.orphanNamespaces];
  assert.ok(pids.size >= 8);

  const startedAt = Date.now();
  await lab.down();
  console.log(`lab down in ${Date.now() - startedAt} ms`);
  await lab.down();
  await labDown(lab.dir);

  await assertNothingLeft(lab.dir, namespaces, manifest.ovsPorts, [...pids]);
});

async function assertNothingLeft(dir: string, namespaces: string[], ovsPorts: string[], pids: number[]): Promise<void> {
  assert.ok(!existsSync(dir), `${dir} is gone`);
  const left = new Set(await netnsNames());
  assert.deepEqual(namespaces.filter((name) => left.has(name)), []);
  assert.deepEqual(pids.filter(alive), [], 'no lab process runs');
  assert.deepEqual(livePids().filter((pid) => cmdline(pid).some((arg) => arg.includes(dir))), [], 'no process names the lab dir');
  const rootLinks = (await ipJson<IpLink[]>(null, ['link', 'show'])).map((link) => link.ifname);
  assert.deepEqual(ovsPorts.filter((name) => rootLinks.includes(name)), []);
  // br-int/ovs-netdev may exist only if another lab (another test process) holds the lock now.
  if (rootLinks.includes('br-int') || rootLinks.includes('ovs-netdev')) {
    const owner = readFileSync('/run/lbtopo-lab.lock', 'utf8').trim();
    assert.ok(owner && !owner.includes(dir), `br-int is left and the lock names no other lab: ${owner}`);
  }
  const lock = existsSync('/run/lbtopo-lab.lock') ? readFileSync('/run/lbtopo-lab.lock', 'utf8') : '';
  assert.ok(!lock.includes(dir), 'the lock no longer names the lab');
}

test('labDown(dir) cleans up a lab whose maker was SIGKILLed', LONG, async () => {
  const script = [
    "const { labUp } = await import('./src/lab/lab.ts');",
    'const lab = await labUp({ v1Pools: 1, v2LoadBalancers: 1 });',
    'console.log(JSON.stringify({ dir: lab.dir }));',
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const child = execa(process.execPath, ['--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '..'),
    reject: false,
    buffer: false,
  });
  const dir = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n').find((candidate) => candidate.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { dir: string }).dir);
    });
    child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    void child.then((result) => reject(new Error(`the child exited before its lab was up (${result.exitCode})`)));
  });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    namespaces: string[];
    ovsPorts: string[];
    processes: Array<{ pid: number | null }>;
  };
  const pids = manifest.processes.map((record) => record.pid).filter((pid): pid is number => pid !== null);
  child.kill('SIGKILL');
  await child;
  // The crash left the lab up (unless another lab maker already took the freed lock and cleaned it).
  assert.ok(pids.length >= 6);

  await labDown(dir);
  await labDown(dir); // idempotent
  await assertNothingLeft(dir, manifest.namespaces, manifest.ovsPorts, pids);
});

test('lbtopo lab: usage errors exit 2', async (t) => {
  const messages: string[] = [];
  t.mock.method(process.stderr, 'write', (text: string | Uint8Array) => {
    messages.push(String(text));
    return true;
  });
  assert.equal(await labCommand(['up', '--pools', 'many']), 2);
  assert.equal(await labCommand(['up', '--fault', '0:no-such-fault']), 2);
  assert.equal(await labCommand(['up', '--pools', '1', '--v2', '0', '--fault', '3:kill-haproxy']), 2);
  assert.equal(await labCommand(['up', '--bogus']), 2);
  assert.equal(await labCommand(['up', '--octavia', '2']), 2);
  assert.equal(await labCommand(['up', '--pools', '1', '--v2', '0', '--octavia', '1', '--fault', '2:kill-haproxy']), 2);
  assert.equal(await labCommand(['down']), 2);
  assert.equal(await labCommand(['sideways']), 2);
  assert.equal(await labCommand([]), 2);
  assert.ok(messages.every((message) => message.includes('usage:')));
});

// ---- an Octavia amphora (its own lab: the main one is down by now) ----------------------------

test('octaviaLoadBalancers: more than one is a RangeError (amphora-haproxy is a fixed name)', async () => {
  await assert.rejects(labUp({ v1Pools: 0, v2LoadBalancers: 0, octaviaLoadBalancers: 2 }), (error: Error) => error instanceof RangeError && /amphora-haproxy/.test(error.message));
});

test('an amphora-haproxy the lab did not make is refused and left alone', LONG, async (t) => {
  if ((await netnsNames()).includes('amphora-haproxy')) return t.skip('amphora-haproxy exists on this machine already');
  await sh(['ip', 'netns', 'add', 'amphora-haproxy']);
  try {
    await assert.rejects(labUp({ v1Pools: 0, v2LoadBalancers: 0, octaviaLoadBalancers: 1 }), /namespace amphora-haproxy already exists and no lab made it/);
    assert.ok((await netnsNames()).includes('amphora-haproxy'), 'the failed lab did not delete it');
  } finally {
    await sh(['ip', 'netns', 'del', 'amphora-haproxy']);
  }
});

test('an Octavia amphora: amphora-haproxy, eth1 with the VIP, haproxy as the amphora runs it, faults, teardown', LONG, async () => {
  const startedAt = Date.now();
  const amphoraLab = await labUp({ v1Pools: 0, v2LoadBalancers: 0, octaviaLoadBalancers: 1 });
  console.log(`octavia lab ${amphoraLab.dir} up in ${Date.now() - startedAt} ms`);
  try {
    assert.equal(amphoraLab.pools.length, 1);
    const pool = amphoraLab.pools[0]!;
    const lbId = pool.loadBalancerId ?? '';
    assert.equal(pool.layout, 'octavia');
    assert.match(lbId, /^[0-9a-f-]{36}$/);
    assert.equal(pool.namespace, 'amphora-haproxy');
    assert.deepEqual(
      [pool.stateDir, pool.configPath, pool.pidPath, pool.socketPath],
      [join(amphoraLab.octaviaDir, lbId), join(amphoraLab.octaviaDir, lbId, 'haproxy.cfg'), join(amphoraLab.octaviaDir, lbId, `${lbId}.pid`), join(amphoraLab.octaviaDir, `${lbId}.sock`)],
    );
    const manifest = JSON.parse(readFileSync(join(amphoraLab.dir, 'manifest.json'), 'utf8')) as { namespaces: string[]; ovsPorts: string[] };
    assert.ok(manifest.namespaces.includes('amphora-haproxy'));
    assert.ok((await netnsNames()).includes('amphora-haproxy'));

    // eth1 in the namespace: the VIP NIC, renamed from the tap its OVS port is named after.
    assert.equal(pool.tapName, 'eth1');
    assert.equal(pool.ovsPortName, `tap${pool.portId.slice(0, 11)}`);
    assert.match(pool.mac, /^fa:16:3e(:[0-9a-f]{2}){3}$/);
    const links = await ipJson<IpLink[]>('amphora-haproxy', ['addr', 'show']);
    assert.deepEqual(links.map((link) => link.ifname).sort(), ['eth1', 'lo']);
    const eth1 = links.find((link) => link.ifname === 'eth1')!;
    assert.equal(eth1.address, pool.mac);
    assert.ok(eth1.flags.includes('UP'));
    assert.ok(eth1.addr_info?.some((addr) => addr.family === 'inet' && addr.local === pool.vip && addr.prefixlen === pool.prefixLength));
    assert.ok(links.find((link) => link.ifname === 'lo')?.flags.includes('UP'), 'lo is up');
    const routes = await ipJson<IpRoute[]>('amphora-haproxy', ['route', 'show']);
    assert.ok(routes.some((route) => route.dst === 'default' && route.gateway === pool.gateway && route.dev === 'eth1'), JSON.stringify(routes));
    assert.ok(!existsSync(`/sys/class/net/${pool.ovsPortName}`), 'the tap is not in the root namespace');

    // Its OVS port on br-int, under the tap name, with the lab VLAN and neutron's external_ids.
    const { port, iface } = await ovsPort(amphoraLab, pool.ovsPortName);
    assert.ok(port && iface);
    assert.equal(port['tag'], pool.vlanTag);
    assert.equal(iface['type'], 'internal');
    assert.ok(typeof iface['ofport'] === 'number' && iface['ofport'] > 0);
    assert.deepEqual(ovsMap(iface['external_ids']), { 'attached-mac': pool.mac, 'iface-id': pool.portId, 'iface-status': 'active' });

    // The config in Octavia's combined-listeners form.
    const backend = `${pool.poolId}:${pool.frontendId}`;
    const config = readFileSync(pool.configPath, 'utf8');
    assert.ok(config.startsWith(`# Configuration for loadbalancer ${lbId}\nglobal\n    daemon\n`));
    assert.ok(config.includes(`\n    stats socket ${pool.socketPath} mode 0666 level user\n`));
    assert.ok(config.includes(`\nfrontend ${pool.frontendId}\n`));
    assert.ok(config.includes(`\n    bind ${pool.vip}:${pool.protocolPort}\n`));
    assert.ok(config.includes(`\n    default_backend ${backend}\n`));
    assert.ok(config.includes(`\nbackend ${backend}\n`));
    assert.ok(config.includes('\n    option httpchk GET /\n'));
    for (const member of pool.members) assert.ok(config.includes(`\n    server ${member.id} ${member.address}:${member.port} weight 1 check inter 1s`));

    // haproxy: the pid file names a live process started as the amphora starts it, in amphora-haproxy.
    const pid = readPid(pool.pidPath);
    assert.equal(amphoraLab.haproxyPid(pool.poolId), pid);
    assert.ok(alive(pid));
    assert.deepEqual(cmdline(pid).slice(0, 5), ['haproxy', '-f', pool.configPath, '-p', pool.pidPath]);
    assert.equal(processNamespaceInode(pid), namespaceInode('amphora-haproxy'));
    assert.deepEqual(haproxiesIn('amphora-haproxy'), [pid]);
    assert.ok(statSync(pool.socketPath).isSocket());
    await assertMembersAsPlanned(pool);

    // Faults: members-down, link-down, kill-haproxy.
    await amphoraLab.injectFault(pool.poolId, 'members-down');
    const servers = (await showStat(pool.socketPath)).filter((row) => row['pxname'] === backend && row['type'] === '2');
    assert.equal(servers.length, 2);
    for (const row of servers) assert.match(row['status'] ?? '', /^DOWN/);
    assert.equal(readPid(pool.pidPath), pid);
    await amphoraLab.injectFault(pool.poolId, 'link-down');
    const down = (await ipJson<IpLink[]>('amphora-haproxy', ['link', 'show'])).find((link) => link.ifname === 'eth1');
    assert.ok(down && !down.flags.includes('UP'));
    await amphoraLab.injectFault(pool.poolId, 'kill-haproxy');
    assert.ok(!alive(pid));
    assert.equal(readPid(pool.pidPath), pid, 'the stale pid file stays');
    await assert.rejects(showStat(pool.socketPath), /ECONNREFUSED/);
    assert.deepEqual(haproxiesIn('amphora-haproxy'), []);

    const pids = [pid, ...(JSON.parse(readFileSync(join(amphoraLab.dir, 'manifest.json'), 'utf8')) as { processes: Array<{ pid: number | null }> }).processes.flatMap((record) => (record.pid === null ? [] : [record.pid]))];
    await amphoraLab.down();
    assert.ok(!(await netnsNames()).includes('amphora-haproxy'), 'amphora-haproxy is gone');
    await assertNothingLeft(amphoraLab.dir, manifest.namespaces, manifest.ovsPorts, pids);
  } finally {
    await amphoraLab.down();
  }
});
