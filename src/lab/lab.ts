// The test lab: a real neutron-lbaas network node on this machine. OVS in user space with br-int,
// one qlbaas-<id> namespace per v1 pool / v2 load balancer with its VIP tap plugged as neutron plugs
// it, haproxy running in it as the namespace driver runs it, and members that really answer (or
// not). Optionally one Octavia amphora's view too: namespace amphora-haproxy with its VIP NIC eth1
// (wired to br-int, standing in for the amphora's port on its compute host) and haproxy as the
// amphora runs it. Everything the lab makes is listed in its manifest before it is made, so
// labDown(dir) undoes a lab even after its maker crashed.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { mapLimit, run, sleep, tryRun, waitFor } from './exec.ts';
import { injectPoolFault } from './faults.ts';
import { amphoraEnv, amphoraHoldsVip, buildAmphoraPair, injectAmphoraFault, planAmphoraPair, type AmphoraFault, type LabAmphora, type LabAmphoraPair } from './amphora-pair.ts';
import { octaviaConfig, showStat, startHaproxy, v1Config, v2Config } from './haproxy.ts';
import { acquireLabLock, clearLockOwner, killOrphanHolderChild, readLabLockOwner, stopHolder, type HeldLabLock } from './lock.ts';
import { addUnique, saveManifest, type LabManifest, type LabProcessRecord } from './manifest.ts';
import { BRIDGE, DATAPATH_DEVICES, ovsPaths, parseOvsTable, startOvs, vsctl, waitForRootDevices } from './ovs.ts';
import {
  AMPHORA_NAMESPACE,
  DEFAULT_BASE_DIR,
  MAX_POOLS,
  MEMBER_PORT,
  addPortArgs,
  expectedServerProblems,
  newLabId,
  planMembers,
  planPools,
  plugLines,
  poolPort,
  tapNameFor,
  neutronMac,
  type LabState,
  type PlannedPort,
} from './plan.ts';
import { NETNS_DIR, identify, isAlive, processCmdline, processStartTime, type ProcessIdentity } from './proc.ts';
import { labDirsUnder, teardownLab } from './teardown.ts';
import type { Lab, LabOptions, LabPool, PoolFault } from './types.ts';

export type { Lab, LabMember, LabOptions, LabPool, PoolFault } from './types.ts';
export type { AmphoraFault, LabAmphora, LabAmphoraPair } from './amphora-pair.ts';
export { POOL_FAULTS, isPoolFault } from './types.ts';
export { DEFAULT_BASE_DIR } from './plan.ts';

const DEFAULT_LOCK_TIMEOUT_MS = 10 * 60_000;
/** unix socket paths (sun_path) hold 107 bytes plus NUL; haproxy binds "<path>.<pid>.tmp" first. */
const MAX_SOCKET_PATH = 107 - '.4194304.tmp'.length;
/**
 * One command per core. Measured with 100 pools on 2 cores: starting the haproxys took 7.0 s one
 * at a time, 3.7 s two at a time, but 6.6 s four and 8.3 s eight at a time (each start costs about
 * 70 ms of CPU, so oversubscribing the cores only adds contention).
 */
const PARALLEL_COMMANDS = Math.max(1, availableParallelism());

/** Labs this process has up, by dir: labDown(dir) on one of them is its own down(). */
const liveLabs = new Map<string, LabHandle>();

const timingEnabled = process.env['LBTOPO_LAB_TIMING'] === '1';
function timing(label: string, startedAt: number): void {
  if (timingEnabled) process.stderr.write(`[lab] ${label}: ${Date.now() - startedAt} ms\n`);
}

