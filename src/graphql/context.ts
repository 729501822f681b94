import type { TopologySession } from '../topology/session.ts';

/** Per-request context: one TopologySession, so each probe runs at most once per request. */
export interface GraphQLContext {
  session: TopologySession;
}
