// Octavia, read-only: load balancers, listeners, pools, health monitors and amphorae are one list
// call each; members have no collection of their own (only /pools/<id>/members), so they come
// from each load balancer's status tree, which also carries their address, port and statuses.
import { z } from 'zod';
import type { ServiceApi } from './api.ts';

const ids = z.array(z.looseObject({ id: z.string() })).default([]).transform((l) => l.map((x) => x.id));
const nullableString = z.string().nullish().transform((v) => v ?? null);

export const OctaviaLoadBalancer = z
  .looseObject({
    id: z.string(),
    name: z.string().nullish(),
    provisioning_status: z.string(),
    operating_status: z.string(),
    admin_state_up: z.boolean(),
    vip_address: nullableString,
    vip_port_id: nullableString,
    vip_network_id: nullableString,
    vip_subnet_id: nullableString,
    provider: nullableString,
    listeners: ids,
    pools: ids,
  })
  .transform((l) => ({
    id: l.id,
    name: l.name ?? '',
    provisioningStatus: l.provisioning_status,
    operatingStatus: l.operating_status,
    adminStateUp: l.admin_state_up,
    vipAddress: l.vip_address,
    vipPortId: l.vip_port_id,
    vipNetworkId: l.vip_network_id,
    vipSubnetId: l.vip_subnet_id,
    provider: l.provider,
    listenerIds: l.listeners,
    poolIds: l.pools,
  }));
export type OctaviaLoadBalancer = z.infer<typeof OctaviaLoadBalancer>;

export const OctaviaListener = z
  .looseObject({
    id: z.string(),
    name: z.string().nullish(),
    protocol: z.string(),
    protocol_port: z.number(),
    provisioning_status: z.string(),
    operating_status: z.string(),
    admin_state_up: z.boolean(),
    default_pool_id: nullableString,
    loadbalancers: ids,
  })
  .transform((l) => ({
    id: l.id,
    name: l.name ?? '',
    protocol: l.protocol,
    protocolPort: l.protocol_port,
    provisioningStatus: l.provisioning_status,
    operatingStatus: l.operating_status,
    adminStateUp: l.admin_state_up,
    defaultPoolId: l.default_pool_id,
    loadBalancerIds: l.loadbalancers,
  }));
export type OctaviaListener = z.infer<typeof OctaviaListener>;

export const OctaviaPool = z
  .looseObject({
    id: z.string(),
    name: z.string().nullish(),
    protocol: z.string(),
    lb_algorithm: z.string(),
    provisioning_status: z.string(),
    operating_status: z.string(),
    admin_state_up: z.boolean(),
    loadbalancers: ids,
    listeners: ids,
    members: ids,
    healthmonitor_id: nullableString,
  })
  .transform((p) => ({
    id: p.id,
    name: p.name ?? '',
    protocol: p.protocol,
    lbAlgorithm: p.lb_algorithm,
    provisioningStatus: p.provisioning_status,
    operatingStatus: p.operating_status,
    adminStateUp: p.admin_state_up,
    loadBalancerIds: p.loadbalancers,
    listenerIds: p.listeners,
    memberIds: p.members,
    healthMonitorId: p.healthmonitor_id,
  }));
export type OctaviaPool = z.infer<typeof OctaviaPool>;

export const OctaviaHealthMonitor = z
  .looseObject({ id: z.string(), type: z.string(), delay: z.number(), timeout: z.number(), max_retries: z.number(), provisioning_status: z.string(), operating_status: z.string(), admin_state_up: z.boolean(), pools: ids })
  .transform((h) => ({ id: h.id, type: h.type, delay: h.delay, timeout: h.timeout, maxRetries: h.max_retries, provisioningStatus: h.provisioning_status, operatingStatus: h.operating_status, adminStateUp: h.admin_state_up, poolIds: h.pools }));
export type OctaviaHealthMonitor = z.infer<typeof OctaviaHealthMonitor>;

export const OctaviaMember = z
  .looseObject({ id: z.string(), address: z.string(), protocol_port: z.number(), admin_state_up: z.boolean(), provisioning_status: z.string(), operating_status: z.string(), weight: z.number().nullish(), backup: z.boolean().nullish() })
  .transform((m) => ({ id: m.id, address: m.address, protocolPort: m.protocol_port, adminStateUp: m.admin_state_up, provisioningStatus: m.provisioning_status, operatingStatus: m.operating_status, weight: m.weight ?? null, backup: m.backup ?? false }));
export type OctaviaMember = z.infer<typeof OctaviaMember>;