export async function labUp(options: LabOptions = {}): Promise<Lab> {
  const v1Count = options.v1Pools ?? 3;
  const v2Count = options.v2LoadBalancers ?? 1;
  const octaviaCount = options.octaviaLoadBalancers ?? 0;
  for (const [name, value] of [['v1Pools', v1Count], ['v2LoadBalancers', v2Count], ['octaviaLoadBalancers', octaviaCount]] as const) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number >= 0, got ${value}`);
  }
  if (octaviaCount > 1) {
    throw new RangeError(`octaviaLoadBalancers must be 0 or 1, got ${octaviaCount}: an amphora's namespace is always named ${AMPHORA_NAMESPACE}, so a host holds one`);
  }
  if (v1Count + v2Count + octaviaCount > MAX_POOLS) throw new RangeError(`at most ${MAX_POOLS} pools fit the lab network`);
  const baseDir = resolve(options.baseDir ?? DEFAULT_BASE_DIR);
  const id = newLabId();
  const dir = join(baseDir, id);
  // The v2 socket is the longest; an Octavia one (<dir>/octavia/<lb_id>.sock) is shorter but checked too.
  for (const socket of [join(dir, 'lbaas', 'v2', randomUUID(), 'haproxy_stats.sock'), join(dir, 'octavia', `${randomUUID()}.sock`)]) {
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
      throw new RangeError(`baseDir ${baseDir} is too long: stats socket paths like ${socket} must stay under ${MAX_SOCKET_PATH} bytes`);
    }
  }
  const outliveProcess = options.outliveProcess ?? false;
  // Our own lab holds the lock: waiting would only time out after minutes.
  const mine = [...liveLabs.keys()];
  if (mine.length > 0) throw new Error(`this process already has a lab up (${mine.join(', ')}); only one lab may run on the machine, down() it first`);

  const lockStartedAt = Date.now();
  const lock = await acquireLabLock({ outliveProcess, timeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS });
  if (!lock) {
    const owner = readLabLockOwner();
    throw new Error(`timed out waiting for the lab lock /run/lbtopo-lab.lock${owner ? ` (held for ${owner.dir} by pid ${owner.ownerPid})` : ''}`);
  }
  timing('lock', lockStartedAt);
  try {
    await cleanUpAfterPreviousOwner(lock, baseDir);
    // Any lab's amphora-haproxy is gone now (the cleanup undid stale labs): one left is not a lab's.
    if (octaviaCount > 0) assertAmphoraNamespaceFree();
    // The lock names the dir before the dir exists: whoever takes the lock after a crash finds it.
    lock.record({ ownerPid: process.pid, dir, outliveProcess });
    const handle = await buildLab({ id, dir, v1Count, v2Count, octaviaCount, amphoraPair: options.amphoraPair ?? false, outliveProcess, lock });
    if (options.waitForHealth ?? true) await waitForHealth(handle.pools, handle.state, 20_000 + 200 * handle.pools.length);
    return handle;
  } catch (error) {
    liveLabs.delete(dir);
    await teardownLab(dir, { removeSharedDevices: true }).catch(() => undefined);
    await lock.release();
    throw error;
  }
}

/**
 * We hold the lock, so no other lab is up: whatever a previous lab left is stale. First the lab
 * the lock file names (its maker died), then any other lab dir under the base dir (e.g. one whose
 * maker died before the lock file named it), then br-int/ovs-netdev taps nobody cleaned.
 */
async function cleanUpAfterPreviousOwner(lock: HeldLabLock, baseDir: string): Promise<void> {
  const previous = lock.previousOwner;
  if (previous) {
    killOrphanHolderChild(previous);
    if (previous.dir && existsSync(previous.dir)) await teardownLab(previous.dir, { removeSharedDevices: true });
  }
  for (const staleDir of labDirsUnder(baseDir)) {
    if (/^[0-9a-f]{8}$/.test(basename(staleDir)) && !liveLabs.has(staleDir)) await teardownLab(staleDir, { removeSharedDevices: true });
  }
  const leftovers = DATAPATH_DEVICES.filter((name) => existsSync(`/sys/class/net/${name}/tun_flags`));
  if (leftovers.length > 0) {
    // Only if no ovs-vswitchd owns them: one that is not a lab's would clash with ours anyway.
    const vswitchd = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number)
      .find((pid) => processCmdline(pid)[0]?.endsWith('ovs-vswitchd') && processStartTime(pid) !== null);
    if (vswitchd !== undefined) {
      throw new Error(`an ovs-vswitchd that is not this lab's (pid ${vswitchd}: ${processCmdline(vswitchd).join(' ')}) owns ${leftovers.join(', ')}; a lab's br-int would clash with it`);
    }
    await tryRun(['ip', '-force', '-batch', '-'], { input: leftovers.map((name) => `link del dev ${name}\n`).join('') });
  }
}

/** amphora-haproxy is a fixed name: the lab never takes over (nor, on teardown, deletes) one it did not make. */
function assertAmphoraNamespaceFree(): void {
  if (existsSync(join(NETNS_DIR, AMPHORA_NAMESPACE))) {
    throw new Error(
      `namespace ${AMPHORA_NAMESPACE} already exists and no lab made it; a lab with an Octavia load balancer needs that name. ` +
        `If it is a leftover, delete it (ip netns del ${AMPHORA_NAMESPACE}); otherwise run the lab without octaviaLoadBalancers`,
    );
  }
}

