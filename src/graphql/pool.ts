import { HAPROXY_PRESENCE_VALUES, POOL_LAYOUT_VALUES } from './enum-values.ts';
import { builder } from './builder.ts';
import type { GraphQLContext } from './context.ts';
import { NamespaceRef } from './namespace.ts';
import { InterfaceRef } from './interface.ts';
import { PortRef } from './port.ts';
import { ProcessRef } from './process.ts';
import { MemberRef } from './member.ts';
import { ProblemCodeEnum, ProblemRef, SeverityEnum, problemFilterArgs } from './problem.ts';
import { applyMaxAge, badUserInput, MAX_AGE_DESCRIPTION, requireUuid } from './arguments.ts';
import { findNamespace, findPool, haproxyHistoryOf, listPools, listProcessRecords, portOfInterface, vipInterfaceOfPool } from '../topology/queries.ts';
import { describePeriod } from '../topology/queries.ts';
import type { HaproxyPeriod } from '../topology/queries.ts';
import type { HaproxySighting } from '../topology/probes.ts';
import type { Seen } from '../topology/queries.ts';
import type { PoolRecord } from '../topology/pools.ts';
import { haproxyProcessesOf, liveHaproxyOf, stalePidsOf, vipOf } from '../topology/pools.ts';
import { membersOf, memberStatsOf, statsRowsOf } from '../topology/members.ts';
import type { HaproxyFrontend, HaproxyHealthCheck } from '../host/haproxy-config.ts';
import { diagnosePool, poolIdsWithProblems } from '../diagnose/diagnose.ts';

export const PoolRef = builder.objectRef<Seen<PoolRecord>>('Pool');
export const ListenerRef = builder.objectRef<HaproxyFrontend>('Listener');
const HealthCheckRef = builder.objectRef<HaproxyHealthCheck>('HealthCheck');
const VipRef = builder.objectRef<{ address: string; port: number | null; frontend: string }>('Vip');
const HaproxyRuntimeRef = builder.objectRef<{ socketPath: string }>('HaproxyRuntime');
const HaproxyPeriodRef = builder.objectRef<HaproxyPeriod>('HaproxyPeriod');
const HaproxySightingRef = builder.objectRef<HaproxySighting>('HaproxySighting');

HaproxySightingRef.implement({
  description: 'A haproxy process seen running the pool config.',
  fields: (t) => ({
    pid: t.exposeInt('pid', { description: 'Its pid.' }),
    startedAt: t.field({ type: 'DateTime', description: 'When it started (with the pid, its identity).', resolve: (s) => s.startedAt }),
    netnsInode: t.exposeFloat('netnsInode', { nullable: true, description: 'Inode of its network namespace.' }),
  }),
});

HaproxyPeriodRef.implement({
  description: 'A stretch of time over which every look at /proc saw the same haproxy processes on the pool config (none: haproxy was missing).',
  fields: (t) => ({
    from: t.field({ type: 'DateTime', description: 'The first look that saw this state.', resolve: (p) => p.from }),
    to: t.field({ type: 'DateTime', description: 'The last look that saw it: the change to the next (newer) period happened after this.', resolve: (p) => p.to }),
    running: t.boolean({ description: 'Whether a haproxy ran the config.', resolve: (p) => p.processes.length > 0 }),
    processes: t.field({ type: [HaproxySightingRef], description: 'The haproxy processes seen.', resolve: (p) => p.processes }),
    sinceFirstLook: t.exposeBoolean('sinceFirstLook', { description: "True when the period begins at lbtopo's first look at /proc: nothing older is known." }),
    summary: t.string({ description: 'The period in words, e.g. "missing since the first look at 2026-12-01T22:00:00.000Z (last seen so at ...)".', resolve: (p) => describePeriod(p) }),
  }),
});

export const PoolLayoutEnum = builder.enumType('PoolLayout', {
  description: 'Which LBaaS implementation deployed the pool.',
  values: POOL_LAYOUT_VALUES,
});

const HaproxyPresenceEnum = builder.enumType('HaproxyPresence', {
  description: 'Whether a live haproxy runs the pool.',
  values: HAPROXY_PRESENCE_VALUES,
});
const NamespacePresenceEnum = builder.enumType('NamespacePresence', {
  description: "Whether the pool's namespace exists.",
  values: { PRESENT: { value: 'PRESENT', description: 'The namespace exists.' }, MISSING: { value: 'MISSING', description: 'The namespace does not exist.' } } as const,
});

