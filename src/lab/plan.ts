// Names and addresses of everything in a lab, decided up front so the manifest can list every
// namespace and port before any is made. One lab network (10.77.0.0/16, one VLAN); VIPs from
// 10.77.1.2 up (v1 pools, then v2 load balancers, then the Octavia amphora); two shared member
// namespaces at 10.77.255.10 (answers HTTP) and .11 (nothing listens).
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { OvsPaths } from './ovs.ts';
import type { LabManifest } from './manifest.ts';
import type { StatRow } from './haproxy.ts';
import type { ProcessIdentity } from './proc.ts';
import type { LabMember, LabPool } from './types.ts';

export const DEFAULT_BASE_DIR = '/tmp/lbtopo-labs';
export const LAB_PREFIX_LENGTH = 16;
/** The subnet gateway neutron would route through; nothing answers on it, which is fine. */
export const LAB_GATEWAY = '10.77.0.1';
/** The local VLAN neutron's OVS agent would give the lab network on br-int. */
export const LAB_VLAN = 1;
export const DEAD_VLAN = 4095;
export const MEMBER_UP_ADDRESS = '10.77.255.10';
export const MEMBER_DOWN_ADDRESS = '10.77.255.11';
export const MEMBER_PORT = 80;
export const PROTOCOL_PORT = 80;
/** 10.77.1.x … 10.77.254.x hold VIPs, 250 a /24. */
export const MAX_POOLS = 254 * 250;
/** Octavia's AMPHORA_NAMESPACE: a fixed name, so one amphora per host (host-facts.md 2.1). */
export const AMPHORA_NAMESPACE = 'amphora-haproxy';
/** Octavia's NETNS_PRIMARY_INTERFACE: the amphora's VIP NIC inside amphora-haproxy. */
export const AMPHORA_VIP_DEVICE = 'eth1';

export function vipAddress(index: number): string {
  return `10.77.${1 + Math.floor(index / 250)}.${2 + (index % 250)}`;
}

/** neutron's interface driver: ('tap' + port id)[:14]. */
export function tapNameFor(portId: string): string {
  return `tap${portId}`.slice(0, 14);
}

/** A neutron-style MAC (base_mac fa:16:3e:00:00:00), unique within the lab. */
export function neutronMac(taken: Set<string>): string {
  for (;;) {
    const mac = `fa:16:3e:${[...randomBytes(3)].map((byte) => byte.toString(16).padStart(2, '0')).join(':')}`;
    if (!taken.has(mac)) {
      taken.add(mac);
      return mac;
    }
  }
}

export function newLabId(): string {
  return randomBytes(4).toString('hex');
}

/** A port on br-int the lab adds: a pool's VIP tap or a member namespace's port. */
export interface PlannedPort {
  /** The OVS port name, and the device's name until it is plugged. */
  name: string;
  /** The device's name in its namespace once plugged: `name`, except the amphora's eth1. */
  device: string;
  namespace: string;
  portId: string;
  mac: string;
  address: string;
  /** Only pool namespaces get a default route (neutron adds one; members need none). */
  gateway: string | null;
  /**
   * A SINGLE amphora's VIP policy routing, as amphora-interface writes it (interface_file.py):
   * `from VIP/32 lookup 1` and table 1's subnet and default routes.
   */
  policyRouting?: boolean;
}

export interface MemberNamespaces {
  up: PlannedPort;
  down: PlannedPort;
}

export function planMembers(labId: string, macs: Set<string>): MemberNamespaces {
  const member = (suffix: 'up' | 'down', address: string): PlannedPort => ({
    name: `lbtm${labId}${suffix === 'up' ? 'u' : 'd'}`,
    device: `lbtm${labId}${suffix === 'up' ? 'u' : 'd'}`,
    namespace: `lbtm-${labId}-${suffix}`,
    portId: randomUUID(),
    mac: neutronMac(macs),
    address,
    gateway: null,
  });
  return { up: member('up', MEMBER_UP_ADDRESS), down: member('down', MEMBER_DOWN_ADDRESS) };
}

function poolMembers(members: MemberNamespaces): LabMember[] {
  return [
    { id: randomUUID(), address: MEMBER_UP_ADDRESS, port: MEMBER_PORT, answering: true, namespace: members.up.namespace },
    { id: randomUUID(), address: MEMBER_DOWN_ADDRESS, port: MEMBER_PORT, answering: false, namespace: members.down.namespace },
  ];
}

export interface PoolCounts {
  v1: number;
  v2: number;
  octavia: number;
}

