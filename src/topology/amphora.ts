// The amphora's role, read from the host alone (octavia-ovn-facts.md 1.5): keepalived adds the
// VIP/32, the table-1 routes and the `from VIP lookup 1` rule on entering MASTER and deletes them
// on entering BACKUP; there is no state file and no notify script. So:
//   SINGLE   no keepalived config: a SINGLE-topology amphora (amphora-interface owns the VIP)
//   MASTER   keepalived runs and a configured VIP is on an interface of the namespace
//   BACKUP   keepalived runs and no VIP, virtual rule or table-1 default route is there
//   FAULT    keepalived does not run (whatever addresses it left behind: a SIGKILLed keepalived
//            leaves its VIP, so the peer may hold it too), or it runs without the VIP while its
//            rules or table-1 routes are still there (a half-done transition)
//   UNKNOWN  what decides it could not be read (/proc, the namespace's addresses or rules)
// keepalived's own FAULT state (a failing track_script) also removes the VIP: from the host it
// looks like BACKUP, which is what it is for traffic; the check script's failure shows as
// HAPROXY_MISSING or STATS_SOCKET_DEAD.
import type { AmphoraState, KeepalivedFiles } from '../host/amphora-state.ts';
import type { IpRule } from '../host/ip-rules.ts';
import { isSourceRule } from '../host/ip-rules.ts';
import type { NamespaceNetwork, Route } from '../host/iproute.ts';
import type { VirtualRoute, VirtualRule, VrrpInstance } from '../host/keepalived-config.ts';
import type { ProcessInfo } from '../host/procfs.ts';
import type { TopologySession } from './session.ts';
import { liveHaproxyOf, poolsFromDeployments } from './pools.ts';
import { octaviaStatusOf } from './octavia-status.ts';
import type { OctaviaStatus } from './octavia-status.ts';

export type VrrpRole = 'SINGLE' | 'MASTER' | 'BACKUP' | 'FAULT' | 'UNKNOWN';

/** Octavia's amphora VIP NIC (NETNS_PRIMARY_INTERFACE), also its VRRP interface. */
export const AMPHORA_VIP_INTERFACE = 'eth1';
/** The policy table Octavia's VIP routes and rule use. */
export const AMPHORA_POLICY_TABLE = 1;

export interface VrrpEvidence {
  keepalivedRunning: boolean | null;
  /** Configured VIPs found on an interface of the namespace. */
  vipsPresent: string[];
  /** Configured VIPs not found. */
  vipsAbsent: string[];
  /** Configured virtual_rules not in `ip rule`. Null when the rules were not read. */
  rulesMissing: VirtualRule[] | null;
  rulesPresent: VirtualRule[] | null;
  /** Configured default routes (virtual_routes) not in the namespace. */
  defaultRoutesMissing: VirtualRoute[] | null;
  defaultRoutesPresent: VirtualRoute[] | null;
}

export interface VrrpView {
  role: VrrpRole;
  /** Why that role, in a sentence. */
  reason: string;
  instance: VrrpInstance | null;
  evidence: VrrpEvidence;
}

function isKeepalived(p: ProcessInfo): boolean {
  return p.comm === 'keepalived' || p.argv[0]?.split('/').pop() === 'keepalived';
}

/** keepalived's config file from argv: `-f X`, `--use-file X`, `--use-file=X`. */
function keepalivedConfigArg(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '-f' || a === '--use-file') && argv[i + 1] !== undefined) return argv[i + 1]!;
    if (a.startsWith('--use-file=')) return a.slice('--use-file='.length);
    if (a.startsWith('-f') && a.length > 2) return a.slice(2);
  }
  return null;
}

/** Every live keepalived process (parent and its VRRP/checker children) started on this config. */
export function keepalivedProcessesOf<P extends ProcessInfo>(configPath: string, processes: readonly P[]): P[] {
  return processes.filter((p) => p.state !== 'Z' && isKeepalived(p) && keepalivedConfigArg(p.argv) === configPath).sort((a, b) => a.startedAt - b.startedAt || a.pid - b.pid);
}

