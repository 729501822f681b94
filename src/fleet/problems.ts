// The fleet's problem list: what the hosts pushed, and HOST_STALE (codes.ts) judged at query time.
import { compareProblems } from '../diagnose/codes.ts';
import type { Problem, Severity } from '../diagnose/codes.ts';
import type { FleetCache, FleetHost, FleetProblem } from './cache.ts';
import { FLEET_PROBLEM_CODES } from './codes.ts';
import type { FleetProblemCode } from './codes.ts';

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
