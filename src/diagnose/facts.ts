// The facts the rules judge, and how they are gathered: through the request's TopologySession,
// only the probes the asked-for codes need (codes.ts lists them), only for the pools asked about.
// A probe that failed leaves its fact out and records a gap; the rules skip what they cannot
// see and the gap becomes a CHECK_INCOMPLETE, so an unreadable OVS is never "port missing".
// A stale observation (the newest look failed, the last good one was served) counts as a gap
// too: judging today's host on yesterday's snapshot would report problems that are gone.
import type { LbaasDeployment } from '../host/lbaas-state.ts';
import type { NamedNamespace } from '../host/netns.ts';
import type { ProcessInfo } from '../host/procfs.ts';
import type { NamespaceNetwork } from '../host/iproute.ts';
import type { OvsPort, OvsSnapshot } from '../host/ovs.ts';
import type { Observed } from '../cache/runner.ts';
import { ProbeFailedError } from '../cache/runner.ts';
import type { ProbeName } from '../config.ts';
import type { TopologySession } from '../topology/session.ts';
import type { StatsObservation } from '../topology/probes.ts';
import { poolsOf } from '../topology/pools.ts';
import type { PoolRecord } from '../topology/pools.ts';
import { PROBLEM_CODES } from './codes.ts';
import type { AmphoraState } from '../host/amphora-state.ts';
import type { IpRule } from '../host/ip-rules.ts';
import type { HaproxyPeriod } from '../topology/queries.ts';
import { gatherAmphoraFacts } from './amphora-facts.ts';
import type { ProblemCode } from './codes.ts';
import { gatherCloudFacts } from './cloud-facts.ts';
import type { CloudFacts } from './cloud-facts.ts';

/** A probe that could not be read for this diagnosis. */
export interface ProbeGap {
  probe: ProbeName;
  /** Namespace (ip), socket path (stats), OVSDB target (ovs); '' for host-wide probes. */
  scope: string;
  kind: string;
  message: string;
  /** When a stale observation was left unused: its age. */
  staleObservedAt: number | null;
}

/**
 * Everything the rules look at. A fact that is null (or absent from a map) was either not
 * needed or could not be read; `gaps` says which.
 */
export interface DiagnosisFacts {
  /** Every state dir (a v2 load balancer whose config does not parse still names its namespace). */
  deployments: LbaasDeployment[];
  /** Every pool on the host (orphan rules need them all, even when only some are checked). */
  allPools: PoolRecord[];
  /** The pools to check. */
  pools: PoolRecord[];
  namespaces: NamedNamespace[] | null;
  processes: ProcessInfo[] | null;
  /** Namespace name -> what `ip` saw in it. */
  networks: ReadonlyMap<string, NamespaceNetwork>;
  ovs: OvsSnapshot | null;
  /** Stats socket path -> its answer (reachable or not). */
  stats: ReadonlyMap<string, StatsObservation>;
  /** What the cloud says (null: no cloud configured, or no cloud code asked). */
  cloud?: CloudFacts | null;
  /** The amphora's keepalived, agent and certificate files; null when not needed or not read. */
  amphora: AmphoraState | null;
  /** Namespace -> its `ip rule` list (amphora namespaces only). */
  rules: ReadonlyMap<string, IpRule[]>;
  /** Config path -> haproxy history, newest first (for HAPROXY_RESTARTING). */
  haproxyHistory: ReadonlyMap<string, Array<Pick<HaproxyPeriod, 'from' | 'to' | 'processes'>>>;
  /** When the facts were gathered (epoch ms), for certificate expiry. */
  now: number;
  certWarningDays: number;
  gaps: ProbeGap[];
}

export function emptyFacts(overrides: Partial<DiagnosisFacts> = {}): DiagnosisFacts {
  return {
    deployments: [], allPools: [], pools: [], namespaces: null, processes: null, networks: new Map(), ovs: null, stats: new Map(), cloud: null,
    amphora: null, rules: new Map(), haproxyHistory: new Map(), now: Date.now(), certWarningDays: 14, gaps: [], ...overrides,
  };
}

export function probesNeededBy(codes: Iterable<ProblemCode>): Set<ProbeName> {
  const needs = new Set<ProbeName>(['lbaas']);
  for (const code of codes) for (const p of PROBLEM_CODES[code].needs) needs.add(p);
  return needs;
}