/**
 * Records amphora-haproxy in the manifest, then makes it. If making it fails (e.g. someone else
 * made it since the check), the name leaves the manifest again so teardown never deletes theirs.
 */
async function makeAmphoraNamespace(state: LabState): Promise<void> {
  assertAmphoraNamespaceFree();
  addUnique(state.manifest.namespaces, AMPHORA_NAMESPACE);
  state.save();
  try {
    await run(['ip', 'netns', 'add', AMPHORA_NAMESPACE]);
  } catch (error) {
    state.manifest.namespaces.splice(state.manifest.namespaces.indexOf(AMPHORA_NAMESPACE), 1);
    state.save();
    throw error;
  }
}

interface BuildInput {
  id: string;
  dir: string;
  v1Count: number;
  v2Count: number;
  octaviaCount: number;
  amphoraPair: boolean;
  outliveProcess: boolean;
  lock: HeldLabLock;
}

async function buildLab(input: BuildInput): Promise<LabHandle> {
  const { id, dir } = input;
  const buildStartedAt = Date.now();
  const lbaasDir = join(dir, 'lbaas');
  const octaviaDir = join(dir, 'octavia');
  const runDir = join(dir, 'run');
  const ovs = ovsPaths(join(dir, 'ovs'));
  mkdirSync(dir, { recursive: true });

  const macs = new Set<string>();
  const members = planMembers(id, macs);
  const pools = planPools(lbaasDir, octaviaDir, { v1: input.v1Count, v2: input.v2Count, octavia: input.octaviaCount }, members, macs);
  const memberPorts = [members.up, members.down];
  const poolPorts = pools.map(poolPort);
  const allPorts = [...poolPorts, ...memberPorts];

  const manifest: LabManifest = {
    version: 1,
    id,
    dir,
    createdAt: new Date().toISOString(),
    ownerPid: process.pid,
    outliveProcess: input.outliveProcess,
    ovsDir: ovs.dir,
    ovsdbSocket: ovs.socket,
    bridge: BRIDGE,
    lbaasDir,
    octaviaDir,
    // amphora-haproxy joins the list right before it is made (makeAmphoraNamespace), after a last check that it is free.
    namespaces: allPorts.map((port) => port.namespace).filter((name) => name !== AMPHORA_NAMESPACE),
    ovsPorts: allPorts.map((port) => port.name),
    rootDevices: [...DATAPATH_DEVICES],
    processes: [
      { role: 'lock-holder', label: 'flock', pid: input.lock.holder.pid, startTime: input.lock.holder.startTime },
      { role: 'lock-holder', label: 'flock child', pid: input.lock.holderChild.pid, startTime: input.lock.holderChild.startTime },
    ],
    files: [dir],
    pools,
    orphanNamespaces: [],
    orphanOvsPorts: [],
    faults: [],
  };
  const state: LabState = {
    id,
    dir,
    manifest,
    ovs,
    networkId: randomUUID(),
    members,
    haproxy: new Map(),
    wrongNamespace: `lbtw-${id}-wrong`,
    wrongDevice: `lbtw${id}`,
    runDir,
    save: () => saveManifest(manifest),
  };
  const handle = new LabHandle(state, input.lock);
  liveLabs.set(dir, handle);
  state.save();

  for (const made of [lbaasDir, octaviaDir, runDir, ...pools.map((pool) => pool.stateDir)]) mkdirSync(made, { recursive: true });
  manifest.files.push(lbaasDir, octaviaDir, runDir, ovs.dir);
  state.save();

  let phase = Date.now();
  await startOvs(ovs, {
    beforeStart(role, pidFile) {
      manifest.processes.push({ role, label: role, pid: null, startTime: null, pidFile });
      state.save();
    },
    started(role, identity) {
      const record = manifest.processes.find((candidate) => candidate.role === role);
      if (record) Object.assign(record, identity);
      state.save();
    },
  });
  timing('ovs daemons + br-int', phase);

  // All ports in a few transactions (one ovs-vsctl carries many `-- add-port`); vsctl waits until
  // vswitchd has applied them, and the taps appear in the root namespace right after.
  phase = Date.now();
  for (let start = 0; start < allPorts.length; start += 250) {
    const chunk = allPorts.slice(start, start + 250);
    await vsctl(ovs, chunk.flatMap((port) => addPortArgs(BRIDGE, port, state.networkId, 'internal')));
  }
  await waitForRootDevices(allPorts.map((port) => port.name));
  timing(`ovs add-port x${allPorts.length}`, phase);

  // Namespaces made and taps moved in one `ip -batch` (netns add returns to the root ns after each).
  phase = Date.now();
  if (allPorts.some((port) => port.namespace === AMPHORA_NAMESPACE)) await makeAmphoraNamespace(state);
  await run(['ip', '-batch', '-'], {
    input: [
      ...allPorts.filter((port) => port.namespace !== AMPHORA_NAMESPACE).map((port) => `netns add ${port.namespace}`),
      ...allPorts.map((port) => `link set dev ${port.name} netns ${port.namespace}`),
    ].join('\n') + '\n',
    timeoutMs: 120_000,
  });
  timing(`netns add + move x${allPorts.length}`, phase);

  // Then each namespace's addresses and routes: one `ip -n NS -batch -` each (one ip sees one namespace).
  phase = Date.now();
  await mapLimit(allPorts, PARALLEL_COMMANDS, (port) => plugInNamespace(port));
  timing(`plug in namespace x${allPorts.length}`, phase);

  phase = Date.now();
  await startMemberServer(state);
  timing('member http server', phase);

  phase = Date.now();
  for (const pool of pools) {
    const members = pool.members.map((member) => ({ id: member.id, address: member.address, port: member.port }));
    const base = { frontendId: pool.frontendId, poolId: pool.poolId, vip: pool.vip, protocolPort: pool.protocolPort, socketPath: pool.socketPath, members };
    const config =
      pool.layout === 'v1'
        ? v1Config(base)
        : pool.layout === 'v2'
          ? v2Config({ ...base, loadBalancerId: pool.loadBalancerId ?? '' })
          : octaviaConfig({ ...base, loadBalancerId: pool.loadBalancerId ?? '' });
    writeFileSync(pool.configPath, config);
    manifest.processes.push({ role: 'haproxy', label: pool.poolId, pid: null, startTime: null, pidFile: pool.pidPath, namespace: pool.namespace });
  }
  state.save();
  await mapLimit(pools, PARALLEL_COMMANDS, async (pool) => {
    const identity = await startHaproxy(pool.namespace, pool.configPath, pool.pidPath);
    state.haproxy.set(pool.poolId, identity);
    const record = manifest.processes.find((candidate) => candidate.role === 'haproxy' && candidate.label === pool.poolId);
    if (record) Object.assign(record, identity);
  });
  state.save();
  timing(`haproxy start x${pools.length}`, phase);
  if (input.amphoraPair) {
    phase = Date.now();
    manifest.amphoraPair = planAmphoraPair(id, dir, macs);
    state.save();
    await buildAmphoraPair(state, manifest.amphoraPair);
    timing('amphora pair', phase);
  }
  timing('build', buildStartedAt);
  return handle;
}

