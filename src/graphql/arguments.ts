// Argument checks the root fields share. A bad argument is the caller's mistake: a GraphQL error
// with code BAD_USER_INPUT, raised before any probe runs, so nothing reaches the host.
import { GraphQLError } from 'graphql';
import { isValidNamespaceName } from '../host/names.ts';
import type { GraphQLContext } from './context.ts';

export const MAX_AGE_DESCRIPTION =
  'Serve observations at most this many seconds old; older ones are looked at again. 0 = look now. ' +
  'Default: the configured freshness (LBTOPO_TTL). With several root fields the smallest maxAge wins.';

export function badUserInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

/** The `maxAge` argument every root field takes: how old a served observation may be. */
export function applyMaxAge(ctx: GraphQLContext, maxAge: number | null | undefined): void {
  if (maxAge === null || maxAge === undefined) return;
  if (!Number.isFinite(maxAge) || maxAge < 0) throw badUserInput('maxAge must be a number of seconds >= 0');
  ctx.session.requireFreshness(maxAge * 1000);
}

/** Namespace names reach `ip -n`: letters, digits, '-', '_', '.', ':' only. */
export function requireNamespaceName(name: string): void {
  if (!isValidNamespaceName(name)) {
    throw badUserInput(`not a valid namespace name: ${JSON.stringify(name)} (letters, digits, '-', '_', '.', ':' only)`);
  }
}
