// Pools from the LBaaS state dirs, and the joins from a pool to what runs it: the namespace it
// should live in, the frontends that send traffic to it, its VIP, the haproxy processes started
// on its config, and the interface carrying its VIP. Plain functions over probe results.
import type { LbaasDeployment } from '../host/lbaas-state.ts';
import type { HaproxyBackend, HaproxyFrontend } from '../host/haproxy-config.ts';
import type { ProcessInfo } from '../host/procfs.ts';
import type { Interface, NamespaceNetwork } from '../host/iproute.ts';
import { isInternalProxy } from './octavia-status.ts';
import { canonicalConfigOf, haproxyIdentity, interfaceIndex, poolIndex, processIndex } from './indexes.ts';

export interface PoolRecord {
  /** The pool UUID: the v1 state dir name, or the backend name (Octavia: before the ':'). */
  id: string;
  layout: LbaasDeployment['layout'];
  /** v2 and Octavia: the load balancer the pool belongs to. */
  loadBalancerId: string | null;
  deployment: LbaasDeployment;
  /** The haproxy backend of this pool; null when the config could not be read. */
  backend: HaproxyBackend | null;
  /** Frontends whose default_backend is this pool. */
  frontends: HaproxyFrontend[];
  /** Where the pool's haproxy must run. */
  namespaceName: string;
}

const poolsByDeployments = new WeakMap<readonly LbaasDeployment[], PoolRecord[]>();

/** poolsFromDeployments, once per observation of the state dirs (the payload is never mutated). */
export function poolsOf(deployments: readonly LbaasDeployment[]): PoolRecord[] {
  let pools = poolsByDeployments.get(deployments);
  if (!pools) poolsByDeployments.set(deployments, (pools = poolsFromDeployments(deployments)));
  return pools;
}

/**
 * One record per pool: a v1 deployment is one pool (kept even when its config cannot be parsed,
 * since the state dir alone says the pool exists); a v2 or Octavia load balancer holds one pool per backend.
 */
export function poolsFromDeployments(deployments: readonly LbaasDeployment[]): PoolRecord[] {
  const pools: PoolRecord[] = [];
  for (const d of deployments) {
    const config = d.config;
    if (d.layout === 'v1') {
      const backend = config?.backends.find((b) => b.poolId === d.id) ?? config?.backends[0] ?? null;
      pools.push({
        id: d.id,
        layout: d.layout,
        loadBalancerId: null,
        deployment: d,
        backend,
        frontends: config ? frontendsOf(config.frontends, backend) : [],
        namespaceName: d.namespace,
      });
      continue;
    }
    for (const backend of config?.backends ?? []) {
      // Octavia's prometheus-exporter-internal backend (a PROMETHEUS listener) is no pool.
      if (d.layout === 'octavia' && isInternalProxy(backend.name)) continue;
      pools.push({
        id: backend.poolId,
        layout: d.layout,
        loadBalancerId: d.id,
        deployment: d,
        backend,
        frontends: frontendsOf(config!.frontends, backend),
        namespaceName: d.namespace,
      });
    }
  }
  return pools.sort((a, b) => a.id.localeCompare(b.id));
}

function frontendsOf(frontends: readonly HaproxyFrontend[], backend: HaproxyBackend | null): HaproxyFrontend[] {
  if (!backend) return [];
  return frontends.filter((f) => f.defaultBackend === backend.name);
}

/** The VIP: the first bind of the pool's frontends with a concrete address. */
export function vipOf(pool: PoolRecord): { address: string; port: number | null; frontend: string } | null {
  for (const f of pool.frontends) {
    for (const b of f.binds) {
      if (b.address && b.address !== '*' && b.address !== '0.0.0.0' && b.address !== '::') {
        return { address: b.address, port: b.port, frontend: f.name };
      }
    }
  }
  return null;
}

/** Whether the process is a haproxy: argv[0] and /proc/PID/exe both say so (see host/haproxy-process.ts). */
export function isHaproxy(p: ProcessInfo): boolean {
  return haproxyIdentity(p) !== null;
}

/** haproxy's config files (-f, canonical: cwd-resolved and realpath()ed) and pid file (-p) from its argv. */
export function haproxyFiles(p: ProcessInfo): { configPaths: string[]; givenConfigPaths: string[]; pidFile: string | null } {
  const identity = haproxyIdentity(p);
  return identity ? { configPaths: identity.configPaths, givenConfigPaths: identity.givenConfigPaths, pidFile: identity.pidFile } : { configPaths: [], givenConfigPaths: [], pidFile: null };
}

/** Every live haproxy started on this pool's config (draining old ones included), oldest first. One Map lookup. */
export function haproxyProcessesOf<P extends ProcessInfo>(pool: PoolRecord, processes: readonly P[]): P[] {
  return [...(processIndex(processes).haproxyByConfig.get(canonicalConfigOf(pool)) ?? [])];
}

/**
 * The pool's live haproxy: the process the pid file names, when it is alive and runs this
 * config; otherwise the newest haproxy on this config (a reload that rewrote the pid file late,
 * or a hand-started one). Null when none runs.
 */
export function liveHaproxyOf<P extends ProcessInfo>(pool: PoolRecord, processes: readonly P[]): P | null {
  const candidates = processIndex(processes).haproxyByConfig.get(canonicalConfigOf(pool)) ?? [];
  if (candidates.length === 0) return null;
  const pids = pool.deployment.pids;
  for (let i = candidates.length - 1; i >= 0; i--) if (pids.includes(candidates[i]!.pid)) return candidates[i]!;
  return candidates.at(-1) ?? null;
}

/** Pid-file pids that name no live haproxy on this config (a stale pid file). */
export function stalePidsOf(pool: PoolRecord, processes: readonly ProcessInfo[]): number[] {
  const live = new Set((processIndex(processes).haproxyByConfig.get(canonicalConfigOf(pool)) ?? []).map((p) => p.pid));
  return pool.deployment.pids.filter((pid) => !live.has(pid));
}

/** The pool a haproxy process serves, found by its canonical -f config path. */
export function poolOfProcess<R extends PoolRecord>(p: ProcessInfo, pools: readonly R[]): R | null {
  const identity = haproxyIdentity(p);
  if (!identity) return null;
  const byConfig = poolIndex(pools).byConfig;
  for (const config of identity.configPaths) {
    const hit = byConfig.get(config)?.[0];
    if (hit) return hit;
  }
  return null;
}

/** The interface in the pool's namespace that carries the VIP; failing that, its tap. */
export function vipInterfaceOf(pool: PoolRecord, network: NamespaceNetwork): Interface | null {
  const vip = vipOf(pool);
  if (vip) {
    const byAddress = interfaceIndex(network.interfaces).byAddress.get(vip.address)?.[0];
    if (byAddress) return byAddress;
  }
  // The VIP address may have been removed: the tap (or veth ns- device) is still the VIP interface.
  return network.interfaces.find((i) => /^(tap|ns-)[0-9a-f]{8}-[0-9a-f]{2}$/.test(i.name)) ?? null;
}
