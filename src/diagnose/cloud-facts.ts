// The cloud's side of the facts: gathered only when a cloud is configured and a cloud code is
// asked for, only for the v2 and Octavia pools being checked (neutron-lbaas v1 has no API left).
// Lists are one call each per look (ports, load balancers, listeners, pools); members come from
// the status tree of each load balancer deployed here, only when a member rule is asked for.
// A list the cloud did not give (or gave only stale) leaves its fact null and records one gap
// naming the cloud, so "could not ask" is never read as "the API does not know it".
import type { Observed } from '../cache/runner.ts';
import { ProbeFailedError } from '../cache/runner.ts';
import type { NeutronPort } from '../cloud/neutron.ts';
import type { LoadBalancerStatusTree, OctaviaListener, OctaviaLoadBalancer, OctaviaPool } from '../cloud/octavia.ts';
import type { TopologySession } from '../topology/session.ts';
import { statusScope } from '../topology/cloud-probes.ts';
import type { PoolRecord } from '../topology/pools.ts';
import type { ProblemCode } from './codes.ts';
import type { ProbeGap } from './facts.ts';

export interface CloudFacts {
  cloud: string;
  host: string;
  ports: NeutronPort[] | null;
  loadBalancers: OctaviaLoadBalancer[] | null;
  listeners: OctaviaListener[] | null;
  pools: OctaviaPool[] | null;
  /** Load balancer id -> its status tree (null: Octavia does not know it); only LBs deployed here. */
  statusTrees: ReadonlyMap<string, LoadBalancerStatusTree | null>;
  /** Member id -> since when (epoch ms) the API has shown its current operating status, from the observation log. */
  memberStatusSince: ReadonlyMap<string, number>;
  statusGraceMs: number;
}

export const CLOUD_CODES: ReadonlySet<ProblemCode> = new Set(['API_ONLINE_BUT_DEAD', 'MISSING_ON_HOST', 'UNKNOWN_TO_API', 'MEMBER_SET_DRIFT', 'PORT_BINDING_DRIFT', 'OPERATING_STATUS_DRIFT']);

/** The pools the cloud rules judge: neutron-lbaas v1 pools have no API left to compare with. */
export function comparablePools<P extends PoolRecord>(pools: readonly P[]): P[] {
  return pools.filter((p) => p.layout !== 'v1' && p.loadBalancerId !== null);
}

export async function gatherCloudFacts(
  session: TopologySession,
  codes: ReadonlySet<ProblemCode>,
  pools: readonly PoolRecord[],
  gaps: ProbeGap[],
): Promise<CloudFacts | null> {
  const cloud = session.cloud;
  if (!cloud) return null;
  const wanted = [...codes].filter((c) => CLOUD_CODES.has(c));
  if (wanted.length === 0) return null;
  const checked = comparablePools(pools);
  const hostWide = codes.has('MISSING_ON_HOST');
  if (checked.length === 0 && !hostWide) return null;

  const failures: string[] = [];
  let staleAt: number | null = null;
  const read = async <T>(what: string, look: Promise<Observed<T>>): Promise<T | null> => {
    try {
      const obs = await look;
      if (!obs.stale) return obs.value;
      failures.push(`${what}: ${obs.error?.message ?? 'the newest look failed'}`);
      staleAt = staleAt === null ? obs.observedAt : Math.min(staleAt, obs.observedAt);
      return null;
    } catch (err) {
      failures.push(`${what}: ${err instanceof ProbeFailedError ? err.message.replace(/^probe [^ ]+ failed: /, '') : (err as Error).message}`);
      return null;
    }
  };
  const needsPorts = codes.has('PORT_BINDING_DRIFT') || hostWide;
  const needsListeners = codes.has('API_ONLINE_BUT_DEAD');
  const needsTrees = codes.has('MEMBER_SET_DRIFT') || codes.has('OPERATING_STATUS_DRIFT');
  const statusTrees = new Map<string, LoadBalancerStatusTree | null>();
  const memberStatusSince = new Map<string, number>();
  // The status trees are asked with the lists, not after them (the ids come from the host's state
  // dirs; one the API does not know answers 404, kept as null): a slow cloud costs one deadline.
  const trees = needsTrees
    ? [...new Set(checked.map((p) => p.loadBalancerId!))].map(async (id) => {
        const tree = await read(`status of ${id}`, session.cloudStatus(id));
        if (tree === null) return;
        statusTrees.set(id, tree);
        if (codes.has('OPERATING_STATUS_DRIFT')) for (const [member, since] of memberSinceFromHistory(session, statusScope(cloud, id))) memberStatusSince.set(member, since);
      })
    : [];
  const [ports, loadBalancers, listeners, apiPools] = await Promise.all([
    needsPorts ? read('ports', session.cloudList('ports')) : null,
    read('load balancers', session.cloudList('loadBalancers')),
    needsListeners ? read('listeners', session.cloudList('listeners')) : null,
    read('pools', session.cloudList('pools')),
    ...trees,
  ]);
  if (failures.length > 0) {
    gaps.push({
      probe: 'cloud',
      scope: cloud.name,
      kind: staleAt !== null ? 'stale' : 'failed',
      message: `cloud ${cloud.name} could not be asked: ${failures.join('; ')}`,
      staleObservedAt: staleAt,
    });
  }
  return { cloud: cloud.name, host: cloud.host, ports, loadBalancers, listeners, pools: apiPools, statusTrees, memberStatusSince, statusGraceMs: session.config.cloudStatusGraceMs };
}

/**
 * For each member of the newest status tree: the first look of the unbroken run of looks that
 * showed its current operating status (the log keeps a row per change, with first and last seen).
 */
function memberSinceFromHistory(session: TopologySession, scope: string): Map<string, number> {
  const rows = session.runner.store.history('cloud.status', scope, 50);
  const statusIn = (tree: unknown, member: string): string | null => {
    const t = tree as LoadBalancerStatusTree | null;
    for (const p of t?.pools ?? []) for (const m of p.members) if (m.id === member) return m.operatingStatus;
    return null;
  };
  const since = new Map<string, number>();
  const newest = rows[0]?.payload as LoadBalancerStatusTree | null | undefined;
  for (const pool of newest?.pools ?? []) {
    for (const m of pool.members) {
      let first = rows[0]!.firstSeen;
      for (const row of rows.slice(1)) {
        if (statusIn(row.payload, m.id) !== m.operatingStatus) break;
        first = row.firstSeen;
      }
      since.set(m.id, first);
    }
  }
  return since;
}
