import { SEVERITY_VALUES } from './enum-values.ts';
import type { ArgBuilder, SchemaTypes } from '@pothos/core';
import { builder } from './builder.ts';
import { PoolRef } from './pool.ts';
import { NamespaceRef } from './namespace.ts';
import { ProcessRef } from './process.ts';
import { OvsPortRef } from './ovs-port.ts';
import { InterfaceRef } from './interface.ts';
import { MemberRef } from './member.ts';
import { applyMaxAge, MAX_AGE_DESCRIPTION } from './arguments.ts';
import { PROBLEM_CODES, PROBLEM_CODE_NAMES, problemKey } from '../diagnose/codes.ts';
import type { Problem, ProblemCode } from '../diagnose/codes.ts';
import { diagnoseHost } from '../diagnose/diagnose.ts';
import { findInterface, findNamespace, findOvsPort, findPool, findVisibleProcess } from '../topology/queries.ts';
import { membersOf } from '../topology/members.ts';

export const ProblemRef = builder.objectRef<Problem>('Problem');

export const SeverityEnum = builder.enumType('Severity', {
  description: 'How bad a problem is.',
  values: SEVERITY_VALUES,
});

export const ProblemCodeEnum = builder.enumType('ProblemCode', {
  description: 'What is wrong. Each code has one severity (see its description).',
  values: Object.fromEntries(
    PROBLEM_CODE_NAMES.map((code) => [code, { value: code, description: `${PROBLEM_CODES[code].severity}. ${PROBLEM_CODES[code].meaning}` }]),
  ) as Record<ProblemCode, { value: ProblemCode; description: string }>,
});

type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? (T extends SchemaTypes ? T : never) : never;

/** The `severity` and `code` arguments of every problems field. */
export const problemFilterArgs = (arg: ArgBuilder<BuilderTypes>) => ({
  severity: arg({ type: SeverityEnum, description: 'Only problems of this severity (CHECK_INCOMPLETE is always listed: an empty list must mean nothing was found, not that nothing could be looked at).' }),
  code: arg({ type: ProblemCodeEnum, description: 'Only problems with this code (CHECK_INCOMPLETE is always listed, as above). Only the probes this code needs run.' }),
});

ProblemRef.implement({
  description: 'A diagnosis: what is wrong (code, severity), what to do (message), and the objects it concerns. Computed from the probes when asked for; nothing is stored.',
  fields: (t) => ({
    code: t.field({ type: ProblemCodeEnum, description: 'What is wrong.', resolve: (p) => p.code }),
    severity: t.field({ type: SeverityEnum, description: 'How bad it is.', resolve: (p) => p.severity }),
    message: t.exposeString('message', { description: 'For an operator: names the pool, namespace, pid, port or file, and what to do.' }),
    key: t.string({ description: 'A stable key for this finding (code and the ids it concerns), to compare lists over time.', resolve: (p) => problemKey(p) }),
    poolId: t.exposeString('poolId', { nullable: true, description: 'The pool concerned, if any.' }),
    pool: t.field({ type: PoolRef, nullable: true, description: 'The pool concerned.', resolve: (p, _a, ctx) => (p.poolId ? findPool(ctx.session, p.poolId) : null) }),
    namespaceName: t.exposeString('namespace', { nullable: true, description: "The namespace concerned (a pool's namespace is named even when it does not exist)." }),
    namespace: t.field({ type: NamespaceRef, nullable: true, description: 'The namespace concerned; null when it does not exist.', resolve: (p, _a, ctx) => (p.namespace ? findNamespace(ctx.session, p.namespace) : null) }),
    pid: t.exposeInt('pid', { nullable: true, description: 'The process concerned (for HAPROXY_PID_STALE, the dead pid the pid file names).' }),
    process: t.field({
      type: ProcessRef,
      nullable: true,
      description: 'The process concerned, when it is alive: same pid and same start time as when the problem was found, so a reused pid is not confused.',
      resolve: async (p, _a, ctx) => {
        if (p.pid === null || p.processStartedAt === null) return null;
        const q = await findVisibleProcess(ctx.session, p.pid);
        return q && q.startedAt === p.processStartedAt ? q : null;
      },
    }),
    ovsPortName: t.exposeString('ovsPort', { nullable: true, description: 'The OVS port concerned (for OVS_PORT_MISSING, the name it should have).' }),
    ovsPort: t.field({
      type: OvsPortRef,
      nullable: true,
      description: 'The OVS port concerned; null when OVS has none of that name.',
      resolve: async (p, _a, ctx) => (p.ovsPort ? findOvsPort(ctx.session, p.ovsPort) : null),
    }),
    interfaceName: t.exposeString('interfaceName', { nullable: true, description: 'The device concerned, in `namespace`.' }),
    interface: t.field({
      type: InterfaceRef,
      nullable: true,
      description: 'The device concerned.',
      resolve: async (p, _a, ctx) => (p.interfaceName && p.namespace ? findInterface(ctx.session, p.namespace, p.interfaceName) : null),
    }),
    memberId: t.exposeString('memberId', { nullable: true, description: 'The member concerned (MEMBER_DOWN).' }),
    member: t.field({
      type: MemberRef,
      nullable: true,
      description: 'The member concerned.',
      resolve: async (p, _a, ctx) => {
        if (!p.memberId || !p.poolId) return null;
        const pool = await findPool(ctx.session, p.poolId);
        return pool ? membersOf(pool).find((m) => m.server.id === p.memberId) ?? null : null;
      },
    }),
    file: t.exposeString('file', { nullable: true, description: 'The file concerned: config, pid file, stats socket or state dir.' }),
    probe: t.exposeString('probe', { nullable: true, description: 'CHECK_INCOMPLETE: the probe that failed, with its scope after a colon (ip:qlbaas-…).' }),
  }),
});

builder.queryField('problems', (t) =>
  t.field({
    type: [ProblemRef],
    nullable: true,
    description:
      'Every problem on this host, worst first: pools, and what belongs to no pool (leftover namespaces and OVS ports). Only the probes the selected codes need run. ' +
      'A probe that fails gives a CHECK_INCOMPLETE naming it, never a guessed problem.',
    args: { ...problemFilterArgs(t.arg), maxAge: t.arg.float({ description: MAX_AGE_DESCRIPTION }) },
    resolve: (_root, args, ctx) => {
      applyMaxAge(ctx, args.maxAge);
      return diagnoseHost(ctx.session, { code: args.code ?? null, severity: args.severity ?? null });
    },
  }),
);
