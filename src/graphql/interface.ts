import type { InterfaceAddress, InterfaceStats } from '../host/iproute.ts';
import { builder } from './builder.ts';
import { NamespaceRef } from './namespace.ts';
import { OvsPortRef } from './ovs-port.ts';
import { PortRef } from './port.ts';
import { applyMaxAge, MAX_AGE_DESCRIPTION, requireNamespaceName } from './arguments.ts';
import { findNamespace, interfacesOf, listNamespaceRecords, ovsPortRecordOfDevice, portOfInterface } from '../topology/queries.ts';
import type { InterfaceRecord } from '../topology/queries.ts';

export const InterfaceRef = builder.objectRef<InterfaceRecord>('Interface');
const AddressRef = builder.objectRef<InterfaceAddress>('Address');
const InterfaceStatsRef = builder.objectRef<InterfaceStats>('InterfaceStats');

AddressRef.implement({
  description: 'An IP address on an interface.',
  fields: (t) => ({
    address: t.exposeString('address', { description: 'The address, without prefix length.' }),
    prefixLength: t.exposeInt('prefixLength', { description: 'Prefix length (24 for a /24).' }),
    family: t.exposeString('family', { description: 'inet or inet6.' }),
    scope: t.exposeString('scope', { description: 'global, link or host.' }),
    broadcast: t.exposeString('broadcast', { nullable: true, description: 'IPv4 broadcast address, if set.' }),
    label: t.exposeString('label', { nullable: true, description: 'IPv4 address label, if set.' }),
    dynamic: t.exposeBoolean('dynamic', { description: 'Learnt (DHCP, SLAAC) with a finite lifetime.' }),
  }),
});

InterfaceStatsRef.implement({
  description: 'Interface counters since the device was created (`ip -s`, stats64).',
  fields: (t) => ({
    rxBytes: t.exposeFloat('rxBytes', { description: 'Bytes received.' }),
    rxPackets: t.exposeFloat('rxPackets', { description: 'Packets received.' }),
    rxErrors: t.exposeFloat('rxErrors', { description: 'Receive errors.' }),
    rxDropped: t.exposeFloat('rxDropped', { description: 'Received packets dropped.' }),
    txBytes: t.exposeFloat('txBytes', { description: 'Bytes sent.' }),
    txPackets: t.exposeFloat('txPackets', { description: 'Packets sent.' }),
    txErrors: t.exposeFloat('txErrors', { description: 'Transmit errors.' }),
    txDropped: t.exposeFloat('txDropped', { description: 'Packets dropped on transmit.' }),
  }),
});

InterfaceRef.implement({
  description: 'A network device inside a named namespace, from `ip -s -d -j addr show` run in that namespace.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Device name (tap70081ac2-6f, lo, ...).' }),
    index: t.exposeInt('index', { description: 'ifindex inside its namespace.' }),
    namespaceName: t.exposeString('namespace', { description: 'Name of the namespace holding the device.' }),
    macAddress: t.exposeString('macAddress', { nullable: true, description: 'Link-layer address; null for devices without one.' }),
    mtu: t.exposeInt('mtu', { description: 'MTU in bytes.' }),
    operState: t.exposeString('operState', { description: 'Operational state: UP, DOWN, UNKNOWN, LOWERLAYERDOWN, ...' }),
    flags: t.exposeStringList('flags', { description: 'Link flags (UP, LOWER_UP, BROADCAST, NO-CARRIER, ...).' }),
    kind: t.exposeString('kind', { nullable: true, description: 'Link kind: openvswitch for an OVS internal port, veth, tun, dummy, ...; null for loopback and physical devices.' }),
    master: t.exposeString('master', { nullable: true, description: 'Master device (bridge, bond), if any.' }),
    addresses: t.field({ type: [AddressRef], description: 'IPv4 and IPv6 addresses.', resolve: (i) => i.addresses }),
    stats: t.field({ type: InterfaceStatsRef, nullable: true, description: 'Counters.', resolve: (i) => i.stats }),
    namespace: t.field({ type: NamespaceRef, nullable: true, description: 'The namespace holding the device.', resolve: (i, _a, ctx) => findNamespace(ctx.session, i.namespace) }),
    ovsPort: t.field({
      type: OvsPortRef,
      nullable: true,
      description: 'The OVS port plugging this device (same name for internal ports; tapX for the ns-X end of a veth). Runs ovs-vsctl.',
      resolve: (i, _a, ctx) => ovsPortRecordOfDevice(ctx.session, i.name),
    }),
    port: t.field({ type: PortRef, nullable: true, description: 'The Neutron port whose id the device name carries (tap + 11 characters).', resolve: (i, _a, ctx) => portOfInterface(ctx.session, i) }),
    observedAt: t.field({ type: 'DateTime', description: 'When `ip` last showed this device.', resolve: (i) => i.observedAt }),
  }),
});

builder.queryField('interfaces', (t) =>
  t.field({
    type: [InterfaceRef],
    nullable: true,
    description: 'Devices in named namespaces. Runs one `ip` per namespace looked at; give `namespace` to look at one.',
    args: {
      namespace: t.arg.string({ description: 'Only this namespace.' }),
      kind: t.arg.string({ description: 'Only devices of this link kind (openvswitch, veth, ...).' }),
      name: t.arg.string({ description: 'Only devices with this name.' }),
      maxAge: t.arg.float({ description: MAX_AGE_DESCRIPTION }),
    },
    resolve: async (_root, args, ctx) => {
      applyMaxAge(ctx, args.maxAge);
      if (args.namespace != null) requireNamespaceName(args.namespace);
      const names = args.namespace != null ? [args.namespace] : (await listNamespaceRecords(ctx.session)).map((n) => n.name);
      if (args.namespace != null && !(await findNamespace(ctx.session, args.namespace))) return [];
      const lists = await Promise.all(names.map((n) => interfacesOf(ctx.session, n)));
      return lists.flat().filter((i) => (args.kind == null || i.kind === args.kind) && (args.name == null || i.name === args.name));
    },
  }),
);
