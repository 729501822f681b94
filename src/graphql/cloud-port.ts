// CloudPort: a Neutron port as the API shows it, and Port.cloud.
import { builder } from './builder.ts';
import { PortRef } from './port.ts';
import type { NeutronPort } from '../cloud/neutron.ts';
import { cloudPort } from '../topology/cloud-queries.ts';
import { resolvePortId } from '../topology/queries.ts';

export const CloudPortRef = builder.objectRef<NeutronPort & { host: string }>('CloudPort');
const FixedIpRef = builder.objectRef<NeutronPort['fixedIps'][number]>('CloudFixedIp');
const AddressPairRef = builder.objectRef<NeutronPort['allowedAddressPairs'][number]>('CloudAddressPair');

FixedIpRef.implement({
  description: 'An address Neutron gave the port.',
  fields: (t) => ({
    ipAddress: t.exposeString('ipAddress', { description: 'The address.' }),
    subnetId: t.exposeString('subnetId', { nullable: true, description: 'Its subnet.' }),
  }),
});

AddressPairRef.implement({
  description: 'An allowed_address_pairs entry: an address the port may also send from (an Octavia VRRP port carries the VIP here).',
  fields: (t) => ({
    ipAddress: t.exposeString('ipAddress', { description: 'Address or CIDR.' }),
    macAddress: t.exposeString('macAddress', { nullable: true, description: 'MAC, when set.' }),
  }),
});

CloudPortRef.implement({
  description: 'A Neutron port as the API shows it (GET /v2.0/ports, load-balancer owners only).',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'Port UUID.' }),
    name: t.exposeString('name', { description: 'Port name (octavia-lb-<lb> for an Octavia VIP).' }),
    status: t.exposeString('status', { description: 'ACTIVE, BUILD, DOWN, ERROR or N/A.' }),
    adminStateUp: t.exposeBoolean('adminStateUp', { description: "admin_state_up (false on Octavia's placeholder VIP port, by design)." }),
    bindingHost: t.exposeString('bindingHost', { nullable: true, description: 'binding:host_id: the host Neutron binds it to.' }),
    boundHere: t.boolean({ description: 'Whether binding:host_id is this host (LBTOPO_HOST).', resolve: (p) => p.bindingHost === p.host }),
    vifType: t.exposeString('vifType', { nullable: true, description: 'binding:vif_type: ovs when bound, unbound, binding_failed, ...' }),
    deviceOwner: t.exposeString('deviceOwner', { description: 'neutron:LOADBALANCERV2, neutron:LOADBALANCER or Octavia.' }),
    deviceId: t.exposeString('deviceId', { description: 'The load balancer id (neutron-lbaas v2), or lb-<id> (Octavia).' }),
    networkId: t.exposeString('networkId', { description: 'Its network.' }),
    macAddress: t.exposeString('macAddress', { nullable: true, description: 'Its MAC.' }),
    fixedIps: t.field({ type: [FixedIpRef], description: 'Its addresses.', resolve: (p) => p.fixedIps }),
    allowedAddressPairs: t.field({ type: [AddressPairRef], description: 'allowed_address_pairs.', resolve: (p) => p.allowedAddressPairs }),
  }),
});

builder.objectField(PortRef, 'cloud', (t) =>
  t.field({
    type: CloudPortRef,
    nullable: true,
    description: 'What Neutron says of this port (one list of load-balancer ports per request). Null without a cloud (LBTOPO_CLOUD), or when Neutron lists no load-balancer port with this id.',
    resolve: async (p, _a, ctx) => {
      if (!ctx.session.cloud) return null;
      const { id } = await resolvePortId(ctx.session, p);
      const port = await cloudPort(ctx.session, id);
      return port ? { ...port, host: ctx.session.cloud.host } : null;
    },
  }),
);
