// Lookups of the cloud's side for the API, one list per request whatever the number of fields
// (the session memoises each look; indexes are built once per observation).
import type { NeutronPort } from '../cloud/neutron.ts';
import { DEVICE_OWNER_LBAAS_V2, DEVICE_OWNER_OCTAVIA } from '../cloud/neutron.ts';
import type { LoadBalancerStatusTree, OctaviaAmphora, OctaviaListener, OctaviaLoadBalancer, OctaviaPool } from '../cloud/octavia.ts';
import type { TopologySession } from './session.ts';
import type { PoolRecord } from './pools.ts';

const indexes = new WeakMap<object, Map<string, unknown>>();
function byId<T extends { id: string }>(observation: object, list: readonly T[]): Map<string, T> {
  let cache = indexes.get(observation);
  if (!cache) indexes.set(observation, (cache = new Map()));
  if (!cache.has('byId')) cache.set('byId', new Map(list.map((x) => [x.id, x])));
  return cache.get('byId') as Map<string, T>;
}

export async function cloudLoadBalancer(session: TopologySession, id: string): Promise<OctaviaLoadBalancer | null> {
  if (!session.cloud) return null;
  const obs = await session.cloudList('loadBalancers');
  return byId(obs, obs.value).get(id) ?? null;
}

export async function cloudPool(session: TopologySession, id: string): Promise<OctaviaPool | null> {
  if (!session.cloud) return null;
  const obs = await session.cloudList('pools');
  return byId(obs, obs.value).get(id) ?? null;
}

export async function cloudListener(session: TopologySession, id: string): Promise<OctaviaListener | null> {
  if (!session.cloud) return null;
  const obs = await session.cloudList('listeners');
  return byId(obs, obs.value).get(id) ?? null;
}

/** A load-balancer port by full id, or by the 11-character prefix a tap name carries. */
export async function cloudPort(session: TopologySession, idOrPrefix: string): Promise<NeutronPort | null> {
  if (!session.cloud) return null;
  const obs = await session.cloudList('ports');
  if (idOrPrefix.length === 36) return byId(obs, obs.value).get(idOrPrefix) ?? null;
  return obs.value.find((p) => p.id.startsWith(idOrPrefix)) ?? null;
}

/** The VIP port of a load balancer: the one Octavia names, else the one whose device_id is the load balancer. */
export async function cloudVipPort(session: TopologySession, lb: OctaviaLoadBalancer): Promise<NeutronPort | null> {
  const obs = await session.cloudList('ports');
  const ports = obs.value;
  return (
    (lb.vipPortId ? byId(obs, ports).get(lb.vipPortId) : undefined) ??
    ports.find((p) => (p.deviceOwner === DEVICE_OWNER_LBAAS_V2 && p.deviceId === lb.id) || (p.deviceOwner === DEVICE_OWNER_OCTAVIA && p.deviceId === `lb-${lb.id}`)) ??
    null
  );
}

/** The API's view of a host pool: null without a cloud, for v1 pools (no API left), or when the API has no such pool. */
export async function cloudPoolOf(session: TopologySession, pool: PoolRecord): Promise<OctaviaPool | null> {
  if (!session.cloud || pool.layout === 'v1') return null;
  return cloudPool(session, pool.id);
}

export async function cloudStatusTree(session: TopologySession, loadBalancerId: string): Promise<LoadBalancerStatusTree | null> {
  if (!session.cloud) return null;
  return (await session.cloudStatus(loadBalancerId)).value;
}

export async function cloudAmphoraeOf(session: TopologySession, loadBalancerId: string): Promise<OctaviaAmphora[]> {
  if (!session.cloud) return [];
  return (await session.cloudList('amphorae')).value.filter((a) => a.loadBalancerId === loadBalancerId);
}
