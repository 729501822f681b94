// ReadBy: which reader answered a look (the in-process one or the command it falls back to), and
// the fields that return it. The fallback is said in the answer, never silent.
import { builder } from './builder.ts';
import { NamespaceRef } from './namespace.ts';
import { OvsPortRef } from './ovs-port.ts';
import type { ReadBy } from '../topology/readers.ts';

const ReadByRef = builder.objectRef<ReadBy>('ReadBy');

ReadByRef.implement({
  description: 'Which reader made an observation: the in-process one, or the command used when it could not.',
  fields: (t) => ({
    reader: t.exposeString('reader', { description: 'netlink or ip (a namespace); jsonrpc or ovs-vsctl (OVS).' }),
    fallbackReason: t.exposeString('fallbackReason', { nullable: true, description: 'Why the in-process reader (netlink, OVSDB JSON-RPC) was not used; null when it was.' }),
    replicaSince: t.exposeString('replicaSince', {
      nullable: true,
      description: "OVS only: the tables came from the replica the OVSDB monitor keeps from the server's row updates, in step since this time (ISO 8601); null when they were read by one transact or ovs-vsctl.",
    }),
  }),
});

builder.objectField(NamespaceRef, 'networkReadBy', (t) =>
  t.field({
    type: ReadByRef,
    nullable: true,
    description: 'How interfaces and routes were read: over rtnetlink in-process, or by `ip -batch` and why. Null when the look failed or predates this field.',
    resolve: async (ns, _a, ctx) => (await ctx.session.network(ns.name)).value.readBy ?? null,
  }),
);

builder.objectField(OvsPortRef, 'readBy', (t) =>
  t.field({
    type: ReadByRef,
    nullable: true,
    description: 'How the OVS tables were read: OVSDB JSON-RPC on its socket, or ovs-vsctl and why.',
    resolve: async (_p, _a, ctx) => (await ctx.session.ovs()).value.readBy ?? null,
  }),
);
