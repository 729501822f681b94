// Bounds on what one request may ask and how long it may take, so no query can hold the host or
// the server: a token limit while parsing, then one validation pass measuring depth, aliases,
// fields and a static cost, then a deadline and the client's disconnect during execution.
//
// The cost model is static and per selection, so it does not depend on how many pools the host
// has: every field costs 1, and a field returning a list of objects multiplies the cost of its
// selection by how many elements it may fan out to: FAN_OUT_ROOT (100) for the root lists (pools,
// namespaces, interfaces, processes, ovsPorts, problems, ...), FAN_OUT_NESTED (10) for a list
// below (routes, interfaces, processes, members, problems of one object, ...). A back-link
// nesting, `namespaces { routes { namespace { routes { ... } } } }`, multiplies at each level and
// is refused after a few; the whole trace of every pool (examples/queries/pools-trace.graphql)
// costs 10 001. Introspection fields (__schema, __type, __typename) are not counted: GraphiQL's
// own introspection query is deep but bounded by the schema, and the token limit bounds its size.
import { GraphQLError, getNamedType, getNullableType, isCompositeType, isListType, isObjectType, isInterfaceType, parse } from 'graphql';
import type { ASTVisitor, DocumentNode, FragmentDefinitionNode, GraphQLCompositeType, GraphQLSchema, SelectionSetNode, ValidationContext } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { Plugin } from 'graphql-yoga';
import type { QueryLimits } from '../config.ts';
import type { GraphQLContext } from './context.ts';

export const FAN_OUT_ROOT = 100;
export const FAN_OUT_NESTED = 10;

/** What a query asks for, measured before it runs. */
export interface QueryMeasure {
  depth: number;
  aliases: number;
  fields: number;
  cost: number;
}

const ZERO: QueryMeasure = { depth: 0, aliases: 0, fields: 0, cost: 0 };

/** The limit a request broke, for errors and the refusal counter. */
export type LimitName = 'depth' | 'aliases' | 'fields' | 'cost' | 'tokens' | 'deadline';

const LIMIT_CODES: Record<Exclude<LimitName, 'deadline'>, { code: string; setting: string; what: (n: string, max: number) => string }> = {
  depth: { code: 'QUERY_TOO_DEEP', setting: 'LBTOPO_QUERY_MAX_DEPTH', what: (n, max) => `nests fields ${n} deep, deeper than the ${max} allowed` },
  aliases: { code: 'QUERY_TOO_MANY_ALIASES', setting: 'LBTOPO_QUERY_MAX_ALIASES', what: (n, max) => `has ${n} aliases, more than the ${max} allowed` },
  fields: { code: 'QUERY_TOO_MANY_FIELDS', setting: 'LBTOPO_QUERY_MAX_FIELDS', what: (n, max) => `selects ${n} fields (fragments expanded), more than the ${max} allowed` },
  cost: { code: 'QUERY_TOO_COSTLY', setting: 'LBTOPO_QUERY_MAX_COST', what: (n, max) => `costs ${n}, more than the ${max} allowed` },
  tokens: { code: 'QUERY_TOO_LARGE', setting: 'LBTOPO_QUERY_MAX_TOKENS', what: (n, max) => `has ${n} tokens, more than the ${max} allowed` },
};

/**
 * Measures every operation of a document (the largest of each measure over its operations).
 * Fragments are measured once each (memoised), so a document of fragments spreading fragments
 * costs linear time to measure however large it expands; a fragment cycle counts as nothing
 * here (graphql's NoFragmentCyclesRule refuses it).
 */
export function measureDocument(schema: GraphQLSchema, document: DocumentNode): QueryMeasure {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === 'FragmentDefinition') fragments.set(d.name.value, d);
  const memo = new Map<string, QueryMeasure>();
  const visiting = new Set<string>();

  const fragment = (name: string): QueryMeasure => {
    const known = memo.get(name);
    if (known) return known;
    const def = fragments.get(name);
    if (!def || visiting.has(name)) return ZERO;
    const type = schema.getType(def.typeCondition.name.value);
    if (!type || !isCompositeType(type)) return ZERO;
    visiting.add(name);
    const m = selectionSet(def.selectionSet, type, false);
    visiting.delete(name);
    memo.set(name, m);
    return m;
  };

  const selectionSet = (set: SelectionSetNode, parent: GraphQLCompositeType, atRoot: boolean): QueryMeasure => {
    let depth = 0, aliases = 0, fields = 0, cost = 0;
    const add = (m: QueryMeasure, extraDepth: number) => {
      depth = Math.max(depth, m.depth + extraDepth);
      aliases += m.aliases;
      fields += m.fields;
      cost += m.cost;
    };
    for (const selection of set.selections) {
      if (selection.kind === 'FragmentSpread') {
        add(fragment(selection.name.value), 0);
      } else if (selection.kind === 'InlineFragment') {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        if (type && isCompositeType(type)) add(selectionSet(selection.selectionSet, type, atRoot), 0);
      } else {
        const name = selection.name.value;
        if (name.startsWith('__')) continue;
        const def = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
        if (!def) continue; // FieldsOnCorrectTypeRule reports it
        const named = getNamedType(def.type);
        const child = selection.selectionSet && isCompositeType(named) ? selectionSet(selection.selectionSet, named, false) : ZERO;
        const fanOut = isListType(getNullableType(def.type)) && isCompositeType(named) ? (atRoot ? FAN_OUT_ROOT : FAN_OUT_NESTED) : 1;
        add({ depth: child.depth, aliases: child.aliases + (selection.alias ? 1 : 0), fields: child.fields + 1, cost: 1 + fanOut * child.cost }, 1);
      }
    }
    return { depth, aliases, fields, cost };
  };

  let worst = ZERO;
  for (const d of document.definitions) {
    if (d.kind !== 'OperationDefinition') continue;
    const root = d.operation === 'query' ? schema.getQueryType() : d.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
    if (!root) continue;
    const m = selectionSet(d.selectionSet, root, true);
    worst = { depth: Math.max(worst.depth, m.depth), aliases: Math.max(worst.aliases, m.aliases), fields: Math.max(worst.fields, m.fields), cost: Math.max(worst.cost, m.cost) };
  }
  return worst;
}