export const PoolFilterInput = builder.inputType('PoolFilter', {
  description: 'Conditions a pool must all meet. Conditions that need no probe run none.',
  fields: (t) => ({
    haproxy: t.field({ type: HaproxyPresenceEnum, description: 'MISSING: pools no live haproxy runs (reads /proc only).' }),
    namespace: t.field({ type: NamespacePresenceEnum, description: "PRESENT or MISSING: whether the pool's namespace exists (no process spawned)." }),
    layout: t.field({ type: PoolLayoutEnum, description: 'Only pools of this layout (state dirs only).' }),
    problem: t.field({
      type: ProblemCodeEnum,
      description: 'Only pools with a problem of this code; runs only the probes that code needs. A pool whose check could not be completed (a probe failed) is listed too; its problems say CHECK_INCOMPLETE.',
    }),
    severity: t.field({ type: SeverityEnum, description: 'Only pools with a problem of this severity (with `problem`: both must hold for the same problem). Pools whose check was incomplete are listed too.' }),
  }),
});

ListenerRef.implement({
  description: 'A haproxy frontend sending traffic to the pool (the VIP in v1, a listener in v2 and Octavia).',
  fields: (t) => ({
    id: t.exposeString('name', { description: 'Frontend name: the VIP id (v1) or the listener id (v2, Octavia).' }),
    binds: t.stringList({ description: 'Bind addresses as written (10.0.0.5:80).', resolve: (f) => f.binds.map((b) => b.raw) }),
    mode: t.exposeString('mode', { nullable: true, description: 'http or tcp.' }),
    maxconn: t.exposeInt('maxconn', { nullable: true, description: 'Connection limit, if set.' }),
    disabled: t.exposeBoolean('disabled', { description: 'Administratively down (`disabled`).' }),
  }),
});

HealthCheckRef.implement({
  description: "The pool's health monitor as written in the haproxy backend.",
  fields: (t) => ({
    type: t.exposeString('type', { description: 'http, ssl-hello, connect (plain TCP), ...' }),
    method: t.exposeString('method', { nullable: true, description: 'HTTP method of the check.' }),
    path: t.exposeString('path', { nullable: true, description: 'HTTP path of the check.' }),
    expect: t.exposeString('expect', { nullable: true, description: 'http-check expect, e.g. rstatus 200|201.' }),
    timeoutMs: t.exposeInt('timeoutCheck', { nullable: true, description: 'timeout check in ms.' }),
  }),
});

VipRef.implement({
  description: 'The virtual IP the pool is reached on.',
  fields: (t) => ({
    address: t.exposeString('address', { description: 'VIP address.' }),
    port: t.exposeInt('port', { nullable: true, description: 'Listening port.' }),
    listener: t.exposeString('frontend', { description: 'The frontend binding it.' }),
  }),
});

async function stats(r: { socketPath: string }, ctx: GraphQLContext) {
  return (await ctx.session.stats(r.socketPath)).value;
}

HaproxyRuntimeRef.implement({
  description: "What the pool's haproxy says about itself on its stats socket (`show info`).",
  fields: (t) => ({
    socketPath: t.exposeString('socketPath', { description: 'The stats socket.' }),
    reachable: t.boolean({ nullable: true, description: 'The socket answered.', resolve: async (r, _a, ctx) => (await stats(r, ctx)).reachable }),
    error: t.string({ nullable: true, description: 'Why the socket did not answer (missing, refused, timeout, garbage).', resolve: async (r, _a, ctx) => { const s = await stats(r, ctx); return s.reachable ? null : `${s.reason}: ${s.error}`; } }),
    version: t.string({ nullable: true, description: 'haproxy version.', resolve: async (r, _a, ctx) => { const s = await stats(r, ctx); return s.reachable ? s.info.version : null; } }),
    pid: t.int({ nullable: true, description: 'Pid of the haproxy that answered.', resolve: async (r, _a, ctx) => { const s = await stats(r, ctx); return s.reachable ? s.info.pid : null; } }),
    uptimeSeconds: t.int({ nullable: true, description: 'Uptime_sec.', resolve: async (r, _a, ctx) => { const s = await stats(r, ctx); return s.reachable ? s.info.uptimeSec : null; } }),
    currentConnections: t.int({ nullable: true, description: 'CurrConns.', resolve: async (r, _a, ctx) => { const s = await stats(r, ctx); return s.reachable ? s.info.currConns : null; } }),
    observedAt: t.field({ type: 'DateTime', description: 'When the socket was asked.', resolve: async (r, _a, ctx) => (await ctx.session.stats(r.socketPath)).observedAt }),
  }),
});

