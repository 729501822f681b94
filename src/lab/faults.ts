// Faults: each one leaves the host in exactly the state its name says, the way it happens on a
// real network node, so the product's diagnosis can be checked against the truth.
//
// OVS faults name the port by its OVS name (ovsPortName) and device faults the device in the
// namespace (tapName): the same for v1/v2, but for the Octavia amphora the port on br-int keeps its
// tap name while the device is eth1. All faults apply to the amphora too; the OVS ones then model
// its NIC's port on the compute host, which nothing inside an amphora can see.
import { appendFileSync, existsSync, rmSync, utimesSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { run, waitFor } from './exec.ts';
import { showStat, startHaproxy } from './haproxy.ts';
import { addUnique, type LabProcessRecord } from './manifest.ts';
import { BRIDGE, parseOvsTable, vsctl } from './ovs.ts';
import { DEAD_VLAN, LAB_PREFIX_LENGTH, addPortArgs, expectedServerProblems, poolPort, type LabState } from './plan.ts';
import { isAlive, processStartEpochMs, signalIdentity, waitForExit, type ProcessIdentity } from './proc.ts';
import type { LabPool, PoolFault } from './types.ts';

export async function injectPoolFault(state: LabState, pool: LabPool, fault: PoolFault): Promise<void> {
  // Recorded before the change, like everything the lab does, so a crash mid-fault is still explained.
  pool.faults.push(fault);
  state.manifest.faults.push({ poolId: pool.poolId, fault, at: new Date().toISOString() });
  state.save();
  await FAULTS[fault](state, pool);
  state.save();
}

type FaultAction = (state: LabState, pool: LabPool) => Promise<void>;

function liveHaproxy(state: LabState, pool: LabPool): ProcessIdentity | null {
  const identity = state.haproxy.get(pool.poolId) ?? null;
  return identity && isAlive(identity) ? identity : null;
}

/** kill -9, as the neutron driver's undeploy does: the pid file and the socket file stay behind. */
async function killPoolHaproxy(state: LabState, pool: LabPool): Promise<void> {
  const identity = liveHaproxy(state, pool);
  if (identity) {
    signalIdentity(identity, 'SIGKILL');
    if (!(await waitForExit(identity, 5000))) throw new Error(`haproxy ${identity.pid} of pool ${pool.poolId} did not die`);
  }
  state.haproxy.set(pool.poolId, null);
}

async function ipIn(namespace: string, args: string[]): Promise<void> {
  await run(['ip', '-n', namespace, ...args]);
}

const FAULTS: Record<PoolFault, FaultAction> = {
  'kill-haproxy': killPoolHaproxy,

  async 'delete-namespace'(state, pool) {
    await killPoolHaproxy(state, pool);
    await run(['ip', 'netns', 'del', pool.namespace]);
  },

  // Deleting an internal port also deletes its device, wherever it is: the tap leaves the namespace.
  async 'delete-ovs-port'(state, pool) {
    await vsctl(state.ovs, ['del-port', BRIDGE, pool.ovsPortName]);
  },

  // Nothing crosses VLAN 4095, so the members stop answering too: the fault is in place once
  // haproxy has seen that (a test reading the pool twice must not see it half-way, 1/2 then 0/2).
  async 'dead-vlan'(state, pool) {
    await vsctl(state.ovs, ['set', 'Port', pool.ovsPortName, `tag=${DEAD_VLAN}`]);
    await silenceMembers(state, pool);
  },

  async 'link-down'(_state, pool) {
    await ipIn(pool.namespace, ['link', 'set', 'dev', pool.tapName, 'down']);
  },

  async 'no-default-route'(_state, pool) {
    await ipIn(pool.namespace, ['route', 'del', 'default']);
  },

  // The config changed after haproxy read it: the running process no longer reflects the file.
  async 'config-newer'(state, pool) {
    appendFileSync(pool.configPath, `# changed after haproxy started (lab fault config-newer)\n`);
    const identity = liveHaproxy(state, pool);
    const startedMs = identity ? processStartEpochMs(identity) : Date.now();
    // /proc start times are only as exact as btime (whole seconds): stay clearly after them.
    const mtimeMs = Math.max(Date.now(), startedMs + 5000);
    utimesSync(pool.configPath, new Date(), new Date(mtimeMs));
  },

  // A reload whose old process is still draining: a second haproxy on the same config in the same namespace.
  async 'multiple-haproxy'(state, pool) {
    const pidFile = join(state.runDir, `${pool.poolId}.extra.pid`);
    const record: LabProcessRecord = { role: 'haproxy-extra', label: pool.poolId, pid: null, startTime: null, pidFile, namespace: pool.namespace };
    state.manifest.processes.push(record);
    state.save();
    const identity = await startHaproxy(pool.namespace, pool.configPath, pidFile);
    record.pid = identity.pid;
    record.startTime = identity.startTime;
  },

  // Restarted by hand in the wrong namespace: same config and pid file, but not in qlbaas-….
  async 'haproxy-outside-namespace'(state, pool) {
    await ensureWrongNamespace(state);
    await run(['ip', '-n', state.wrongNamespace, 'addr', 'replace', `${pool.vip}/${LAB_PREFIX_LENGTH}`, 'dev', state.wrongDevice]);
    await killPoolHaproxy(state, pool);
    const record = state.manifest.processes.find((candidate) => candidate.role === 'haproxy' && candidate.label === pool.poolId);
    if (record) {
      record.namespace = state.wrongNamespace;
      state.save();
    }
    const identity = await startHaproxy(state.wrongNamespace, pool.configPath, pool.pidPath);
    state.haproxy.set(pool.poolId, identity);
    if (record) {
      record.pid = identity.pid;
      record.startTime = identity.startTime;
    }
  },

  async 'stats-socket-removed'(_state, pool) {
    rmSync(pool.socketPath, { force: true });
  },

  async 'vip-address-removed'(_state, pool) {
    await ipIn(pool.namespace, ['addr', 'del', `${pool.vip}/${pool.prefixLength}`, 'dev', pool.tapName]);
  },

  async 'iface-id-mismatch'(state, pool) {
    await vsctl(state.ovs, ['set', 'Interface', pool.ovsPortName, `external_ids:iface-id=${randomUUID()}`]);
  },

  // ofport -1 with an error, as after a vswitchd restart that cannot find the device in the root
  // namespace: the port is re-added as a system port while its device lives in the namespace. With
  // the netdev datapath, replacing the internal port destroys its tap, so a device of the same name,
  // MAC and VIP is put back in the namespace: a persistent tap (what the netdev internal port was
  // too), now wired to nothing, so it shows NO-CARRIER. (This kernel has no dummy driver.)
  async 'ovs-interface-error'(state, pool) {
    await vsctl(state.ovs, ['--', 'del-port', BRIDGE, pool.ovsPortName, ...addPortArgs(BRIDGE, poolPort(pool), state.networkId, 'system')]);
    if (existsSync(`/run/netns/${pool.namespace}`)) {
      await waitFor(`${pool.tapName} to leave ${pool.namespace}`, 5000, async () => {
        const links = JSON.parse((await run(['ip', '-n', pool.namespace, '-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>;
        return links.some((link) => link.ifname === pool.tapName) ? undefined : true;
      });
      await run(['ip', '-n', pool.namespace, '-batch', '-'], {
        input: [
          `tuntap add dev ${pool.tapName} mode tap`,
          `link set dev ${pool.tapName} address ${pool.mac}`,
          `addr add ${pool.vip}/${pool.prefixLength} brd + scope global dev ${pool.tapName}`,
          `link set dev ${pool.tapName} up`,
          `route replace default via ${pool.gateway} dev ${pool.tapName}`,
        ].join('\n') + '\n',
      });
    }
    await waitFor(`ofport -1 and an error on ${pool.ovsPortName}`, 10_000, async () => {
      const [row] = parseOvsTable((await vsctl(state.ovs, ['--format=json', '--columns=ofport,error', 'find', 'Interface', `name=${pool.ovsPortName}`])).stdout.trim());
      return row && row.ofport === -1 && typeof row.error === 'string' ? true : undefined;
    });
  },

  // An amphora's `from VIP lookup 1` rule lost (amphora-interface wrote it; nothing re-adds it).
  async 'policy-rule-removed'(_state, pool) {
    await ipIn(pool.namespace, ['rule', 'del', 'from', `${pool.vip}/32`, 'table', '1', 'priority', '100']);
  },

  // The members stop answering this pool only: the answering member namespace drops its replies to
  // this VIP (a blackhole route), so checks time out; the config and haproxy stay as they are.
  async 'members-down'(state, pool) {
    await run(['ip', '-n', state.members.up.namespace, 'route', 'replace', 'blackhole', `${pool.vip}/32`]);
    await silenceMembers(state, pool);
  },
};

/**
 * A fault that silences the members is in place once haproxy has seen it: the members marked as
 * not answering, and every one DOWN on the stats socket. Not waited for when no haproxy can say
 * so (killed, or its socket removed).
 */
async function silenceMembers(state: LabState, pool: LabPool): Promise<void> {
  for (const member of pool.members) member.answering = false;
  if (!liveHaproxy(state, pool) || !existsSync(pool.socketPath)) return;
  await waitFor(`every member of pool ${pool.poolId} DOWN`, 20_000, async () => {
    const rows = await showStat(pool.socketPath).catch(() => []);
    return expectedServerProblems(pool, rows).length === 0 ? true : undefined;
  }, 200);
}

async function ensureWrongNamespace(state: LabState): Promise<void> {
  if (existsSync(`/run/netns/${state.wrongNamespace}`)) return;
  addUnique(state.manifest.namespaces, state.wrongNamespace);
  state.save();
  await run(['ip', 'netns', 'add', state.wrongNamespace]);
  await run(['ip', '-n', state.wrongNamespace, '-batch', '-'], {
    // A tap wired to nothing carries the VIPs (this kernel has no dummy driver).
    input: ['link set dev lo up', `tuntap add dev ${state.wrongDevice} mode tap`, `link set dev ${state.wrongDevice} up`].join('\n') + '\n',
  });
}
