import { builder } from './builder.ts';
import { PoolRef } from './pool.ts';
import type { MemberRecord } from '../topology/members.ts';
import { memberStatsOf } from '../topology/members.ts';

export const MemberRef = builder.objectRef<MemberRecord>('Member');

MemberRef.implement({
  description: "A pool member: a `server` line of the pool's haproxy backend, with its live state from the stats socket (`show stat`).",
  fields: (t) => ({
    id: t.string({ description: 'The member UUID (the haproxy server name).', resolve: (m) => m.server.id }),
    address: t.string({ description: 'Member address.', resolve: (m) => m.server.address }),
    port: t.int({ nullable: true, description: 'Member port.', resolve: (m) => m.server.port }),
    weight: t.int({ description: 'Weight (haproxy default 1).', resolve: (m) => m.server.weight ?? 1 }),
    backup: t.boolean({ description: 'A backup server.', resolve: (m) => m.server.backup }),
    adminDisabled: t.boolean({ description: 'Marked disabled in the config.', resolve: (m) => m.server.disabled }),
    checked: t.boolean({ description: 'Health checked (`check`).', resolve: (m) => m.server.check }),
    checkIntervalMs: t.int({ nullable: true, description: 'Check interval (inter) in ms, when written.', resolve: (m) => m.server.inter }),
    status: t.string({
      nullable: true,
      description: "Live status from the stats socket: UP, DOWN, MAINT, NOLB, DRAIN, 'no check', ... (UP/DOWN may carry a transition such as 'UP 1/2'). Null when haproxy does not report it; the response's errors say why.",
      resolve: async (m, _a, ctx) => (await memberStatsOf(ctx.session, m))?.status ?? null,
    }),
    checkStatus: t.string({ nullable: true, description: 'Last check result (L4OK, L4CON, L7OK, L7STS, ...).', resolve: async (m, _a, ctx) => (await memberStatsOf(ctx.session, m))?.checkStatus ?? null }),
    checkDescription: t.string({ nullable: true, description: 'Human text of the last check.', resolve: async (m, _a, ctx) => (await memberStatsOf(ctx.session, m))?.checkDesc ?? null }),
    currentSessions: t.int({ nullable: true, description: 'Current sessions (scur).', resolve: async (m, _a, ctx) => (await memberStatsOf(ctx.session, m))?.scur ?? null }),
    totalSessions: t.float({ nullable: true, description: 'Sessions since haproxy started (stot).', resolve: async (m, _a, ctx) => (await memberStatsOf(ctx.session, m))?.stot ?? null }),
    secondsSinceChange: t.int({ nullable: true, description: 'Seconds since the last UP/DOWN change (lastchg).', resolve: async (m, _a, ctx) => (await memberStatsOf(ctx.session, m))?.lastchg ?? null }),
    downtimeSeconds: t.int({ nullable: true, description: 'Total seconds down (downtime).', resolve: async (m, _a, ctx) => (await memberStatsOf(ctx.session, m))?.downtime ?? null }),
    pool: t.field({ type: PoolRef, description: 'The pool it belongs to.', resolve: (m) => m.pool }),
  }),
});