/** ofport -1 (or an error): vswitchd could not open the device. */
export function ovsPortInError(port: OvsPort): boolean {
  return port.interfaces.some((i) => i.ofport === -1 || (i.error !== null && i.error !== ''));
}

export interface GatherRequest {
  codes: ReadonlySet<ProblemCode>;
  /** Which pools to check; default all. */
  poolFilter?: (pool: PoolRecord) => boolean;
}

export async function gatherFacts(session: TopologySession, request: GatherRequest): Promise<DiagnosisFacts> {
  const needs = probesNeededBy(request.codes);
  const gaps: ProbeGap[] = [];
  const read = async <T>(probe: ProbeName, scope: string, observation: Promise<Observed<T>>): Promise<T | null> => {
    try {
      const obs = await observation;
      if (!obs.stale) return obs.value;
      gaps.push({ probe, scope, kind: obs.error?.kind ?? 'stale', message: obs.error?.message ?? 'the newest look failed', staleObservedAt: obs.observedAt });
      return null;
    } catch (err) {
      const kind = err instanceof ProbeFailedError ? err.kind : 'failed';
      gaps.push({ probe, scope, kind, message: (err as Error).message, staleObservedAt: null });
      return null;
    }
  };

  const deployments = await read('lbaas', '', session.deployments());
  if (!deployments) return emptyFacts({ gaps });
  const allPools = poolsOf(deployments);
  const pools = request.poolFilter ? allPools.filter(request.poolFilter) : allPools;
  // Nothing to check and no host-wide rule asked: stop before any other probe.
  const hostWide = [...request.codes].some((c) => !PROBLEM_CODES[c].perPool && c !== 'CHECK_INCOMPLETE');
  if (pools.length === 0 && !hostWide) return emptyFacts({ deployments, allPools, pools, gaps });

  // The cloud is asked alongside the host, so a slow cloud adds its deadline at most, not to each host probe.
  const cloudFacts = needs.has('cloud') ? gatherCloudFacts(session, request.codes, pools, gaps) : Promise.resolve(null);
  const sockets = needs.has('stats') ? [...new Set(pools.map((p) => p.deployment.socketPath))] : [];
  const [namespaces, processes, ovs, statsAnswers] = await Promise.all([
    needs.has('netns') || needs.has('ip') ? read('netns', '', session.namespaces()) : null,
    needs.has('proc') ? read('proc', '', session.processes()) : null,
    needs.has('ovs') ? read('ovs', session.config.ovsdb, session.ovs()) : null,
    Promise.all(sockets.map(async (s) => [s, await read('stats', s, session.stats(s))] as const)),
  ]);

  // ip runs per namespace, so only where a rule needs it: the checked pools' namespaces; and for
  // ORPHAN_OVS_PORT every state dir's namespace, but only when OVS shows a port in error (telling
  // a pool's broken tap from a leftover needs the devices; no port in error needs nothing more).
  const ipNamespaces = new Set<string>();
  if (needs.has('ip')) for (const p of pools) ipNamespaces.add(p.namespaceName);
  const orphanPortsNeedDevices = request.codes.has('ORPHAN_OVS_PORT') && (ovs?.ports.some(ovsPortInError) ?? false);
  if (orphanPortsNeedDevices) for (const d of deployments) ipNamespaces.add(d.namespace);
  const namespaceList = namespaces ?? (orphanPortsNeedDevices && !needs.has('netns') && !needs.has('ip') ? await read('netns', '', session.namespaces()) : null);
  const existing = new Set((namespaceList ?? []).map((n) => n.name));
  const ipNames = [...ipNamespaces].filter((n) => existing.has(n));
  const networks = new Map<string, NamespaceNetwork>();
  await Promise.all(
    ipNames.map(async (name) => {
      const net = await read('ip', name, session.network(name));
      if (net) networks.set(name, net);
    }),
  );

  const stats = new Map<string, StatsObservation>();
  for (const [socket, answer] of statsAnswers) if (answer) stats.set(socket, answer);
  const facts = { ...emptyFacts(), deployments, allPools, pools, namespaces: namespaceList, processes, networks, ovs, stats, cloud: await cloudFacts, gaps, certWarningDays: session.config.certWarningDays };
  return gatherAmphoraFacts(session, request.codes, facts, read);
}
