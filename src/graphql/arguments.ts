// Argument checks the root fields share. A bad argument is the caller's mistake: a GraphQL error
// with code BAD_USER_INPUT, raised before any probe runs, so nothing reaches the host.
import { GraphQLError } from 'graphql';
import { isUuid, isValidNamespaceName } from '../host/names.ts';
import { isPortIdOrPrefix } from '../topology/queries.ts';
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

/** How an argument is quoted back in an error: JSON, cut to 80 characters (never megabytes of input). */
export function echo(value: string): string {
  const MAX = 80;
  return value.length <= MAX ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, MAX))}... (${value.length} characters)`;
}

/** Namespace names reach `ip -n`: letters, digits, '-', '_', '.', ':' only. */
export function requireNamespaceName(name: string): void {
  if (!isValidNamespaceName(name)) {
    throw badUserInput(`not a valid namespace name: ${echo(name)} (letters, digits, '-', '_', '.', ':' only)`);
  }
}

/**
 * One rule for every id argument: a UUID in either case (Neutron prints lower case; people paste
 * upper case), answered in lower case. Checked before anything is read.
 */
export function requireUuid(what: string, id: string): string {
  const lower = id.toLowerCase();
  if (!isUuid(lower)) throw badUserInput(`not a ${what} id: ${echo(id)} (a UUID)`);
  return lower;
}

/** A port id: a UUID, or the 11 characters a tap name carries (70081ac2-6f), either case. */
export function requirePortId(id: string): string {
  const lower = id.toLowerCase();
  if (!isPortIdOrPrefix(lower)) throw badUserInput(`not a port id: ${echo(id)} (a UUID, or the 11 characters after "tap" such as 70081ac2-6f)`);
  return lower;
}
