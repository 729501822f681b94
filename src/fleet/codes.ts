// The fleet's own problem code, beside the hosts' (src/diagnose/codes.ts): a host that stopped
// pushing. It is judged when asked (from lastPush), never stored, and it is a WARNING like
// CHECK_INCOMPLETE: a fleet check that cannot see a host must not say OK for it.
import type { ProblemCode, Severity } from '../diagnose/codes.ts';

/** A host is stale when its last push is older than this many of its intervals. */
export const STALE_INTERVALS = 3;

export const FLEET_PROBLEM_CODES = {
  HOST_STALE: {
    severity: 'WARNING',
    meaning: `The host has not pushed for more than ${STALE_INTERVALS} of its intervals: lbtopo serve stopped there, or cannot reach the fleet database. Its facts are as of its last push.`,
  },
} as const satisfies Record<string, { severity: Severity; meaning: string }>;

export type FleetProblemCode = ProblemCode | keyof typeof FLEET_PROBLEM_CODES;
export const FLEET_PROBLEM_CODE_NAMES = Object.keys(FLEET_PROBLEM_CODES) as (keyof typeof FLEET_PROBLEM_CODES)[];
