// The fleet's own problem code, beside the hosts' (src/diagnose/codes.ts): a host that stopped
// pushing. It is judged when asked (from lastPush), never stored, and it is a WARNING like
// CHECK_INCOMPLETE: a fleet check that cannot see a host must not say OK for it.
import { compareProblems } from '../diagnose/codes.ts';
import type { Problem, ProblemCode, Severity } from '../diagnose/codes.ts';
import type { FleetCache, FleetHost, FleetProblem } from './cache.ts';
import { STALE_INTERVALS } from './cache.ts';

export const FLEET_PROBLEM_CODES = {
  HOST_STALE: {
    severity: 'WARNING',
    meaning: `The host has not pushed for more than ${STALE_INTERVALS} of its intervals: lbtopo serve stopped there, or cannot reach the fleet database. Its facts are as of its last push.`,
  },
} as const satisfies Record<string, { severity: Severity; meaning: string }>;

export type FleetProblemCode = ProblemCode | keyof typeof FLEET_PROBLEM_CODES;

export interface FleetProblemView extends Omit<FleetProblem, 'code'> {
  code: FleetProblemCode;
}

export function hostStaleProblem(host: FleetHost, now: number): FleetProblemView {
  const silentFor = Math.round((now - host.lastPush) / 1000);
  return {
    host: host.name,
    key: `HOST_STALE:${host.name}`,
    code: 'HOST_STALE',
    severity: FLEET_PROBLEM_CODES.HOST_STALE.severity,
    message:
      `Host ${host.name}: no push for ${silentFor}s (since ${new Date(host.lastPush).toISOString()}; its interval is ${host.intervalMs / 1000}s), so its facts may be out of date. ` +
      `Check that lbtopo serve runs on ${host.name} with LBTOPO_FLEET_DB set, and that it reaches the fleet database (its log says why a push failed).`,
    poolId: null,
    namespace: null,
    pid: null,
    ovsPort: null,
    interfaceName: null,
    memberId: null,
    file: null,
    probe: null,
    observedAt: host.lastPush,
  };
}

const SEVERITY_RANK: Record<Severity, number> = { CRITICAL: 0, WARNING: 1, INFO: 2 };

export interface FleetProblemFilter {
  severity?: Severity | null;
  code?: FleetProblemCode | null;
  host?: string | null;
}

/** Every problem of the fleet (hosts' and HOST_STALE), worst first, then by host. */
export function fleetProblems(cache: FleetCache, now: number, filter: FleetProblemFilter = {}): FleetProblemView[] {
  const out: FleetProblemView[] = [];
  for (const p of filter.host ? cache.problemsOf(filter.host) : cache.problems()) out.push(p);
  for (const h of cache.hosts.values()) {
    if ((!filter.host || h.name === filter.host) && cache.isStale(h, now)) out.push(hostStaleProblem(h, now));
  }
  return out
    .filter((p) => (filter.severity == null || p.severity === filter.severity) && (filter.code == null || p.code === filter.code))
    .sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || compareProblems(a as unknown as Problem, b as unknown as Problem) || a.host.localeCompare(b.host));
}