async function plugInNamespace(port: PlannedPort): Promise<void> {
  await run(['ip', '-n', port.namespace, '-batch', '-'], { input: plugLines(port).join('\n') + '\n' });
}

/** A tiny HTTP server in the answering member namespace; the other member namespace has none (checks get RST). */
async function startMemberServer(state: LabState): Promise<void> {
  const port = state.members.up;
  const script = [
    "require('http').createServer((request, response) => {",
    "  response.writeHead(200, { 'content-type': 'text/plain' });",
    "  response.end('lab member ok\\n');",
    `}).listen(${MEMBER_PORT}, '${port.address}');`,
  ].join('\n');
  const record: LabProcessRecord = { role: 'member-http', label: port.namespace, pid: null, startTime: null, namespace: port.namespace };
  state.manifest.processes.push(record);
  state.save();
  // Detached and unreferenced: it lives as long as the lab, not as the process that built it.
  // node's own spawn: execa 10's subprocess no longer has unref.
  const subprocess = spawn('ip', ['netns', 'exec', port.namespace, process.execPath, '-e', script], { detached: true, stdio: 'ignore' });
  subprocess.on('error', () => {}); // a failed start shows as the missing pid below
  subprocess.unref();
  const pid = subprocess.pid;
  const identity = pid === undefined ? null : identify(pid); // `ip netns exec` execs in place: same pid
  if (!identity) throw new Error(`the member server in ${port.namespace} did not start`);
  Object.assign(record, identity);
  state.save();
  // Listening shows in the namespace's own /proc/PID/net/tcp, so no probe traffic is needed:
  // columns are `sl local_address rem_address st …`, the port in hex and LISTEN is state 0A.
  const hexPort = MEMBER_PORT.toString(16).toUpperCase().padStart(4, '0');
  await waitFor(`the member server on ${port.address}:${MEMBER_PORT}`, 10_000, async () => {
    if (!isAlive(identity)) throw new Error(`the member server in ${port.namespace} exited`);
    const table = await readFile(`/proc/${identity.pid}/net/tcp`, 'utf8').catch(() => '');
    const listening = table.split('\n').slice(1).some((line) => {
      const [, local, , state] = line.trim().split(/\s+/);
      return local?.endsWith(`:${hexPort}`) && state === '0A';
    });
    return listening ? true : undefined;
  });
}

