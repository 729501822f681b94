// Neutron, read-only: the load-balancer ports (by device_owner, optionally by binding:host_id),
// networks and subnets. Each is one list call (paged if the cloud pages).
import { z } from 'zod';
import { query } from './api.ts';
import type { ServiceApi } from './api.ts';

/** neutron-lbaas v2 VIP ports (device_id = load balancer id). neutron-lib dropped the constant in 2023. */
export const DEVICE_OWNER_LBAAS_V2 = 'neutron:LOADBALANCERV2';
/** neutron-lbaas v1 VIP ports. */
export const DEVICE_OWNER_LBAAS_V1 = 'neutron:LOADBALANCER';
/** Octavia's ports: the VIP placeholder (octavia-lb-<lb>, device_id lb-<lb>, admin down) and the amphorae's VRRP ports. */
export const DEVICE_OWNER_OCTAVIA = 'Octavia';
export const LOAD_BALANCER_DEVICE_OWNERS = [DEVICE_OWNER_LBAAS_V2, DEVICE_OWNER_LBAAS_V1, DEVICE_OWNER_OCTAVIA] as const;

const nullableString = z.string().nullish().transform((v) => v ?? null);

export const NeutronPort = z
  .looseObject({
    id: z.string(),
    name: z.string().nullish(),
    network_id: z.string(),
    mac_address: z.string().nullish(),
    admin_state_up: z.boolean(),
    status: z.string(),
    device_id: z.string().nullish(),
    device_owner: z.string().nullish(),
    fixed_ips: z.array(z.looseObject({ subnet_id: z.string().nullish(), ip_address: z.string() })).default([]),
    allowed_address_pairs: z.array(z.looseObject({ ip_address: z.string(), mac_address: z.string().nullish() })).default([]),
    'binding:host_id': nullableString,
    'binding:vif_type': nullableString,
    project_id: nullableString,
  })
  .transform((p) => ({
    id: p.id,
    name: p.name ?? '',
    networkId: p.network_id,
    macAddress: p.mac_address ?? null,
    adminStateUp: p.admin_state_up,
    status: p.status,
    deviceId: p.device_id ?? '',
    deviceOwner: p.device_owner ?? '',
    fixedIps: p.fixed_ips.map((f) => ({ subnetId: f.subnet_id ?? null, ipAddress: f.ip_address })),
    allowedAddressPairs: p.allowed_address_pairs.map((a) => ({ ipAddress: a.ip_address, macAddress: a.mac_address ?? null })),
    bindingHost: p['binding:host_id'] === '' ? null : p['binding:host_id'],
    vifType: p['binding:vif_type'],
    projectId: p.project_id,
  }));
export type NeutronPort = z.infer<typeof NeutronPort>;

export const NeutronNetwork = z
  .looseObject({ id: z.string(), name: z.string().nullish(), status: z.string().nullish(), admin_state_up: z.boolean().nullish(), subnets: z.array(z.string()).default([]), 'provider:network_type': nullableString, 'provider:segmentation_id': z.number().nullish() })
  .transform((n) => ({ id: n.id, name: n.name ?? '', status: n.status ?? null, adminStateUp: n.admin_state_up ?? null, subnetIds: n.subnets, networkType: n['provider:network_type'], segmentationId: n['provider:segmentation_id'] ?? null }));
export type NeutronNetwork = z.infer<typeof NeutronNetwork>;

export const NeutronSubnet = z
  .looseObject({ id: z.string(), name: z.string().nullish(), network_id: z.string(), cidr: z.string(), gateway_ip: z.string().nullish(), ip_version: z.number() })
  .transform((s) => ({ id: s.id, name: s.name ?? '', networkId: s.network_id, cidr: s.cidr, gatewayIp: s.gateway_ip ?? null, ipVersion: s.ip_version }));
export type NeutronSubnet = z.infer<typeof NeutronSubnet>;

export interface PortFilter {
  /** Any of these owners (Neutron ORs repeated values of a filter). */
  deviceOwners?: readonly string[];
  bindingHost?: string;
}

export class NeutronClient {
  readonly api: ServiceApi;
  constructor(api: ServiceApi) {
    this.api = api;
  }

  listPorts(filter: PortFilter = {}): Promise<NeutronPort[]> {
    const params: Array<[string, string]> = (filter.deviceOwners ?? []).map((o) => ['device_owner', o]);
    if (filter.bindingHost) params.push(['binding:host_id', filter.bindingHost]);
    return this.api.list(`/v2.0/ports${query(params)}`, 'ports', NeutronPort);
  }

  listNetworks(): Promise<NeutronNetwork[]> {
    return this.api.list('/v2.0/networks', 'networks', NeutronNetwork);
  }

  listSubnets(): Promise<NeutronSubnet[]> {
    return this.api.list('/v2.0/subnets', 'subnets', NeutronSubnet);
  }
}
