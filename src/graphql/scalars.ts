import { GraphQLError, Kind } from 'graphql';
import { builder } from './builder.ts';

builder.scalarType('DateTime', {
  description: 'A point in time, as an ISO 8601 string in UTC (e.g. 2026-11-26T04:37:34.123Z).',
  serialize: (value) => new Date(value).toISOString(),
  parseValue: (value) => {
    const d = new Date(String(value));
    if (Number.isNaN(d.getTime())) throw new GraphQLError(`not a date: ${String(value)}`);
    return d;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw new GraphQLError('DateTime must be a string');
    const d = new Date(ast.value);
    if (Number.isNaN(d.getTime())) throw new GraphQLError(`not a date: ${ast.value}`);
    return d;
  },
});
