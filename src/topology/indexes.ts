// The indexes the joins need, built once per observation and reused by every request while the
// observation is unchanged. The cache hands every request the same payload object for the same
// stored row (ObservationStore keeps the parsed latest payload per row id), so a WeakMap keyed by
// that object holds each index exactly as long as the observation is current: a new look makes a
// new object and a new index; the old one goes with its payload. No join scans one list for each
// item of another: each is a Map lookup.
import { resolve } from 'node:path';
import type { ProcessInfo } from '../host/procfs.ts';
import type { NamedNamespace } from '../host/netns.ts';
import type { Interface } from '../host/iproute.ts';
import type { OvsPort, OvsSnapshot } from '../host/ovs.ts';
import type { LbaasDeployment } from '../host/lbaas-state.ts';
import { flagValues, recognizeHaproxy } from '../host/haproxy-process.ts';
import type { HaproxyIdentity } from '../host/haproxy-process.ts';

/** One index per (source object, kind of index). */
function memo<S extends object, I>(cache: WeakMap<S, I>, source: S, build: (source: S) => I): I {
  let index = cache.get(source);
  if (index === undefined) {
    index = build(source);
    cache.set(source, index);
  }
  return index;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

// ---------------------------------------------------------------------------------------------
// Processes

/**
 * A process's haproxy identity: the one the /proc scan recorded, or, for an observation cached by
 * an older build (no `haproxy` field), one derived from argv and exe alone (absolute -f only).
 */
export function haproxyIdentity(p: ProcessInfo): HaproxyIdentity | null {
  if (p.haproxy !== undefined) return p.haproxy;
  const matched = recognizeHaproxy(p.argv, p.exe, p.comm);
  if (matched === null) return null;
  const given = flagValues(p.argv, '-f');
  return { matched, givenConfigPaths: given, configPaths: given.map((c) => resolve(c)), pidFile: flagValues(p.argv, '-p')[0] ?? null };
}

export interface ProcessIndex<P extends ProcessInfo> {
  byPid: ReadonlyMap<number, P>;
  byNetnsInode: ReadonlyMap<number, readonly P[]>;
  /** Live (not zombie) haproxy processes by canonical config path, oldest first. */
  haproxyByConfig: ReadonlyMap<string, readonly P[]>;
}

const processIndexes = new WeakMap<readonly ProcessInfo[], ProcessIndex<ProcessInfo>>();

export function processIndex<P extends ProcessInfo>(processes: readonly P[]): ProcessIndex<P> {
  return memo(processIndexes, processes, (list) => {
    const byPid = new Map<number, ProcessInfo>();
    const byNetnsInode = new Map<number, ProcessInfo[]>();
    const haproxyByConfig = new Map<string, ProcessInfo[]>();
    for (const p of list) {
      byPid.set(p.pid, p);
      if (p.netnsInode !== null) push(byNetnsInode, p.netnsInode, p);
      if (p.state === 'Z') continue;
      const identity = haproxyIdentity(p);
      if (!identity) continue;
      for (const config of new Set(identity.configPaths)) push(haproxyByConfig, config, p);
    }
    for (const group of haproxyByConfig.values()) group.sort((a, b) => a.startedAt - b.startedAt || a.pid - b.pid);
    return { byPid, byNetnsInode, haproxyByConfig };
  }) as ProcessIndex<P>;
}

// ---------------------------------------------------------------------------------------------
// Namespaces

export interface NamespaceIndex<N extends NamedNamespace> {
  byName: ReadonlyMap<string, N>;
  /** Every name bound to one nsfs inode, sorted. */
  namesByInode: ReadonlyMap<number, readonly string[]>;
}

const namespaceIndexes = new WeakMap<readonly NamedNamespace[], NamespaceIndex<NamedNamespace>>();

export function namespaceIndex<N extends NamedNamespace>(namespaces: readonly N[]): NamespaceIndex<N> {
  return memo(namespaceIndexes, namespaces, (list) => {
    const byName = new Map<string, NamedNamespace>();
    const namesByInode = new Map<number, string[]>();
    for (const ns of list) {
      byName.set(ns.name, ns);
      push(namesByInode, ns.inode, ns.name);
    }
    for (const names of namesByInode.values()) names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { byName, namesByInode };
  }) as NamespaceIndex<N>;
}

// ---------------------------------------------------------------------------------------------
// One namespace's interfaces

export interface InterfaceIndex<I extends Interface> {
  byName: ReadonlyMap<string, I>;
  /** Address (without prefix length) -> the interfaces carrying it, in ip's order. */
  byAddress: ReadonlyMap<string, readonly I[]>;
}

const interfaceIndexes = new WeakMap<readonly Interface[], InterfaceIndex<Interface>>();

export function interfaceIndex<I extends Interface>(interfaces: readonly I[]): InterfaceIndex<I> {
  return memo(interfaceIndexes, interfaces, (list) => {
    const byName = new Map<string, Interface>();
    const byAddress = new Map<string, Interface[]>();
    for (const i of list) {
      if (!byName.has(i.name)) byName.set(i.name, i);
      for (const a of i.addresses) push(byAddress, a.address, i);
    }
    return { byName, byAddress };
  }) as InterfaceIndex<I>;
}

// ---------------------------------------------------------------------------------------------
// OVS

const DEVICE_PREFIX = /^(?:tap|ns-|qr-|qg-|sg-|ha-|fg-)([0-9a-f]{8}-[0-9a-f]{2})$/;

export interface OvsIndex {
  byName: ReadonlyMap<string, OvsPort>;
  /** Full external_ids:iface-id -> ports. */
  byIfaceId: ReadonlyMap<string, readonly OvsPort[]>;
  /**
   * 11-character port-id prefix -> ports: from the iface-id when the port has one, else from the
   * device name (tap + 11 characters).
   */
  byPrefix: ReadonlyMap<string, readonly OvsPort[]>;
}

const ovsIndexes = new WeakMap<OvsSnapshot, OvsIndex>();

/** The iface-id of a port's first interface that has one. */
function firstIfaceId(port: OvsPort): string | null {
  for (const i of port.interfaces) {
    const id = i.externalIds['iface-id'];
    if (id) return id;
  }
  return null;
}

export function ovsIndex(snapshot: OvsSnapshot): OvsIndex {
  return memo(ovsIndexes, snapshot, (s) => {
    const byName = new Map<string, OvsPort>();
    const byIfaceId = new Map<string, OvsPort[]>();
    const byPrefix = new Map<string, OvsPort[]>();
    for (const port of s.ports) {
      if (!byName.has(port.name)) byName.set(port.name, port);
      const id = firstIfaceId(port);
      if (id) {
        push(byIfaceId, id, port);
        push(byPrefix, id.slice(0, 11), port);
      } else {
        const prefix = DEVICE_PREFIX.exec(port.name)?.[1];
        if (prefix) push(byPrefix, prefix, port);
      }
    }
    return { byName, byIfaceId, byPrefix };
  });
}

// ---------------------------------------------------------------------------------------------
// Stats rows

export interface StatsRowLike {
  type: string;
  pxname: string;
  svname: string;
}

export interface StatsIndex<R extends StatsRowLike> {
  /** `${backend}\0${server}` -> the server row. */
  serverRow(backend: string, server: string): R | undefined;
  /** Rows by proxy name (frontend, backend, servers), in the socket's order. */
  byProxy: ReadonlyMap<string, readonly R[]>;
}

const statsIndexes = new WeakMap<readonly StatsRowLike[], StatsIndex<StatsRowLike>>();

export function statsIndex<R extends StatsRowLike>(rows: readonly R[]): StatsIndex<R> {
  return memo(statsIndexes, rows, (list) => {
    const servers = new Map<string, StatsRowLike>();
    const byProxy = new Map<string, StatsRowLike[]>();
    for (const r of list) {
      push(byProxy, r.pxname, r);
      if (r.type === 'server') {
        const key = `${r.pxname}\u0000${r.svname}`;
        if (!servers.has(key)) servers.set(key, r);
      }
    }
    return { serverRow: (backend, server) => servers.get(`${backend}\u0000${server}`), byProxy };
  }) as StatsIndex<R>;
}

// ---------------------------------------------------------------------------------------------
// Pools

export interface PoolLike {
  id: string;
  namespaceName: string;
  deployment: Pick<LbaasDeployment, 'configPath'> & Partial<Pick<LbaasDeployment, 'configRealPath'>>;
}

/** The canonical config path of a deployment (older cached observations lack configRealPath). */
export function canonicalConfigOf(pool: PoolLike): string {
  return pool.deployment.configRealPath ?? resolve(pool.deployment.configPath);
}

export interface PoolIndex<R extends PoolLike> {
  byId: ReadonlyMap<string, R>;
  byNamespace: ReadonlyMap<string, readonly R[]>;
  byConfig: ReadonlyMap<string, readonly R[]>;
}

const poolIndexes = new WeakMap<readonly PoolLike[], PoolIndex<PoolLike>>();

export function poolIndex<R extends PoolLike>(pools: readonly R[]): PoolIndex<R> {
  return memo(poolIndexes, pools, (list) => {
    const byId = new Map<string, PoolLike>();
    const byNamespace = new Map<string, PoolLike[]>();
    const byConfig = new Map<string, PoolLike[]>();
    for (const p of list) {
      if (!byId.has(p.id)) byId.set(p.id, p);
      push(byNamespace, p.namespaceName, p);
      push(byConfig, canonicalConfigOf(p), p);
    }
    return { byId, byNamespace, byConfig };
  }) as PoolIndex<R>;
}
