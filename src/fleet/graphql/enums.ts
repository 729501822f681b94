// The fleet's enums, made from the same tables as the host schema's.
import { fleetBuilder } from './builder.ts';
import { DATE_TIME_SCALAR } from '../../graphql/scalars.ts';
import { HOST_KIND_VALUES } from '../../topology/host.ts';
import { PROBLEM_CODES, PROBLEM_CODE_NAMES } from '../../diagnose/codes.ts';
import { FLEET_PROBLEM_CODES, FLEET_PROBLEM_CODE_NAMES } from '../codes.ts';
import type { FleetProblemCode } from '../codes.ts';

fleetBuilder.scalarType('DateTime', DATE_TIME_SCALAR);

export const HostKindEnum = fleetBuilder.enumType('HostKind', { description: 'What kind of load-balancer host this is.', values: HOST_KIND_VALUES });

export const PoolLayoutEnum = fleetBuilder.enumType('PoolLayout', {
  description: 'Which LBaaS implementation deployed the pool.',
  values: {
    V1: { value: 'v1', description: 'neutron-lbaas v1: <lbaas dir>/<pool id>/conf, pid, sock; namespace qlbaas-<pool id>.' },
    V2: { value: 'v2', description: 'neutron-lbaas v2: <lbaas dir>/v2/<lb id>/haproxy.conf, haproxy.pid, haproxy_stats.sock; namespace qlbaas-<lb id>.' },
    OCTAVIA: { value: 'octavia', description: 'Octavia amphora: <octavia dir>/<lb id>/haproxy.cfg; namespace amphora-haproxy.' },
  } as const,
});

export const HaproxyPresenceEnum = fleetBuilder.enumType('HaproxyPresence', {
  description: 'Whether a live haproxy runs the pool.',
  values: { RUNNING: { value: 'RUNNING', description: 'A live haproxy runs the pool config.' }, MISSING: { value: 'MISSING', description: 'No live haproxy runs the pool config.' } } as const,
});

export const SeverityEnum = fleetBuilder.enumType('Severity', {
  description: 'How bad a problem is.',
  values: {
    CRITICAL: { value: 'CRITICAL', description: 'The VIP does not work (or not from where clients are) until someone acts.' },
    WARNING: { value: 'WARNING', description: 'It works now but something is wrong that will bite (or a check could not be made).' },
    INFO: { value: 'INFO', description: 'Nothing is broken for users: a single member down, leftovers to clean up.' },
  } as const,
});

const codeNames = [...PROBLEM_CODE_NAMES, ...FLEET_PROBLEM_CODE_NAMES];
export const ProblemCodeEnum = fleetBuilder.enumType('ProblemCode', {
  description: "What is wrong. The host's codes, and the fleet's own (HOST_STALE). Each code has one severity (see its description).",
  values: Object.fromEntries(
    codeNames.map((code) => {
      const spec = code in PROBLEM_CODES ? PROBLEM_CODES[code as keyof typeof PROBLEM_CODES] : FLEET_PROBLEM_CODES[code as keyof typeof FLEET_PROBLEM_CODES];
      return [code, { value: code, description: `${spec.severity}. ${spec.meaning}` }];
    }),
  ) as Record<FleetProblemCode, { value: FleetProblemCode; description: string }>,
});