PoolRef.implement({
  description: 'A load-balancer pool deployed on this host, from the LBaaS state dirs and its haproxy config, linked to what runs it.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'The pool UUID.' }),
    layout: t.field({ type: PoolLayoutEnum, description: 'Which LBaaS deployed it.', resolve: (p) => p.layout }),
    loadBalancerId: t.exposeString('loadBalancerId', { nullable: true, description: 'v2 and Octavia: the load balancer id.' }),
    stateDir: t.string({ description: 'The state directory.', resolve: (p) => p.deployment.stateDir }),
    configPath: t.string({ description: 'The haproxy config file.', resolve: (p) => p.deployment.configPath }),
    pidFile: t.string({ description: 'The pid file haproxy is started with (-p).', resolve: (p) => p.deployment.pidPath }),
    pidFilePids: t.intList({ description: 'Pids in the pid file (empty when it is missing).', resolve: (p) => p.deployment.pids }),
    stalePids: t.intList({ nullable: true, description: 'Pid-file pids naming no live haproxy on this config (reads /proc).', resolve: async (p, _a, ctx) => stalePidsOf(p, (await ctx.session.processes()).value) }),
    socketPath: t.string({ description: 'The haproxy stats socket.', resolve: (p) => p.deployment.socketPath }),
    configModifiedAt: t.field({ type: 'DateTime', nullable: true, description: 'mtime of the config file.', resolve: (p) => p.deployment.configMtimeMs }),
    configError: t.string({ nullable: true, description: 'Why the config could not be read or parsed, if so.', resolve: (p) => p.deployment.configError }),
    vip: t.field({ type: VipRef, nullable: true, description: 'The VIP the config binds.', resolve: (p) => vipOf(p) }),
    listeners: t.field({ type: [ListenerRef], description: 'Frontends sending traffic to the pool.', resolve: (p) => p.frontends }),
    balance: t.string({ nullable: true, description: 'Balancing algorithm (roundrobin, leastconn, source).', resolve: (p) => p.backend?.balance ?? null }),
    healthCheck: t.field({ type: HealthCheckRef, nullable: true, description: 'Health monitor.', resolve: (p) => p.backend?.healthCheck ?? null }),
    namespaceName: t.string({ description: 'The namespace its haproxy must run in (qlbaas-<id>, or amphora-haproxy).', resolve: (p) => p.namespaceName }),
    namespace: t.field({ type: NamespaceRef, nullable: true, description: 'That namespace; null when it does not exist.', resolve: (p, _a, ctx) => findNamespace(ctx.session, p.namespaceName) }),
    vipInterface: t.field({ type: InterfaceRef, nullable: true, description: 'The device carrying the VIP in the namespace (or its tap when the VIP address is gone). Runs `ip` in the namespace.', resolve: (p, _a, ctx) => vipInterfaceOfPool(ctx.session, p) }),
    vipPort: t.field({
      type: PortRef,
      nullable: true,
      description: 'The Neutron port of the VIP, from the VIP tap (tap + 11 characters of the port id); its id is completed from OVS.',
      resolve: async (p, _a, ctx) => {
        const iface = await vipInterfaceOfPool(ctx.session, p);
        return iface ? portOfInterface(ctx.session, iface) : null;
      },
    }),
    haproxy: t.field({
      type: ProcessRef,
      nullable: true,
      description: 'The live haproxy of this pool (the pid-file process if alive, else the newest haproxy on its config); null when none runs. Reads /proc only.',
      resolve: async (p, _a, ctx) => liveHaproxyOf(p, await listProcessRecords(ctx.session)),
    }),
    haproxyProcesses: t.field({
      type: [ProcessRef],
      nullable: true,
      description: 'Every live haproxy started on its config, oldest first (more than one: old processes still draining after a reload).',
      resolve: async (p, _a, ctx) => haproxyProcessesOf(p, await listProcessRecords(ctx.session)),
    }),
    haproxyHistory: t.field({
      type: [HaproxyPeriodRef],
      description:
        'When haproxy ran this pool, newest first: periods of unchanged haproxy processes from the observation log ("when did this haproxy disappear?"). It covers the looks lbtopo made (any query, check or scrape reading /proc), this one included.',
      args: { limit: t.arg.int({ defaultValue: 20, description: 'At most this many periods (1-200).' }) },
      resolve: (p, args, ctx) => {
        const limit = args.limit ?? 20;
        if (limit < 1 || limit > 200) throw badUserInput('limit must be between 1 and 200');
        return haproxyHistoryOf(ctx.session, p, limit);
      },
    }),
    stats: t.field({ type: HaproxyRuntimeRef, description: 'What its haproxy reports on the stats socket.', resolve: (p) => ({ socketPath: p.deployment.socketPath }) }),
    members: t.field({
      type: [MemberRef],
      nullable: true,
      description: 'Members (server lines), with live status from the stats socket.',
      args: { status: t.arg.string({ description: 'Only members whose live status starts with this (UP, DOWN, MAINT, ...). Reads the stats socket.' }) },
      resolve: async (p, args, ctx) => {
        const members = membersOf(p);
        if (args.status == null) return members;
        await statsRowsOf(ctx.session, p);
        const statuses = await Promise.all(members.map((m) => memberStatsOf(ctx.session, m)));
        return members.filter((_m, i) => statuses[i]?.status?.split(' ')[0] === args.status!.toUpperCase());
      },
    }),
    problems: t.field({
      type: [ProblemRef],
      nullable: true,
      description: "What is wrong with this pool, worst first. Runs the probes the checks need, for this pool only (ip in its namespace, its stats socket).",
      args: problemFilterArgs(t.arg),
      resolve: (p, args, ctx) => diagnosePool(ctx.session, p, { code: args.code ?? null, severity: args.severity ?? null }),
    }),
    observedAt: t.field({ type: 'DateTime', description: 'When the state dirs were read.', resolve: (p) => p.observedAt }),
  }),
});

