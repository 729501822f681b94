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
import { isProcessVisible } from './process-visibility.ts';
import { canonicalConfigOf, interfaceIndex, namespaceIndex, ovsIndex, poolIndex, processIndex } from './indexes.ts';
import type { PoolRecord } from './pools.ts';
import { ifaceIdOf, ovsPortOfDevice, portPrefixOfDevice, PORT_PREFIX, ovsPortsOfPortId, tapNameOfPort } from './ports.ts';

/** Something seen by a probe, with when it was seen. */
export type Seen<T> = T & { observedAt: number };

/**
 * Results derived from one observation, computed once and shared by every request while the
 * observation is unchanged. They are keyed by the payload object, which the store hands out for
 * as long as its row is the latest (topology/indexes.ts), and carry the observation time: a later
 * look that saw the same payload only moves observedAt, which rebuilds the records (not the parse).
 * A 200-pool query would otherwise rebuild the pool list (or the process list) per field, and
 * every request would rebuild the indexes keyed by those lists.
 */
const derived = new WeakMap<object, Map<string, { observedAt: number; value: unknown }>>();
function once<T>(observation: { value: unknown; observedAt: number }, key: string, compute: () => T): T {
  const payload = observation.value;
  if (typeof payload !== 'object' || payload === null) return compute();
  let cache = derived.get(payload);
  if (!cache) derived.set(payload, (cache = new Map()));
  const hit = cache.get(key);
  if (hit && hit.observedAt === observation.observedAt) return hit.value as T;
  const value = compute();
  cache.set(key, { observedAt: observation.observedAt, value });
  return value;
}

export async function listPools(session: TopologySession): Promise<Seen<PoolRecord>[]> {
  const obs = await session.deployments();
  return once(obs, 'pools', () => poolsFromDeployments(obs.value).map((p) => ({ ...p, observedAt: obs.observedAt })));
}

/** Pools whose haproxy belongs in this namespace (a v2 load balancer's namespace holds several). */
export async function poolsInNamespace(session: TopologySession, namespace: string): Promise<Seen<PoolRecord>[]> {
  return [...(poolIndex(await listPools(session)).byNamespace.get(namespace) ?? [])];
}