export function planPools(lbaasDir: string, octaviaDir: string, counts: PoolCounts, members: MemberNamespaces, macs: Set<string>): LabPool[] {
  const pools: LabPool[] = [];
  for (let index = 0; index < counts.v1 + counts.v2 + counts.octavia; index++) {
    const layout = index < counts.v1 ? 'v1' : index < counts.v1 + counts.v2 ? 'v2' : 'octavia';
    const poolId = randomUUID();
    const portId = randomUUID();
    const common = {
      poolId,
      portId,
      ovsPortName: tapNameFor(portId),
      mac: neutronMac(macs),
      vip: vipAddress(index),
      prefixLength: LAB_PREFIX_LENGTH,
      gateway: LAB_GATEWAY,
      vlanTag: LAB_VLAN,
      protocolPort: PROTOCOL_PORT,
      members: poolMembers(members),
      faults: [],
    };
    if (layout === 'v1') {
      // v1: one namespace and state dir per pool, files conf/pid/sock.
      const stateDir = join(lbaasDir, poolId);
      pools.push({
        layout,
        loadBalancerId: null,
        frontendId: randomUUID(), // the vip id
        namespace: `qlbaas-${poolId}`,
        tapName: tapNameFor(portId),
        stateDir,
        configPath: join(stateDir, 'conf'),
        pidPath: join(stateDir, 'pid'),
        socketPath: join(stateDir, 'sock'),
        ...common,
      });
    } else if (layout === 'v2') {
      // v2: namespace and state dir per load balancer, under lbaas/v2/.
      const loadBalancerId = randomUUID();
      const stateDir = join(lbaasDir, 'v2', loadBalancerId);
      pools.push({
        layout,
        loadBalancerId,
        frontendId: randomUUID(), // the listener id
        namespace: `qlbaas-${loadBalancerId}`,
        tapName: tapNameFor(portId),
        stateDir,
        configPath: join(stateDir, 'haproxy.conf'),
        pidPath: join(stateDir, 'haproxy.pid'),
        socketPath: join(stateDir, 'haproxy_stats.sock'),
        ...common,
      });
    } else {
      // Octavia (stein on): <base_path>/<lb_id>/haproxy.cfg and <lb_id>.pid, the stats socket
      // beside the lb dir, and the fixed namespace amphora-haproxy (host-facts.md 2.1).
      const loadBalancerId = randomUUID();
      const stateDir = join(octaviaDir, loadBalancerId);
      pools.push({
        layout,
        loadBalancerId,
        frontendId: randomUUID(), // the listener id
        namespace: AMPHORA_NAMESPACE,
        // In an amphora the VIP device is eth1; its OVS port keeps the neutron tap name (ovsPortName).
        tapName: AMPHORA_VIP_DEVICE,
        stateDir,
        configPath: join(stateDir, 'haproxy.cfg'),
        pidPath: join(stateDir, `${loadBalancerId}.pid`),
        socketPath: join(octaviaDir, `${loadBalancerId}.sock`),
        ...common,
      });
    }
  }
  return pools;
}

export function poolPort(pool: LabPool): PlannedPort {
  return { name: pool.ovsPortName, device: pool.tapName, namespace: pool.namespace, portId: pool.portId, mac: pool.mac, address: pool.vip, gateway: pool.gateway, policyRouting: pool.layout === 'octavia' };
}

/** The pool's haproxy backend (the `pxname` of its stats rows): the pool id, or `<pool_id>:<listener_id>` in Octavia. */
export function backendName(pool: LabPool): string {
  return pool.layout === 'octavia' ? `${pool.poolId}:${pool.frontendId}` : pool.poolId;
}

/** How a pool's stats rows differ from the plan: each answering member UP/L7OK, each silent one DOWN ([] when as planned). */
export function expectedServerProblems(pool: LabPool, rows: StatRow[]): string[] {
  const problems: string[] = [];
  for (const member of pool.members) {
    const row = rows.find((candidate) => candidate['pxname'] === backendName(pool) && candidate['svname'] === member.id);
    if (!row) {
      problems.push(`no row for member ${member.id}`);
      continue;
    }
    const status = row['status'] ?? '';
    const check = (row['check_status'] ?? '').replace(/^\* /, '');
    if (member.answering && !(status === 'UP' && check.startsWith('L7OK'))) problems.push(`${member.address} is ${status}/${check}, expected UP/L7OK`);
    if (!member.answering && !status.startsWith('DOWN')) problems.push(`${member.address} is ${status}/${check}, expected DOWN`);
  }
  return problems;
}

/** What a running lab knows beyond its manifest; shared by lab.ts and faults.ts. */
export interface LabState {
  id: string;
  dir: string;
  manifest: LabManifest;
  ovs: OvsPaths;
  networkId: string;
  members: MemberNamespaces;
  /** The pool's haproxy as the lab last started it (null once the lab killed it). */
  haproxy: Map<string, ProcessIdentity | null>;
  /** Namespace (and its tap carrying VIPs) that faults start a haproxy in by mistake. */
  wrongNamespace: string;
  wrongDevice: string;
  /** Where pid files of processes outside any neutron state dir go. */
  runDir: string;
  save(): void;
}

/** `ovs-vsctl` arguments that add one neutron-style port (internal unless `type` says otherwise). */
export function addPortArgs(bridge: string, port: PlannedPort, networkId: string, type: 'internal' | 'system'): string[] {
  return [
    '--', 'add-port', bridge, port.name, `tag=${LAB_VLAN}`, `other_config:net_uuid=${networkId}`,
    '--', 'set', 'Interface', port.name,
    ...(type === 'internal' ? ['type=internal'] : []),
    `external_ids:iface-id=${port.portId}`,
    `external_ids:attached-mac=${port.mac}`,
    'external_ids:iface-status=active',
  ];
}

/**
 * The `ip -n NS -batch` lines that finish plugging a port moved into its namespace (neutron's plug
 * + init_l3). A device to be renamed (the amphora's eth1, as amphora-netns renames plugged NICs) is
 * renamed first, while it is still down (moving it into the namespace took it down).
 */
export function plugLines(port: PlannedPort): string[] {
  const dev = port.device;
  return [
    'link set dev lo up',
    ...(dev !== port.name ? [`link set dev ${port.name} name ${dev}`] : []),
    `link set dev ${dev} address ${port.mac}`,
    `addr add ${port.address}/${LAB_PREFIX_LENGTH} brd + scope global dev ${dev}`,
    `link set dev ${dev} up`,
    ...(port.gateway ? [`route add default via ${port.gateway} dev ${dev}`] : []),
    ...(port.policyRouting
      ? [
          `route add 10.77.0.0/${LAB_PREFIX_LENGTH} dev ${dev} src ${port.address} scope link table 1`,
          ...(port.gateway ? [`route add default via ${port.gateway} dev ${dev} onlink table 1`] : []),
          `rule add from ${port.address}/32 table 1 priority 100`,
        ]
      : []),
  ];
}
