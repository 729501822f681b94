import { fleetBuilder } from './builder.ts';
import { FleetHostRef, FleetPoolRef, FleetProblemRef } from './refs.ts';
import { ProblemCodeEnum, SeverityEnum } from './enums.ts';
import { hostOf, requireHostName } from './host.ts';
import { MAX_AGE_FLEET } from './pool.ts';
import { fleetProblems } from '../problems.ts';

FleetProblemRef.implement({
  description: 'A diagnosis as its host made it (or HOST_STALE, which the fleet judges): what is wrong, what to do, what it concerns.',
  fields: (t) => ({
    code: t.field({ type: ProblemCodeEnum, description: 'What is wrong.', resolve: (p) => p.code }),
    severity: t.field({ type: SeverityEnum, description: 'How bad it is.', resolve: (p) => p.severity }),
    message: t.exposeString('message', { description: 'For an operator: names the pool, namespace, pid, port or file, and what to do.' }),
    key: t.exposeString('key', { description: 'A stable key for this finding on its host.' }),
    poolId: t.exposeString('poolId', { nullable: true, description: 'The pool concerned, if any.' }),
    pool: t.field({ type: FleetPoolRef, nullable: true, description: 'The pool concerned, on the same host.', resolve: (p, _a, ctx) => (p.poolId ? ctx.cache.poolsOf(p.host).find((x) => x.id === p.poolId) ?? null : null) }),
    namespaceName: t.exposeString('namespace', { nullable: true, description: 'The namespace concerned.' }),
    pid: t.exposeInt('pid', { nullable: true, description: 'The process concerned.' }),
    ovsPortName: t.exposeString('ovsPort', { nullable: true, description: 'The OVS port concerned.' }),
    interfaceName: t.exposeString('interfaceName', { nullable: true, description: 'The device concerned, in `namespace`.' }),
    memberId: t.exposeString('memberId', { nullable: true, description: 'The member concerned.' }),
    file: t.exposeString('file', { nullable: true, description: 'The file concerned.' }),
    probe: t.exposeString('probe', { nullable: true, description: 'CHECK_INCOMPLETE: the probe that failed on the host.' }),
    host: t.field({ type: FleetHostRef, description: 'The host it was found on.', resolve: (p, _a, ctx) => hostOf(ctx, p.host) }),
    observedAt: t.field({ type: 'DateTime', description: 'When its host diagnosed it (HOST_STALE: the last push).', resolve: (p) => p.observedAt }),
    stale: t.boolean({ description: 'Its host is stale: this may be out of date.', resolve: (p, _a, ctx) => ctx.cache.isStale(hostOf(ctx, p.host), ctx.now) }),
  }),
});

fleetBuilder.queryField('problems', (t) =>
  t.field({
    type: [FleetProblemRef],
    description: 'Every problem of the fleet, worst first, then by pool and host; HOST_STALE for each host that stopped pushing.',
    args: {
      severity: t.arg({ type: SeverityEnum, description: 'Only problems of this severity.' }),
      code: t.arg({ type: ProblemCodeEnum, description: 'Only problems with this code.' }),
      host: t.arg.string({ description: 'Only problems of this host.' }),
      maxAge: t.arg.float({ description: MAX_AGE_FLEET }),
    },
    resolve: (_root, args, ctx) => {
      if (args.host != null) requireHostName(args.host);
      return fleetProblems(ctx.cache, ctx.now, { severity: args.severity ?? null, code: args.code ?? null, host: args.host ?? null });
    },
  }),
);
