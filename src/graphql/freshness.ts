// The `maxAge` argument every root field takes: how old an observation may be to be served
// from the cache. 0 makes the request look at the host now.
import { GraphQLError } from 'graphql';
import type { GraphQLContext } from './context.ts';

export const MAX_AGE_DESCRIPTION =
  'Serve observations at most this many seconds old; older ones are looked at again. 0 = look now. ' +
  'Default: the configured freshness (LBTOPO_TTL). With several root fields the smallest maxAge wins.';

export function applyMaxAge(ctx: GraphQLContext, maxAge: number | null | undefined): void {
  if (maxAge === null || maxAge === undefined) return;
  if (!Number.isFinite(maxAge) || maxAge < 0) throw new GraphQLError('maxAge must be a number of seconds >= 0', { extensions: { code: 'BAD_USER_INPUT' } });
  ctx.session.requireFreshness(maxAge * 1000);
}