/** The keepalived parent: the pid-file process when it runs this config, else the oldest one on it whose parent is not one too. */
export function liveKeepalivedOf<P extends ProcessInfo>(files: KeepalivedFiles, processes: readonly P[]): P | null {
  const running = keepalivedProcessesOf(files.configPath, processes);
  const named = running.find((p) => files.pids.includes(p.pid));
  if (named) return named;
  const pids = new Set(running.map((p) => p.pid));
  return running.find((p) => !pids.has(p.ppid)) ?? null;
}

function sameTable(a: number | string | null, b: number | string): boolean {
  return a === b || (a === null && b === 'main') || String(a) === String(b);
}

function routePresent(expected: VirtualRoute, routes: readonly Route[]): boolean {
  const table = expected.table ?? 'main';
  return routes.some((r) => r.destination === expected.destination && sameTable(table, r.table) && (expected.gateway === null || r.gateway === expected.gateway));
}

function rulePresent(expected: VirtualRule, rules: readonly IpRule[]): boolean {
  if (expected.from === null || expected.table === null) return false;
  const address = expected.from.split('/')[0]!;
  return rules.some((r) => isSourceRule(r, address, expected.table!));
}

/** The VRRP instance keepalived runs for the amphora (Octavia writes exactly one). */
export function vrrpInstanceOf(amphora: AmphoraState | null): VrrpInstance | null {
  return amphora?.keepalived?.config?.vrrpInstances[0] ?? null;
}

/** The device haproxy's VIP lives on: the VRRP instance's interface, else eth1. */
export function amphoraVipInterfaceName(amphora: AmphoraState | null): string {
  return vrrpInstanceOf(amphora)?.interface ?? AMPHORA_VIP_INTERFACE;
}

/**
 * The live role. `processes`, `network` and `rules` are null when they could not be read; the
 * role is then UNKNOWN unless what was read already decides it.
 */
export function vrrpViewOf(amphora: AmphoraState | null, processes: readonly ProcessInfo[] | null, network: NamespaceNetwork | null, rules: readonly IpRule[] | null): VrrpView {
  const empty: VrrpEvidence = { keepalivedRunning: null, vipsPresent: [], vipsAbsent: [], rulesMissing: null, rulesPresent: null, defaultRoutesMissing: null, defaultRoutesPresent: null };
  if (!amphora) return { role: 'UNKNOWN', reason: 'the amphora files could not be read', instance: null, evidence: empty };
  const files = amphora.keepalived;
  if (!files) return { role: 'SINGLE', reason: `no keepalived config in ${amphora.octaviaDir}/vrrp: not an ACTIVE_STANDBY amphora`, instance: null, evidence: empty };
  const instance = vrrpInstanceOf(amphora);
  const running = processes ? liveKeepalivedOf(files, processes) !== null : null;
  const evidence: VrrpEvidence = { ...empty, keepalivedRunning: running };
  if (!instance) return { role: 'UNKNOWN', reason: `${files.configPath} has no readable vrrp_instance (${files.configError ?? 'none configured'})`, instance: null, evidence };
  const vips = instance.virtualIpAddresses.map((v) => v.address);
  if (network) {
    const addresses = new Set(network.interfaces.flatMap((i) => i.addresses.map((a) => a.address)));
    evidence.vipsPresent = vips.filter((v) => addresses.has(v));
    evidence.vipsAbsent = vips.filter((v) => !addresses.has(v));
    const defaults = instance.virtualRoutes.filter((r) => r.destination === 'default');
    evidence.defaultRoutesPresent = defaults.filter((r) => routePresent(r, network.routes));
    evidence.defaultRoutesMissing = defaults.filter((r) => !routePresent(r, network.routes));
  }
  if (rules) {
    evidence.rulesPresent = instance.virtualRules.filter((r) => rulePresent(r, rules));
    evidence.rulesMissing = instance.virtualRules.filter((r) => !rulePresent(r, rules));
  }
  if (running === null) return { role: 'UNKNOWN', reason: '/proc could not be read, so whether keepalived runs is unknown', instance, evidence };
  if (!running) {
    const left = evidence.vipsPresent.length > 0 ? `; it left ${evidence.vipsPresent.join(', ')} behind (the peer may hold it too)` : '';
    return { role: 'FAULT', reason: `keepalived does not run ${files.configPath}${left}`, instance, evidence };
  }
  if (!network) return { role: 'UNKNOWN', reason: `the addresses of namespace ${amphora.namespace} could not be read`, instance, evidence };
  if (evidence.vipsPresent.length > 0) return { role: 'MASTER', reason: `keepalived runs and ${evidence.vipsPresent.join(', ')} is on the VRRP interface`, instance, evidence };
  if (!rules) return { role: 'UNKNOWN', reason: `no VIP is present, but the rules of namespace ${amphora.namespace} could not be read`, instance, evidence };
  const leftovers = [...(evidence.rulesPresent ?? []).map((r) => `rule ${r.raw}`), ...(evidence.defaultRoutesPresent ?? []).map((r) => `route ${r.raw}`)];
  if (leftovers.length > 0) return { role: 'FAULT', reason: `keepalived runs without the VIP but ${leftovers.join(', ')} is still there: a half-done transition`, instance, evidence };
  return { role: 'BACKUP', reason: `keepalived runs and neither ${vips.join(', ') || 'the VIP'}, its rule nor its table-1 default route is present`, instance, evidence };
}

