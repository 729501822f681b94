// The fleet's enums, made from the same tables as the host schema's.
import { HAPROXY_PRESENCE_VALUES, POOL_LAYOUT_VALUES, SEVERITY_VALUES } from '../../graphql/enum-values.ts';
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
  values: POOL_LAYOUT_VALUES,
});

export const HaproxyPresenceEnum = fleetBuilder.enumType('HaproxyPresence', {
  description: 'Whether a live haproxy runs the pool.',
  values: HAPROXY_PRESENCE_VALUES,
});

export const SeverityEnum = fleetBuilder.enumType('Severity', {
  description: 'How bad a problem is.',
  values: SEVERITY_VALUES,
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
