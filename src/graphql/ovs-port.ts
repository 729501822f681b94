import type { OvsInterface } from '../host/ovs.ts';
import { builder } from './builder.ts';
import { KeyValueRef, toKeyValues } from './key-value.ts';
import { InterfaceRef } from './interface.ts';
import { PortRef } from './port.ts';
import { applyMaxAge, MAX_AGE_DESCRIPTION } from './arguments.ts';
import { findInterfaceByName, listOvsPorts } from '../topology/queries.ts';
import type { OvsPortRecord } from '../topology/queries.ts';
import { attachedMacOf, ifaceIdOf, isOnDeadVlan, portPrefixOfDevice, tapNameOfPort } from '../topology/ports.ts';

export const OvsPortRef = builder.objectRef<OvsPortRecord>('OvsPort');
const OvsInterfaceRef = builder.objectRef<OvsInterface>('OvsInterface');
const BridgeRef = builder.objectRef<{ name: string; datapathType: string; ports: string[] }>('Bridge');


BridgeRef.implement({
  description: 'An OVS bridge (br-int, ...).',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Bridge name.' }),
    datapathType: t.exposeString('datapathType', { description: 'system (empty) or netdev (user space).' }),
    portNames: t.exposeStringList('ports', { description: 'Names of the ports on the bridge.' }),
  }),
});

OvsInterfaceRef.implement({
  description: 'An OVS Interface row (one per port, more for a bond).',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Interface name.' }),
    type: t.exposeString('type', { description: "'' (system), internal, patch, vxlan, ..." }),
    ofport: t.exposeInt('ofport', { nullable: true, description: 'OpenFlow port number; -1 means OVS could not add the interface (see error); null = not assigned yet.' }),
    error: t.exposeString('error', { nullable: true, description: 'Why the interface could not be added, when ofport is -1.' }),
    externalIds: t.field({ type: [KeyValueRef], description: 'external_ids (iface-id, attached-mac, iface-status).', resolve: (i) => toKeyValues(i.externalIds) }),
    macInUse: t.exposeString('macInUse', { nullable: true, description: 'MAC address OVS uses for it.' }),
    linkState: t.exposeString('linkState', { nullable: true, description: 'up or down, as OVS sees it.' }),
  }),
});

OvsPortRef.implement({
  description: 'An OVS port, from one `ovs-vsctl --format=json` transaction over Bridge, Port and Interface.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Port name (tap70081ac2-6f for a neutron tap).' }),
    bridge: t.exposeString('bridge', { nullable: true, description: 'Name of the bridge holding the port.' }),
    bridgeDetails: t.field({
      type: BridgeRef,
      nullable: true,
      description: 'The bridge holding the port.',
      resolve: async (p, _a, ctx) => (await ctx.session.ovs()).value.bridges.find((b) => b.name === p.bridge) ?? null,
    }),
    tag: t.exposeInt('tag', { nullable: true, description: 'Local VLAN tag (access port); 4095 is the dead VLAN; null = none.' }),
    deadVlan: t.boolean({ description: 'True when the port is on the dead VLAN 4095 (tag or trunk): the agent never wired it.', resolve: (p) => isOnDeadVlan(p) }),
    trunks: t.exposeIntList('trunks', { description: 'Trunked VLANs.' }),
    vlanMode: t.exposeString('vlanMode', { nullable: true, description: 'vlan_mode (trunk, access, ...), if set.' }),
    otherConfig: t.field({ type: [KeyValueRef], description: 'Port other_config (the OVS agent writes net_uuid, network_type, segmentation_id, tag).', resolve: (p) => toKeyValues(p.otherConfig) }),
    netUuid: t.string({ nullable: true, description: 'other_config:net_uuid: the Neutron network id the agent bound the port to.', resolve: (p) => p.otherConfig.net_uuid ?? null }),
    externalIds: t.field({ type: [KeyValueRef], description: "external_ids of the port's interface (iface-id, attached-mac, iface-status).", resolve: (p) => toKeyValues(Object.assign({}, ...p.interfaces.map((i) => i.externalIds))) }),
    ifaceId: t.string({ nullable: true, description: 'external_ids:iface-id: the Neutron port UUID.', resolve: (p) => ifaceIdOf(p) }),
    attachedMac: t.string({ nullable: true, description: 'external_ids:attached-mac: the MAC Neutron gave the port.', resolve: (p) => attachedMacOf(p) }),
    ofport: t.int({ nullable: true, description: 'ofport of the (first) interface; -1 = error.', resolve: (p) => p.interfaces[0]?.ofport ?? null }),
    error: t.string({ nullable: true, description: 'Error of the (first) interface, if OVS could not add it.', resolve: (p) => p.interfaces.map((i) => i.error).find((e) => e) ?? null }),
    type: t.string({ description: 'Type of the (first) interface: internal for a neutron tap (ovs_use_veth=False).', resolve: (p) => p.interfaces[0]?.type ?? '' }),
    interfaces: t.field({ type: [OvsInterfaceRef], description: 'OVS Interface rows of the port.', resolve: (p) => p.interfaces }),
    interface: t.field({
      type: InterfaceRef,
      nullable: true,
      description: 'The Linux device of this port in a named namespace (looks in qlbaas namespaces first; runs `ip` per namespace searched).',
      resolve: async (p, _a, ctx) => {
        // An internal port is the device itself, moved into a namespace; with ovs_use_veth the
        // namespace holds the ns- end of a veth whose tap end is the OVS port.
        const prefix = portPrefixOfDevice(p.name);
        const names = prefix && p.name.startsWith('tap') ? [p.name, `ns-${prefix}`] : [p.name];
        for (const name of names) {
          const hit = await findInterfaceByName(ctx.session, name);
          if (hit) return hit;
        }
        return null;
      },
    }),
    port: t.field({
      type: PortRef,
      nullable: true,
      description: 'The Neutron port (from iface-id, else from the 11 characters in the port name).',
      resolve: (p) => {
        const id = ifaceIdOf(p);
        if (id) return { id, idIsPrefix: false, tapName: tapNameOfPort(id), interface: null, namespaceHint: null };
        const prefix = portPrefixOfDevice(p.name);
        return prefix ? { id: prefix, idIsPrefix: true, tapName: p.name, interface: null, namespaceHint: null } : null;
      },
    }),
    observedAt: t.field({ type: 'DateTime', description: 'When ovs-vsctl last showed the port.', resolve: (p) => p.observedAt }),
  }),
});

builder.queryField('ovsPorts', (t) =>
  t.field({
    type: [OvsPortRef],
    nullable: true,
    description: 'OVS ports (one ovs-vsctl run for the whole list), sorted by name.',
    args: {
      bridge: t.arg.string({ description: 'Only ports on this bridge.' }),
      tag: t.arg.int({ description: 'Only ports with this VLAN tag.' }),
      deadVlan: t.arg.boolean({ description: 'true: only ports on the dead VLAN 4095; false: only the others.' }),
      maxAge: t.arg.float({ description: MAX_AGE_DESCRIPTION }),
    },
    resolve: async (_root, args, ctx) => {
      applyMaxAge(ctx, args.maxAge);
      return (await listOvsPorts(ctx.session)).filter(
        (p) => (args.bridge == null || p.bridge === args.bridge) && (args.tag == null || p.tag === args.tag) && (args.deadVlan == null || isOnDeadVlan(p) === args.deadVlan),
      );
    },
  }),
);
