// Names and addresses of everything in a lab, decided up front so the manifest can list every
// namespace and port before any is made. One lab network (10.77.0.0/16, one VLAN); VIPs from
// 10.77.1.2 up; two shared member namespaces at 10.77.255.10 (answers HTTP) and .11 (nothing listens).
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { OvsPaths } from './ovs.ts';
import type { LabManifest } from './manifest.ts';
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
  name: string;
  namespace: string;
  portId: string;
  mac: string;
  address: string;
  /** Only pool namespaces get a default route (neutron adds one; members need none). */
  gateway: string | null;
}

export interface MemberNamespaces {
  up: PlannedPort;
  down: PlannedPort;
}

export function planMembers(labId: string, macs: Set<string>): MemberNamespaces {
  const member = (suffix: 'up' | 'down', address: string): PlannedPort => ({
    name: `lbtm${labId}${suffix === 'up' ? 'u' : 'd'}`,
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

export function planPools(lbaasDir: string, v1Count: number, v2Count: number, members: MemberNamespaces, macs: Set<string>): LabPool[] {
  const pools: LabPool[] = [];
  for (let index = 0; index < v1Count + v2Count; index++) {
    const layout = index < v1Count ? 'v1' : 'v2';
    const poolId = randomUUID();
    const portId = randomUUID();
    const common = {
      poolId,
      portId,
      tapName: tapNameFor(portId),
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
        stateDir,
        configPath: join(stateDir, 'conf'),
        pidPath: join(stateDir, 'pid'),
        socketPath: join(stateDir, 'sock'),
        ...common,
      });
    } else {
      // v2: namespace and state dir per load balancer, under lbaas/v2/.
      const loadBalancerId = randomUUID();
      const stateDir = join(lbaasDir, 'v2', loadBalancerId);
      pools.push({
        layout,
        loadBalancerId,
        frontendId: randomUUID(), // the listener id
        namespace: `qlbaas-${loadBalancerId}`,
        stateDir,
        configPath: join(stateDir, 'haproxy.conf'),
        pidPath: join(stateDir, 'haproxy.pid'),
        socketPath: join(stateDir, 'haproxy_stats.sock'),
        ...common,
      });
    }
  }
  return pools;
}

export function poolPort(pool: LabPool): PlannedPort {
  return { name: pool.tapName, namespace: pool.namespace, portId: pool.portId, mac: pool.mac, address: pool.vip, gateway: pool.gateway };
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

/** The `ip -n NS -batch` lines that finish plugging a port moved into its namespace (neutron's plug + init_l3). */
export function plugLines(port: PlannedPort): string[] {
  return [
    'link set dev lo up',
    `link set dev ${port.name} address ${port.mac}`,
    `addr add ${port.address}/${LAB_PREFIX_LENGTH} brd + scope global dev ${port.name}`,
    `link set dev ${port.name} up`,
    ...(port.gateway ? [`route add default via ${port.gateway} dev ${port.name}`] : []),
  ];
}