// ---------------------------------------------------------------------------------------------
// Lookups over one request's session (the GraphQL layer and /metrics call these).

/** The amphora's live role, reading only what decides it: the files, /proc, and ip/rule in its namespace. */
export async function vrrpViewOfSession(session: TopologySession): Promise<VrrpView> {
  const amphora = await session.amphora().then((o) => o.value);
  if (!amphora.keepalived) return vrrpViewOf(amphora, null, null, null);
  const exists = (await session.namespaces()).value.some((n) => n.name === amphora.namespace);
  const [processes, network, rules] = await Promise.all([
    session.processes().then((o) => o.value, () => null),
    exists ? session.network(amphora.namespace).then((o) => o.value, () => null) : Promise.resolve(null),
    exists ? session.rules(amphora.namespace).then((o) => o.value, () => null) : Promise.resolve(null),
  ]);
  if (!exists) return { ...vrrpViewOf(amphora, processes, null, null), ...(processes && liveKeepalivedOf(amphora.keepalived, processes) ? { role: 'FAULT' as const, reason: `namespace ${amphora.namespace} does not exist` } : {}) };
  return vrrpViewOf(amphora, processes, network, rules);
}

/** The Octavia statuses of a load balancer deployed here (null when it is not an Octavia one). */
export async function octaviaStatusOfLoadBalancer(session: TopologySession, loadBalancerId: string): Promise<OctaviaStatus | null> {
  const deployment = (await session.deployments()).value.find((d) => d.layout === 'octavia' && d.id === loadBalancerId);
  if (!deployment?.config) return null;
  const [processes, amphora] = await Promise.all([session.processes().then((o) => o.value), session.amphora().then((o) => o.value)]);
  const pools = poolsFromDeployments([deployment]);
  const probe = pools[0] ?? { deployment, id: loadBalancerId, layout: 'octavia' as const, loadBalancerId, backend: null, frontends: [], namespaceName: deployment.namespace };
  const haproxyRunning = liveHaproxyOf(probe, processes) !== null;
  const keepalivedDown = amphora.keepalived !== null && liveKeepalivedOf(amphora.keepalived, processes) === null;
  const stats = haproxyRunning && !keepalivedDown ? await session.stats(deployment.socketPath).then((o) => o.value, () => null) : null;
  return octaviaStatusOf({ loadBalancerId, config: deployment.config, haproxyRunning, stats, keepalivedDown });
}
