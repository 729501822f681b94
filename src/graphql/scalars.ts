import { GraphQLError, Kind } from 'graphql';
import { builder } from './builder.ts';

/** The DateTime scalar; the fleet schema (src/fleet/graphql) defines the same one. */
export const DATE_TIME_SCALAR = {
  description: 'A point in time, as an ISO 8601 string in UTC (e.g. 2026-11-26T04:37:34.123Z).',
  serialize: (value: unknown) => new Date(value as string | number | Date).toISOString(),
  parseValue: (value: unknown) => {
    const d = new Date(String(value));
    if (Number.isNaN(d.getTime())) throw new GraphQLError(`not a date: ${String(value)}`);
    return d;
  },
  parseLiteral: (ast: import('graphql').ValueNode) => {
    if (ast.kind !== Kind.STRING) throw new GraphQLError('DateTime must be a string');
    const d = new Date(ast.value);
    if (Number.isNaN(d.getTime())) throw new GraphQLError(`not a date: ${ast.value}`);
    return d;
  },
};

builder.scalarType('DateTime', DATE_TIME_SCALAR);