export const OctaviaAmphora = z
  .looseObject({
    id: z.string(),
    loadbalancer_id: nullableString,
    compute_id: nullableString,
    lb_network_ip: nullableString,
    vrrp_ip: nullableString,
    ha_ip: nullableString,
    vrrp_port_id: nullableString,
    ha_port_id: nullableString,
    role: nullableString,
    status: z.string(),
    cert_expiration: nullableString,
  })
  .transform((a) => ({
    id: a.id,
    loadBalancerId: a.loadbalancer_id,
    computeId: a.compute_id,
    lbNetworkIp: a.lb_network_ip,
    vrrpIp: a.vrrp_ip,
    haIp: a.ha_ip,
    vrrpPortId: a.vrrp_port_id,
    haPortId: a.ha_port_id,
    role: a.role,
    status: a.status,
    certExpiration: a.cert_expiration,
  }));
export type OctaviaAmphora = z.infer<typeof OctaviaAmphora>;

const Statuses = { provisioning_status: z.string(), operating_status: z.string() };
const MemberStatus = z.looseObject({ id: z.string(), address: z.string().nullish(), protocol_port: z.number().nullish(), ...Statuses });
const PoolStatus = z.looseObject({ id: z.string(), ...Statuses, members: z.array(MemberStatus).default([]), health_monitor: z.looseObject({ id: z.string(), ...Statuses }).nullish() });
const StatusTreeBody = z.looseObject({
  statuses: z.looseObject({
    loadbalancer: z.looseObject({
      id: z.string(),
      ...Statuses,
      listeners: z.array(z.looseObject({ id: z.string(), ...Statuses, pools: z.array(PoolStatus).default([]) })).default([]),
    }),
  }),
});

export interface StatusOf {
  provisioningStatus: string;
  operatingStatus: string;
}

/** The status tree of one load balancer, flattened: every object's statuses by id. */
export interface LoadBalancerStatusTree extends StatusOf {
  id: string;
  listeners: Array<StatusOf & { id: string; poolIds: string[] }>;
  pools: Array<StatusOf & { id: string; members: Array<StatusOf & { id: string; address: string | null; protocolPort: number | null }>; healthMonitor: (StatusOf & { id: string }) | null }>;
}

function statusOf(s: { provisioning_status: string; operating_status: string }): StatusOf {
  return { provisioningStatus: s.provisioning_status, operatingStatus: s.operating_status };
}

export class OctaviaClient {
  readonly api: ServiceApi;
  constructor(api: ServiceApi) {
    this.api = api;
  }

  listLoadBalancers(): Promise<OctaviaLoadBalancer[]> {
    return this.api.list('/v2/lbaas/loadbalancers', 'loadbalancers', OctaviaLoadBalancer);
  }

  listListeners(): Promise<OctaviaListener[]> {
    return this.api.list('/v2/lbaas/listeners', 'listeners', OctaviaListener);
  }

  listPools(): Promise<OctaviaPool[]> {
    return this.api.list('/v2/lbaas/pools', 'pools', OctaviaPool);
  }

  listHealthMonitors(): Promise<OctaviaHealthMonitor[]> {
    return this.api.list('/v2/lbaas/healthmonitors', 'healthmonitors', OctaviaHealthMonitor);
  }

  listMembers(poolId: string): Promise<OctaviaMember[]> {
    return this.api.list(`/v2/lbaas/pools/${encodeURIComponent(poolId)}/members`, 'members', OctaviaMember);
  }

  listAmphorae(): Promise<OctaviaAmphora[]> {
    return this.api.list('/v2/octavia/amphorae', 'amphorae', OctaviaAmphora);
  }

  /** GET /v2/lbaas/loadbalancers/<id>/status. A pool behind two listeners appears once. */
  async statusTree(loadBalancerId: string): Promise<LoadBalancerStatusTree> {
    const body = await this.api.get(`/v2/lbaas/loadbalancers/${encodeURIComponent(loadBalancerId)}/status`, StatusTreeBody);
    const lb = body.statuses.loadbalancer;
    const pools = new Map<string, LoadBalancerStatusTree['pools'][number]>();
    for (const listener of lb.listeners) {
      for (const p of listener.pools) {
        if (pools.has(p.id)) continue;
        pools.set(p.id, {
          id: p.id,
          ...statusOf(p),
          members: p.members.map((m) => ({ id: m.id, address: m.address ?? null, protocolPort: m.protocol_port ?? null, ...statusOf(m) })),
          healthMonitor: p.health_monitor ? { id: p.health_monitor.id, ...statusOf(p.health_monitor) } : null,
        });
      }
    }
    return {
      id: lb.id,
      ...statusOf(lb),
      listeners: lb.listeners.map((l) => ({ id: l.id, ...statusOf(l), poolIds: l.pools.map((p) => p.id) })),
      pools: [...pools.values()],
    };
  }
}