builder.queryFields((t) => ({
  pools: t.field({
    type: [PoolRef],
    nullable: true,
    description: 'Pools deployed on this host, sorted by id.',
    args: { where: t.arg({ type: PoolFilterInput, description: 'Conditions.' }), maxAge: t.arg.float({ description: MAX_AGE_DESCRIPTION }) },
    resolve: async (_root, args, ctx) => {
      applyMaxAge(ctx, args.maxAge);
      let pools = await listPools(ctx.session);
      const where = args.where;
      if (where?.layout != null) pools = pools.filter((p) => p.layout === where.layout);
      if (where?.namespace != null) {
        const names = new Set((await ctx.session.namespaces()).value.map((n) => n.name));
        pools = pools.filter((p) => names.has(p.namespaceName) === (where.namespace === 'PRESENT'));
      }
      if (where?.haproxy != null) {
        const processes = (await ctx.session.processes()).value;
        pools = pools.filter((p) => (liveHaproxyOf(p, processes) !== null) === (where.haproxy === 'RUNNING'));
      }
      if (pools.length > 0 && (where?.problem != null || where?.severity != null)) {
        const ids = await poolIdsWithProblems(ctx.session, { code: where.problem ?? null, severity: where.severity ?? null });
        pools = pools.filter((p) => ids.has(p.id));
      }
      return pools;
    },
  }),
  pool: t.field({
    type: PoolRef,
    nullable: true,
    description: 'One pool by UUID (either case); null when this host has no such pool.',
    args: { id: t.arg.string({ required: true, description: 'Pool UUID.' }), maxAge: t.arg.float({ description: MAX_AGE_DESCRIPTION }) },
    resolve: (_root, args, ctx) => {
      const id = requireUuid('pool', args.id);
      applyMaxAge(ctx, args.maxAge);
      return findPool(ctx.session, id);
    },
  }),
}));
