// Lookups the API needs, as plain functions over one request's TopologySession. Each asks only
// for the probes it needs, so what a query selects decides what runs on the host.
import type { NamedNamespace } from '../host/netns.ts';
import type { ProcessInfo } from '../host/procfs.ts';
import type { Interface, NamespaceNetwork } from '../host/iproute.ts';
import type { OvsPort } from '../host/ovs.ts';
import { isUuid } from '../host/names.ts';
import type { TopologySession } from './session.ts';
import { HAPROXY_HISTORY } from './probes.ts';
import type { HaproxySighting } from './probes.ts';
import { poolsFromDeployments, vipInterfaceOf } from './pools.ts';
import { amphoraVipInterfaceName } from './amphora.ts';
import type { PoolRecord } from './pools.ts';
import { ifaceIdOf, ovsPortOfDevice, portPrefixOfDevice, PORT_PREFIX, ovsPortsOfPortId, tapNameOfPort } from './ports.ts';

/** Something seen by a probe, with when it was seen. */
export type Seen<T> = T & { observedAt: number };

/**
 * Results derived from one observation, computed once per request: a request's DataLoader hands
 * every resolver the same observation object, and a 100-pool query would otherwise rebuild the
 * pool list (or the process list) for each of its hundreds of fields.
 */
const derived = new WeakMap<object, Map<string, unknown>>();
function once<T>(observation: object, key: string, compute: () => T): T {
  let cache = derived.get(observation);
  if (!cache) derived.set(observation, (cache = new Map()));
  if (!cache.has(key)) cache.set(key, compute());
  return cache.get(key) as T;
}

export async function listPools(session: TopologySession): Promise<Seen<PoolRecord>[]> {
  const obs = await session.deployments();
  return once(obs, 'pools', () => poolsFromDeployments(obs.value).map((p) => ({ ...p, observedAt: obs.observedAt })));
}

/** Pools whose haproxy belongs in this namespace (a v2 load balancer's namespace holds several). */
export async function poolsInNamespace(session: TopologySession, namespace: string): Promise<Seen<PoolRecord>[]> {
  return (await listPools(session)).filter((p) => p.namespaceName === namespace);
}

export async function findPool(session: TopologySession, id: string): Promise<Seen<PoolRecord> | null> {
  return (await listPools(session)).find((p) => p.id === id) ?? null;
}

export async function listNamespaceRecords(session: TopologySession): Promise<Seen<NamedNamespace>[]> {
  const obs = await session.namespaces();
  return once(obs, 'records', () => obs.value.map((ns) => ({ ...ns, observedAt: obs.observedAt })));
}

export async function findNamespace(session: TopologySession, name: string): Promise<Seen<NamedNamespace> | null> {
  const obs = await session.namespaces();
  const byName = once(obs, 'byName', () => new Map(obs.value.map((ns) => [ns.name, { ...ns, observedAt: obs.observedAt }])));
  return byName.get(name) ?? null;
}

export async function listProcessRecords(session: TopologySession): Promise<Seen<ProcessInfo>[]> {
  const obs = await session.processes();
  return once(obs, 'records', () => obs.value.map((p) => ({ ...p, observedAt: obs.observedAt })));
}

/** Names of the named namespaces a process is in (what `ip netns identify` prints). */
export async function namespaceNamesOfProcess(session: TopologySession, p: ProcessInfo): Promise<string[]> {
  if (p.netnsInode === null) return [];
  const namespaces = (await session.namespaces()).value;
  return namespaces.filter((ns) => ns.inode === p.netnsInode).map((ns) => ns.name);
}

export async function processesInNamespace(session: TopologySession, ns: NamedNamespace): Promise<Seen<ProcessInfo>[]> {
  return (await listProcessRecords(session)).filter((p) => p.netnsInode === ns.inode);
}

export interface InterfaceRecord extends Interface {
  namespace: string;
  observedAt: number;
}

export async function namespaceNetwork(session: TopologySession, namespace: string): Promise<Seen<NamespaceNetwork>> {
  const obs = await session.network(namespace);
  return { ...obs.value, observedAt: obs.observedAt };
}

export async function interfacesOf(session: TopologySession, namespace: string): Promise<InterfaceRecord[]> {
  const obs = await session.network(namespace);
  return once(obs, 'interfaces', () => obs.value.interfaces.map((i) => ({ ...i, namespace, observedAt: obs.observedAt })));
}

/**
 * Finds the device named `name` in any named namespace. Runs `ip` in every namespace it has to
 * look at (qlbaas first, where taps live), so it is for single lookups, not lists.
 */
export async function findInterfaceByName(session: TopologySession, name: string): Promise<InterfaceRecord | null> {
  const namespaces = (await session.namespaces()).value;
  const ordered = [...namespaces.filter((n) => n.kind === 'qlbaas'), ...namespaces.filter((n) => n.kind !== 'qlbaas')];
  const results = await Promise.all(ordered.map((ns) => interfacesOf(session, ns.name).catch(() => [] as InterfaceRecord[])));
  for (const list of results) {
    const hit = list.find((i) => i.name === name);
    if (hit) return hit;
  }
  return null;
}