export async function findPool(session: TopologySession, id: string): Promise<Seen<PoolRecord> | null> {
  return poolIndex(await listPools(session)).byId.get(id) ?? null;
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

export async function findProcess(session: TopologySession, pid: number): Promise<Seen<ProcessInfo> | null> {
  return processIndex(await listProcessRecords(session)).byPid.get(pid) ?? null;
}

/**
 * The processes the API shows (topology/process-visibility.ts): with LBTOPO_PROCESSES=lbaas,
 * those in named namespaces plus haproxy and keepalived. When the namespace list cannot be read,
 * only haproxy and keepalived are shown: it fails closed.
 */
export async function listVisibleProcesses(session: TopologySession): Promise<Seen<ProcessInfo>[]> {
  const processes = await listProcessRecords(session);
  const visibility = session.config.processVisibility ?? 'lbaas';
  if (visibility === 'all') return processes;
  const namespaces = await session.namespaces().then((o) => o.value, () => [] as NamedNamespace[]);
  return processes.filter((p) => isProcessVisible(p, namespaces, visibility));
}

export async function findVisibleProcess(session: TopologySession, pid: number): Promise<Seen<ProcessInfo> | null> {
  const p = await findProcess(session, pid);
  if (!p) return null;
  const visibility = session.config.processVisibility ?? 'lbaas';
  if (visibility === 'all') return p;
  const namespaces = await session.namespaces().then((o) => o.value, () => [] as NamedNamespace[]);
  return isProcessVisible(p, namespaces, visibility) ? p : null;
}

/** Names of the named namespaces a process is in (what `ip netns identify` prints). */
export async function namespaceNamesOfProcess(session: TopologySession, p: ProcessInfo): Promise<string[]> {
  if (p.netnsInode === null) return [];
  const namespaces = (await session.namespaces()).value;
  return [...(namespaceIndex(namespaces).namesByInode.get(p.netnsInode) ?? [])];
}

export async function processesInNamespace(session: TopologySession, ns: NamedNamespace): Promise<Seen<ProcessInfo>[]> {
  return [...(processIndex(await listProcessRecords(session)).byNetnsInode.get(ns.inode) ?? [])];
}

export interface InterfaceRecord extends Interface {
  namespace: string;
  observedAt: number;
}

export async function namespaceNetwork(session: TopologySession, namespace: string): Promise<Seen<NamespaceNetwork>> {
  const obs = await session.network(namespace);
  return { ...obs.value, observedAt: obs.observedAt };
}

export async function findInterface(session: TopologySession, namespace: string, name: string): Promise<InterfaceRecord | null> {
  return interfaceIndex(await interfacesOf(session, namespace)).byName.get(name) ?? null;
}

export async function interfacesOf(session: TopologySession, namespace: string): Promise<InterfaceRecord[]> {
  const obs = await session.network(namespace);
  return once(obs, 'interfaces', () => obs.value.interfaces.map((i) => ({ ...i, namespace, observedAt: obs.observedAt })));
}

/**
 * Finds the device named `name` in any named namespace, without looking in every namespace: the
 * latest look at each namespace (cached, whatever its age) says where the device was; that
 * namespace is then looked at as the request's freshness asks, to confirm. Only namespaces never
 * looked at are looked at now (qlbaas first, where taps live). With `maxAge` given, a cached look
 * older than it does not count as seen, so `maxAge: 0` searches every namespace afresh.
 */
export async function findInterfaceByName(session: TopologySession, name: string): Promise<InterfaceRecord | null> {
  const namespaces = (await session.namespaces()).value;
  const unseen: NamedNamespace[] = [];
  for (const ns of namespaces) {
    const cached = session.cachedNetwork(ns.name);
    if (!cached) {
      unseen.push(ns);
      continue;
    }
    if (!interfaceIndex(cached.interfaces).byName.has(name)) continue;
    const hit = await findInterface(session, ns.name, name).catch(() => null);
    if (hit) return hit;
  }
  const ordered = [...unseen.filter((n) => n.kind === 'qlbaas'), ...unseen.filter((n) => n.kind !== 'qlbaas')];
  const results = await Promise.all(ordered.map((ns) => findInterface(session, ns.name, name).catch(() => null)));
  return results.find((hit) => hit !== null) ?? null;
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
  return hit ? interfaceIndex(interfaces).byName.get(hit.name) ?? null : null;
}

/** A stretch of time over which the looks at /proc saw the same haproxy processes on a pool's config. */
export interface HaproxyPeriod {
  /** The first look that saw this state. */
  from: number;
  /** The last look that saw it; the change to the next period happened after this. */
  to: number;
  processes: HaproxySighting[];
  /**
   * True for a period that begins at lbtopo's first look at /proc: nothing older is known (a pool
   * whose haproxy was dead at the first look is "missing since the first look at T").
   */
  sinceFirstLook: boolean;
}

/** A period in words: "running pid 42 since ...", "missing since the first look at ...". */
export function describePeriod(p: HaproxyPeriod): string {
  const state = p.processes.length === 0 ? 'missing' : `running (pid ${p.processes.map((s) => s.pid).join(', ')})`;
  const from = new Date(p.from).toISOString();
  const to = new Date(p.to).toISOString();
  return p.sinceFirstLook ? `${state} since the first look at ${from} (last seen so at ${to})` : `${state} from ${from} to ${to}`;
}

/**
 * The pool's haproxy history, newest first, from the observation log: "when did this haproxy
 * disappear?". It holds what lbtopo looked at, up to this request's look at /proc.
 */
export async function haproxyHistoryOf(session: TopologySession, pool: PoolRecord, limit: number): Promise<HaproxyPeriod[]> {
  // This request's look at /proc (fresh or cached) belongs in the history it reads.
  await session.processes().catch(() => undefined);
  const store = session.runner.store;
  const looks = store.looks(HAPROXY_HISTORY);
  const periods: HaproxyPeriod[] = store.history(HAPROXY_HISTORY, canonicalConfigOf(pool), limit).map((row) => ({
    from: row.firstSeen,
    to: row.lastSeen,
    processes: (row.payload as HaproxySighting[] | null) ?? [],
    sinceFirstLook: looks !== null && row.firstSeen <= looks.first,
  }));
  // Never seen running: the summary has no row for this config, yet every look saw it missing.
  if (periods.length === 0 && looks) periods.push({ from: looks.first, to: looks.last, processes: [], sinceFirstLook: true });
  return periods;
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
  return once(obs, 'records', () => obs.value.ports.map((p) => ({ ...p, observedAt: obs.observedAt })));
}

export async function findOvsPort(session: TopologySession, name: string): Promise<OvsPortRecord | null> {
  const obs = await session.ovs();
  const port = ovsIndex(obs.value).byName.get(name);
  return port ? { ...port, observedAt: obs.observedAt } : null;
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