/** Waits until every pool with a live haproxy answers on its stats socket with its members UP/DOWN as planned. */
async function waitForHealth(pools: readonly LabPool[], state: LabState, timeoutMs: number): Promise<void> {
  const startedAt = Date.now();
  const deadline = startedAt + timeoutMs;
  let pending = pools.filter((pool) => {
    const identity = state.haproxy.get(pool.poolId);
    return identity && isAlive(identity);
  });
  const lastProblem = new Map<string, string>();
  while (pending.length > 0) {
    const stillPending = await mapLimit(pending, 16, async (pool) => {
      try {
        const problems = expectedServerProblems(pool, await showStat(pool.socketPath, 2000));
        if (problems.length === 0) return null;
        lastProblem.set(pool.poolId, problems.join('; '));
      } catch (error) {
        lastProblem.set(pool.poolId, error instanceof Error ? error.message : String(error));
      }
      return pool;
    });
    pending = stillPending.filter((pool): pool is LabPool => pool !== null);
    if (pending.length === 0) break;
    if (Date.now() > deadline) {
      const detail = pending.slice(0, 5).map((pool) => `${pool.poolId}: ${lastProblem.get(pool.poolId) ?? '?'}`).join('\n  ');
      throw new Error(`${pending.length} pool(s) not healthy after ${timeoutMs} ms:\n  ${detail}`);
    }
    await sleep(250);
  }
  timing('health', startedAt);
}

class LabHandle implements Lab {
  readonly id: string;
  readonly dir: string;
  readonly ovsdb: string;
  readonly bridge = BRIDGE;
  readonly lbaasDir: string;
  readonly octaviaDir: string;
  readonly pools: LabPool[];
  readonly orphanNamespaces: string[];
  readonly orphanOvsPorts: string[];
  private downPromise: Promise<void> | undefined;

  readonly state: LabState;
  private readonly lock: HeldLabLock;

  constructor(state: LabState, lock: HeldLabLock) {
    this.state = state;
    this.lock = lock;
    const { manifest } = state;
    this.id = manifest.id;
    this.dir = manifest.dir;
    this.ovsdb = `unix:${manifest.ovsdbSocket}`;
    this.lbaasDir = manifest.lbaasDir;
    this.octaviaDir = manifest.octaviaDir;
    // The same arrays as the manifest's, so what the lab reports and what it saves never differ.
    this.pools = manifest.pools;
    this.orphanNamespaces = manifest.orphanNamespaces;
    this.orphanOvsPorts = manifest.orphanOvsPorts;
  }

  env(): Record<string, string> {
    return {
      LBTOPO_OVSDB: this.ovsdb,
      LBTOPO_LBAAS_DIR: this.lbaasDir,
      LBTOPO_OCTAVIA_DIR: this.octaviaDir,
      LBTOPO_NETNS_DIR: NETNS_DIR,
    };
  }

  private pool(poolId: string): LabPool {
    const pool = this.pools.find((candidate) => candidate.poolId === poolId);
    if (!pool) throw new Error(`lab ${this.id} has no pool ${poolId}`);
    return pool;
  }

  private assertUp(): void {
    if (this.downPromise) throw new Error(`lab ${this.id} is down`);
  }

  async injectFault(poolId: string, fault: PoolFault): Promise<void> {
    this.assertUp();
    await injectPoolFault(this.state, this.pool(poolId), fault);
  }