/** The device carrying the pool's VIP (or its tap), when its namespace exists. Runs `ip` there. */
export async function vipInterfaceOfPool(session: TopologySession, pool: PoolRecord): Promise<InterfaceRecord | null> {
  if (!(await findNamespace(session, pool.namespaceName))) return null;
  const interfaces = await interfacesOf(session, pool.namespaceName);
  // An amphora's VIP interface is its VRRP interface (eth1), which a BACKUP has without the VIP.
  if (pool.layout === 'octavia') {
    const name = amphoraVipInterfaceName(await session.amphora().then((o) => o.value, () => null));
    return interfaces.find((i) => i.name === name) ?? null;
  }
  const hit = vipInterfaceOf(pool, { namespace: pool.namespaceName, interfaces, routes: [] });
  return hit ? interfaces.find((i) => i.name === hit.name) ?? null : null;
}

/** A stretch of time over which the looks at /proc saw the same haproxy processes on a pool's config. */
export interface HaproxyPeriod {
  /** The first look that saw this state. */
  from: number;
  /** The last look that saw it; the change to the next period happened after this. */
  to: number;
  processes: HaproxySighting[];
}

/**
 * The pool's haproxy history, newest first, from the observation log: "when did this haproxy
 * disappear?". It holds what lbtopo looked at, up to this request's look at /proc.
 */
export async function haproxyHistoryOf(session: TopologySession, pool: PoolRecord, limit: number): Promise<HaproxyPeriod[]> {
  // This request's look at /proc (fresh or cached) belongs in the history it reads.
  await session.processes().catch(() => undefined);
  return session.runner.store.history(HAPROXY_HISTORY, pool.deployment.configPath, limit).map((row) => ({
    from: row.firstSeen,
    to: row.lastSeen,
    processes: (row.payload as HaproxySighting[] | null) ?? [],
  }));
}

export type OvsPortRecord = Seen<OvsPort>;

/** The OVS port plugging a device (runs ovs-vsctl), with when OVS was read. */
export async function ovsPortRecordOfDevice(session: TopologySession, deviceName: string): Promise<OvsPortRecord | null> {
  const ovs = await session.ovs();
  const port = ovsPortOfDevice(ovs.value, deviceName);
  return port ? { ...port, observedAt: ovs.observedAt } : null;
}

export async function listOvsPorts(session: TopologySession): Promise<OvsPortRecord[]> {
  const obs = await session.ovs();
  return obs.value.ports.map((p) => ({ ...p, observedAt: obs.observedAt }));
}

/**
 * A Neutron port as the host knows it: its id (full UUID from OVS iface-id when OVS has it,
 * else the 11-character prefix the tap name carries), the tap, and where the tap lives.
 */
export interface PortRecord {
  id: string;
  idIsPrefix: boolean;
  tapName: string;
  /** The device in a namespace, when known. */
  interface: InterfaceRecord | null;
  /** The namespace to search when the interface is not known yet. */
  namespaceHint: string | null;
}

/** The port behind a device seen in a namespace (the VIP tap of a pool). */
export async function portOfInterface(session: TopologySession, iface: InterfaceRecord): Promise<PortRecord | null> {
  const prefix = portPrefixOfDevice(iface.name);
  if (!prefix) return null;
  return { id: prefix, idIsPrefix: true, tapName: tapNameOfPort(prefix), interface: iface, namespaceHint: iface.namespace };
}

/** The full port UUID when OVS knows it (iface-id), else the prefix. Runs ovs-vsctl. */
export async function resolvePortId(session: TopologySession, port: PortRecord): Promise<{ id: string; idIsPrefix: boolean }> {
  if (!port.idIsPrefix) return { id: port.id, idIsPrefix: false };
  // Without OVS the prefix is all we know: say so (idIsPrefix) rather than fail the whole port;
  // the response's probeFailures names the failed ovs probe.
  const snapshot = await session.ovs().then((o) => o.value, () => null);
  if (!snapshot) return { id: port.id, idIsPrefix: true };
  const match = ovsPortsOfPortId(snapshot, port.id).map(ifaceIdOf).find((id): id is string => id !== null && isUuid(id));
  return match ? { id: match, idIsPrefix: false } : { id: port.id, idIsPrefix: true };
}

/** `port(id)`: by full UUID or by the 11-character prefix of a tap name. Null when nothing on the host has it. */
export async function findPort(session: TopologySession, idOrPrefix: string): Promise<PortRecord | null> {
  // OVS unreadable: the tap search below still finds the port (the failure is in probeFailures).
  const snapshot = await session.ovs().then((o) => o.value, () => null);
  const ovsPorts = snapshot ? ovsPortsOfPortId(snapshot, idOrPrefix) : [];
  const fullId = ovsPorts.map(ifaceIdOf).find((id): id is string => id !== null);
  if (ovsPorts.length > 0) {
    const id = fullId ?? idOrPrefix;
    return { id, idIsPrefix: id.length !== 36, tapName: tapNameOfPort(id), interface: null, namespaceHint: null };
  }
  // Not in OVS (its port was deleted, or OVS is not where it is plugged): look for the tap itself.
  const tap = await findInterfaceByName(session, tapNameOfPort(idOrPrefix));
  if (!tap) return null;
  return { id: idOrPrefix, idIsPrefix: idOrPrefix.length !== 36, tapName: tap.name, interface: tap, namespaceHint: tap.namespace };
}

export function isPortIdOrPrefix(text: string): boolean {
  return isUuid(text) || PORT_PREFIX.test(text);
}
