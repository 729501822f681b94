// Entry points: gather the facts the asked-for codes need through the request's session, then
// judge them with the pure rules. Callers (GraphQL, the metrics, the CLI through GraphQL) never
// gather facts themselves.
import type { TopologySession } from '../topology/session.ts';
import type { PoolRecord } from '../topology/pools.ts';
import { PROBLEM_CODES, selectCodes } from './codes.ts';
import type { Problem, ProblemCode, Severity } from './codes.ts';
import { gatherFacts } from './facts.ts';
import { gapConcernsPool, judge } from './rules.ts';

export interface ProblemFilter {
  code?: ProblemCode | null;
  severity?: Severity | null;
}

/** Every problem on the host (pools and leftovers), worst first. */
export async function diagnoseHost(session: TopologySession, filter: ProblemFilter = {}): Promise<Problem[]> {
  const codes = selectCodes(filter);
  const facts = await gatherFacts(session, { codes });
  return judge(facts, codes);
}

/** One pool's problems: runs ip only in its namespace and asks only its stats socket. */
export async function diagnosePool(session: TopologySession, pool: PoolRecord, filter: ProblemFilter = {}): Promise<Problem[]> {
  const codes = new Set([...selectCodes(filter)].filter((c) => PROBLEM_CODES[c].perPool));
  const facts = await gatherFacts(session, { codes, poolFilter: (p) => p.id === pool.id });
  return judge(facts, codes, { pool });
}

/** A namespace's problems: those of the pools that belong in it, and ORPHAN_NAMESPACE. */
export async function diagnoseNamespace(session: TopologySession, name: string, filter: ProblemFilter = {}): Promise<Problem[]> {
  const codes = new Set([...selectCodes(filter)].filter((c) => PROBLEM_CODES[c].perPool || c === 'ORPHAN_NAMESPACE'));
  const facts = await gatherFacts(session, { codes, poolFilter: (p) => p.namespaceName === name });
  return judge(facts, codes, { namespace: name }).filter((p) => p.namespace === name);
}

/**
 * Ids of the pools with a problem the filter selects. A pool whose check could not be completed
 * (CHECK_INCOMPLETE) is included too: in a list of broken pools, one that may be broken is
 * better listed than silently missed; its `problems` say why.
 */
export async function poolIdsWithProblems(session: TopologySession, filter: ProblemFilter): Promise<Set<string>> {
  const codes = new Set([...selectCodes(filter)].filter((c) => PROBLEM_CODES[c].perPool));
  const facts = await gatherFacts(session, { codes });
  const ids = new Set(judge(facts, codes).flatMap((p) => (p.poolId !== null && p.code !== 'CHECK_INCOMPLETE' ? [p.poolId] : [])));
  for (const gap of facts.gaps) for (const pool of facts.pools) if (gapConcernsPool(gap, pool)) ids.add(pool.id);
  return ids;
}