  async addOrphanNamespace(): Promise<string> {
    this.assertUp();
    const name = `qlbaas-${randomUUID()}`;
    addUnique(this.state.manifest.namespaces, name);
    this.orphanNamespaces.push(name);
    this.state.save();
    await run(['ip', 'netns', 'add', name]);
    return name;
  }

  async addOrphanOvsPort(): Promise<string> {
    this.assertUp();
    const portId = randomUUID();
    const port: PlannedPort = {
      name: tapNameFor(portId),
      device: tapNameFor(portId),
      namespace: '',
      portId,
      mac: neutronMac(new Set(this.pools.map((pool) => pool.mac))),
      address: '',
      gateway: null,
    };
    addUnique(this.state.manifest.ovsPorts, port.name);
    this.orphanOvsPorts.push(port.name);
    this.state.save();
    // A system port whose device exists nowhere: vswitchd sets ofport -1 and an error (ovs-vsctl
    // prints "Error detected while setting up" but exits 0).
    await vsctl(this.state.ovs, addPortArgs(BRIDGE, port, this.state.networkId, 'system'));
    await waitFor(`ofport -1 on ${port.name}`, 10_000, async () => {
      const [row] = parseOvsTable((await vsctl(this.state.ovs, ['--format=json', '--columns=ofport,error', 'find', 'Interface', `name=${port.name}`])).stdout.trim());
      return row && row.ofport === -1 && typeof row.error === 'string' ? true : undefined;
    });
    return port.name;
  }

  get amphoraPair(): LabAmphoraPair | null {
    return this.state.manifest.amphoraPair ?? null;
  }

  private amphora(index: number): { pair: LabAmphoraPair; amp: LabAmphora } {
    const pair = this.amphoraPair;
    const amp = pair?.amphorae[index];
    if (!pair || !amp) throw new Error(`lab ${this.id} has no amphora ${index} (start it with amphoraPair: true)`);
    return { pair, amp };
  }

  amphoraEnv(index: number): Record<string, string> {
    return { ...this.env(), ...amphoraEnv(this.amphora(index).amp) };
  }

  async injectAmphoraFault(index: number, fault: AmphoraFault): Promise<void> {
    this.assertUp();
    const { pair, amp } = this.amphora(index);
    await injectAmphoraFault(this.state, pair, amp, fault);
  }

  amphoraHoldsVip(index: number): Promise<boolean> {
    return amphoraHoldsVip(this.amphora(index).amp);
  }

  haproxyPid(poolId: string): number | null {
    const identity: ProcessIdentity | null | undefined = this.state.haproxy.get(poolId);
    return identity && isAlive(identity) ? identity.pid : null;
  }

  down(): Promise<void> {
    this.downPromise ??= (async () => {
      try {
        await teardownLab(this.dir, { removeSharedDevices: true });
      } finally {
        liveLabs.delete(this.dir);
        await this.lock.release();
      }
    })();
    return this.downPromise;
  }
}

/**
 * Undoes the lab in `dir` from its manifest alone (also after its maker crashed). br-int and
 * ovs-netdev are removed only when the lab lock is free or is this lab's; with another lab up they are its own.
 */
export async function labDown(dir: string): Promise<void> {
  const labDir = resolve(dir);
  const live = liveLabs.get(labDir);
  if (live) return live.down();
  const lock = await acquireLabLock({ outliveProcess: false, timeoutMs: 0 });
  if (lock) {
    try {
      if (lock.previousOwner?.dir === labDir) killOrphanHolderChild(lock.previousOwner);
      await teardownLab(labDir, { removeSharedDevices: true });
      if (lock.previousOwner?.dir === labDir) lock.clear();
    } finally {
      await lock.release();
    }
    return;
  }
  const owner = readLabLockOwner();
  if (owner && owner.dir === labDir) {
    // Another process's live lab (e.g. one the CLI left up): undo it, then end its lock holder.
    await teardownLab(labDir, { removeSharedDevices: true });
    clearLockOwner(owner.holder);
    await stopHolder(owner.holder, owner.holderChild);
    return;
  }
  await teardownLab(labDir, { removeSharedDevices: false });
}

/** Undoes every lab under baseDir (default /tmp/lbtopo-labs), whoever made it. */
export async function labDownAll(baseDir: string = DEFAULT_BASE_DIR): Promise<void> {
  for (const dir of labDirsUnder(resolve(baseDir))) await labDown(dir);
}
