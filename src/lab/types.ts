import type { AmphoraFault, LabAmphoraPair } from './amphora-pair.ts';
// The public shapes of a lab. lab.ts re-exports them; the manifest stores them as JSON.

export type PoolFault =
  | 'kill-haproxy'
  | 'delete-namespace'
  | 'delete-ovs-port'
  | 'dead-vlan'
  | 'link-down'
  | 'no-default-route'
  | 'config-newer'
  | 'multiple-haproxy'
  | 'haproxy-outside-namespace'
  | 'stats-socket-removed'
  | 'vip-address-removed'
  | 'iface-id-mismatch'
  | 'ovs-interface-error'
  | 'members-down'
  // Amphora pools only (a SINGLE amphora's `from VIP lookup 1` rule): not in POOL_FAULTS, which
  // the fault tests apply to neutron-lbaas pools.
  | 'policy-rule-removed';

export const POOL_FAULTS: readonly PoolFault[] = [
  'kill-haproxy',
  'delete-namespace',
  'delete-ovs-port',
  'dead-vlan',
  'link-down',
  'no-default-route',
  'config-newer',
  'multiple-haproxy',
  'haproxy-outside-namespace',
  'stats-socket-removed',
  'vip-address-removed',
  'iface-id-mismatch',
  'ovs-interface-error',
  'members-down',
];

export function isPoolFault(value: string): value is PoolFault {
  return (POOL_FAULTS as readonly string[]).includes(value);
}

export interface LabOptions {
  /** neutron-lbaas v1 pools (default 3). */
  v1Pools?: number;
  /** neutron-lbaas v2 load balancers, one listener and pool each (default 1). */
  v2LoadBalancers?: number;
  /**
   * Octavia amphora load balancers, one listener and pool each: 0 (default) or 1. More is a
   * RangeError: an amphora's namespace has the fixed name `amphora-haproxy`, so one host holds one.
   */
  octaviaLoadBalancers?: number;
  /** Where lab dirs go (default /tmp/lbtopo-labs). */
  baseDir?: string;
  /** Wait until every pool's stats socket answers and its members are UP/DOWN as expected (default true). */
  waitForHealth?: boolean;
  /**
   * The lab outlives this process (the CLI's `lab up`): the machine lock is then held by a
   * detached holder that only labDown() releases, instead of one that dies with this process.
   * Default false: if this process dies, the lock frees and the next labUp() cleans the lab up.
   */
  outliveProcess?: boolean;
  /**
   * An ACTIVE_STANDBY amphora pair with real keepalived (default false): two amphora namespaces
   * (lbta-<lab>-0 MASTER, -1 BACKUP), each with its own base path; see amphora-pair.ts.
   */
  amphoraPair?: boolean;
  /** How long to wait for the machine-wide lab lock (default 10 minutes). */
  lockTimeoutMs?: number;
}

export interface LabMember {
  id: string;
  address: string;
  port: number;
  /** Whether health checks from this pool get an answer (UP in `show stat`). */
  answering: boolean;
  /** The shared member namespace that holds `address`. */
  namespace: string;
}

export interface LabPool {
  layout: 'v1' | 'v2' | 'octavia';
  poolId: string;
  /** v2 and Octavia. */
  loadBalancerId: string | null;
  /** The haproxy frontend name: the vip id (v1) or the listener id (v2, Octavia). */
  frontendId: string;
  /** qlbaas-<pool id> (v1), qlbaas-<lb id> (v2), amphora-haproxy (Octavia). */
  namespace: string;
  /** The neutron VIP port id (external_ids:iface-id). */
  portId: string;
  /**
   * The VIP device inside `namespace`: the neutron tap (tap + 11 characters of the port id) for
   * v1/v2. In an Octavia amphora the VIP device is eth1 (NETNS_PRIMARY_INTERFACE): the lab creates
   * the port under its tap name and renames it eth1 inside amphora-haproxy, as amphora-netns does.
   */
  tapName: string;
  /** The port's name on br-int (`ovs-vsctl list-ports`): tapName for v1/v2, the tap name eth1 had before the rename for Octavia. */
  ovsPortName: string;
  mac: string;
  vip: string;
  prefixLength: number;
  gateway: string;
  vlanTag: number;
  stateDir: string;
  configPath: string;
  pidPath: string;
  socketPath: string;
  protocolPort: number;
  members: LabMember[];
  faults: PoolFault[];
}

export interface Lab {
  id: string;
  dir: string;
  /** 'unix:/…/db.sock' */
  ovsdb: string;
  bridge: string;
  lbaasDir: string;
  octaviaDir: string;
  pools: LabPool[];
  orphanNamespaces: string[];
  orphanOvsPorts: string[];
  /** LBTOPO_* settings that point the product at this lab: LBTOPO_OVSDB, LBTOPO_LBAAS_DIR, LBTOPO_OCTAVIA_DIR, LBTOPO_NETNS_DIR (/run/netns) */
  env(): Record<string, string>;
  injectFault(poolId: string, fault: PoolFault): Promise<void>;
  /** A qlbaas-<uuid> namespace with no state dir. */
  addOrphanNamespace(): Promise<string>;
  /** A port on br-int whose device does not exist (ofport -1, error set). */
  addOrphanOvsPort(): Promise<string>;
  /** The ACTIVE_STANDBY pair, when asked for (amphoraPair). */
  readonly amphoraPair: LabAmphoraPair | null;
  /** LBTOPO_* settings that point lbtopo at amphora n of the pair, as that amphora's own lbtopo would see it. */
  amphoraEnv(index: number): Record<string, string>;
  injectAmphoraFault(index: number, fault: AmphoraFault): Promise<void>;
  /** Whether amphora n holds the VIP now (ip addr in its namespace). */
  amphoraHoldsVip(index: number): Promise<boolean>;
  /** Pid of the pool's live haproxy as the lab started it. */
  haproxyPid(poolId: string): number | null;
  down(): Promise<void>;
}