function limitError(limit: Exclude<LimitName, 'deadline'>, actual: number, max: number): GraphQLError {
  const { code, setting, what } = LIMIT_CODES[limit];
  const shown = Number.isFinite(actual) ? String(actual) : 'more than can be counted';
  return createGraphQLError(`query refused: it ${what(shown, max)} (${setting})${limit === 'cost' ? `; each field costs 1, times ${FAN_OUT_ROOT} under a root list and ${FAN_OUT_NESTED} under each nested list: select fewer fields under lists, or query one object by id` : ''}`, {
    extensions: { code, limit, max, actual: Number.isFinite(actual) ? actual : null, setting },
  });
}

/** The limits a measure breaks, as errors (empty when it passes). */
export function checkMeasure(m: QueryMeasure, limits: QueryLimits): GraphQLError[] {
  const errors: GraphQLError[] = [];
  if (m.depth > limits.maxDepth) errors.push(limitError('depth', m.depth, limits.maxDepth));
  if (m.aliases > limits.maxAliases) errors.push(limitError('aliases', m.aliases, limits.maxAliases));
  if (m.fields > limits.maxFields) errors.push(limitError('fields', m.fields, limits.maxFields));
  if (m.cost > limits.maxCost) errors.push(limitError('cost', m.cost, limits.maxCost));
  return errors;
}

function limitsRule(limits: QueryLimits, refused: (limit: LimitName) => void) {
  return (context: ValidationContext): ASTVisitor => ({
    Document: {
      enter(document) {
        for (const error of checkMeasure(measureDocument(context.getSchema(), document), limits)) {
          refused(error.extensions.limit as LimitName);
          context.reportError(error);
        }
        return false; // measured in one pass: nothing below needs visiting by this rule
      },
    },
  });
}

class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
}

/**
 * The yoga plugin: the token limit at parse, the measures at validation, and each execution
 * bounded by the request deadline and its client. Shortly before the deadline (the last quarter,
 * at most 2 s) the session stops waiting for probes (the runner serves the last good observation
 * or names the probe that did not finish); at the deadline the execution itself is stopped
 * (DEADLINE_EXCEEDED). A client that leaves stops both, and cancels the probe runs no other
 * request waits for.
 */
export function useQueryLimits(limits: QueryLimits, refused: (limit: LimitName) => void = () => {}): Plugin<GraphQLContext> {
  return {
    onParse({ setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parse(source, { ...options, maxTokens: limits.maxTokens });
        } catch (err) {
          if (err instanceof GraphQLError && /\d+ tokens\. Parsing aborted/.test(err.message)) {
            refused('tokens');
            throw createGraphQLError(`query refused: it has more than the ${limits.maxTokens} tokens allowed (LBTOPO_QUERY_MAX_TOKENS)`, {
              extensions: { code: LIMIT_CODES.tokens.code, limit: 'tokens', max: limits.maxTokens, setting: LIMIT_CODES.tokens.setting },
            });
          }
          throw err;
        }
      });
    },
    onValidate({ addValidationRule }) {
      addValidationRule(limitsRule(limits, refused));
    },
    onExecute({ args }) {
      const context = args.contextValue as GraphQLContext & { request?: Request };
      const requestSignal = context.request?.signal;
      const deadlineMs = limits.requestDeadlineMs;
      const staleAtMs = deadlineMs - Math.min(2000, deadlineMs / 4);
      const clientGone = new AbortController();
      const stopWaiting = new AbortController();
      const execution = new AbortController();
      const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
      const timers = [
        setTimeout(() => stopWaiting.abort(new Error(`the request deadline (${seconds(deadlineMs)}, LBTOPO_REQUEST_DEADLINE) was near after ${seconds(staleAtMs)}`)), staleAtMs),
        setTimeout(() => {
          refused('deadline');
          execution.abort(createGraphQLError(`request stopped at its deadline of ${seconds(deadlineMs)} (LBTOPO_REQUEST_DEADLINE)`, {
            extensions: { code: 'DEADLINE_EXCEEDED', limit: 'deadline', max: deadlineMs, setting: 'LBTOPO_REQUEST_DEADLINE' },
          }));
        }, deadlineMs),
      ];
      for (const t of timers) t.unref();
      const onGone = () => {
        const reason = new ClientGoneError('the client went away');
        clientGone.abort(reason);
        stopWaiting.abort(reason);
        execution.abort(reason);
      };
      if (requestSignal?.aborted) onGone();
      else requestSignal?.addEventListener('abort', onGone, { once: true });
      if (context.session) context.session.budget = { stopWaiting: stopWaiting.signal, clientGone: clientGone.signal };
      // graphql-tools' executor checks this signal between fields and stops when it fires.
      (args as { signal?: AbortSignal }).signal = execution.signal;
      return {
        onExecuteDone() {
          for (const t of timers) clearTimeout(t);
          requestSignal?.removeEventListener('abort', onGone);
        },
      };
    },
  };
}
