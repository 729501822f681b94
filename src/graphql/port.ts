import { builder } from './builder.ts';
import { InterfaceRef } from './interface.ts';
import { OvsPortRef } from './ovs-port.ts';
import { NamespaceRef } from './namespace.ts';
import { PoolRef } from './pool.ts';
import { applyMaxAge, MAX_AGE_DESCRIPTION, requirePortId } from './arguments.ts';
import { findInterfaceByName, findNamespace, findPort, poolsInNamespace, ovsPortRecordOfDevice, resolvePortId } from '../topology/queries.ts';
import type { InterfaceRecord, PortRecord } from '../topology/queries.ts';
import { attachedMacOf, ovsPortOfDevice } from '../topology/ports.ts';
import type { TopologySession } from '../topology/session.ts';

export const PortRef = builder.objectRef<PortRecord>('Port');

async function deviceOf(session: TopologySession, port: PortRecord): Promise<InterfaceRecord | null> {
  if (port.interface) return port.interface;
  const found = await findInterfaceByName(session, port.tapName);
  return found ?? (await findInterfaceByName(session, `ns-${port.tapName.slice(3)}`));
}

PortRef.implement({
  description:
    'A Neutron port as this host shows it, without the Neutron API: the tap device named tap + the first 11 characters of its UUID, and the OVS Interface whose external_ids:iface-id holds the full UUID.',
  fields: (t) => ({
    id: t.string({ description: 'The port UUID from OVS iface-id; when OVS does not have the port, the 11-character prefix from the tap name (see idIsPrefix).', resolve: async (p, _a, ctx) => (await resolvePortId(ctx.session, p)).id }),
    idIsPrefix: t.boolean({ description: 'True when only the 11-character prefix is known (no OVS Interface carries the full id).', resolve: async (p, _a, ctx) => (await resolvePortId(ctx.session, p)).idIsPrefix }),
    tapName: t.exposeString('tapName', { description: 'The device name neutron gives the port: tap + 11 characters.' }),
    macAddress: t.string({
      nullable: true,
      description: "The port's MAC: the device's address when the device is seen, else OVS external_ids:attached-mac.",
      resolve: async (p, _a, ctx) => {
        const device = await deviceOf(ctx.session, p);
        if (device?.macAddress) return device.macAddress;
        const ovs = ovsPortOfDevice((await ctx.session.ovs()).value, p.tapName);
        return ovs ? attachedMacOf(ovs) : null;
      },
    }),
    interface: t.field({ type: InterfaceRef, nullable: true, description: 'The device in its namespace.', resolve: (p, _a, ctx) => deviceOf(ctx.session, p) }),
    ovsPort: t.field({
      type: OvsPortRef,
      nullable: true,
      description: 'The OVS port plugging it (runs ovs-vsctl).',
      resolve: (p, _a, ctx) => ovsPortRecordOfDevice(ctx.session, p.tapName),
    }),
    namespace: t.field({
      type: NamespaceRef,
      nullable: true,
      description: 'The namespace holding its device.',
      resolve: async (p, _a, ctx) => {
        const device = await deviceOf(ctx.session, p);
        return device ? findNamespace(ctx.session, device.namespace) : null;
      },
    }),
    pool: t.field({
      type: PoolRef,
      nullable: true,
      description: 'The pool whose namespace holds the device (the VIP port of that pool).',
      resolve: async (p, _a, ctx) => {
        const device = await deviceOf(ctx.session, p);
        if (!device) return null;
        return (await poolsInNamespace(ctx.session, device.namespace))[0] ?? null;
      },
    }),
  }),
});

builder.queryField('port', (t) =>
  t.field({
    type: PortRef,
    nullable: true,
    description: 'A Neutron port by full UUID or by the 11-character prefix in its tap name (70081ac2-6f); null when this host has no trace of it.',
    args: { id: t.arg.string({ required: true, description: 'Port UUID or 11-character prefix.' }), maxAge: t.arg.float({ description: MAX_AGE_DESCRIPTION }) },
    resolve: (_root, args, ctx) => {
      const id = requirePortId(args.id);
      applyMaxAge(ctx, args.maxAge);
      return findPort(ctx.session, id);
    },
  }),
);
