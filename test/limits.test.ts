// The query measures and the execution deadline, without a host: measureDocument on documents
// built to be expensive, and useQueryLimits on a tiny yoga schema whose resolver never finishes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { schema } from '../src/graphql/index.ts';
import { measureDocument, useQueryLimits } from '../src/graphql/limits.ts';
import { loadConfig } from '../src/config.ts';
import { readExampleQuery } from '../src/example-queries.ts';

const limits = loadConfig({}).limits;

test('the full trace of every pool costs the same whatever the pool count, well within the default', () => {
  const m = measureDocument(schema, parse(readExampleQuery('pools-trace')));
  assert.deepEqual(m, { depth: 4, aliases: 0, fields: 29, cost: 10_001 });
  assert.ok(m.cost * 4 < limits.maxCost, 'room for a trace four times as wide');
});

test('fragments spreading fragments are measured in linear time and counted as expanded', () => {
  // Each level spreads the one below twice: 2^30 fields once expanded, 30 fragments written.
  const levels = 30;
  const defs = [`fragment F0 on Pool { id }`];
  for (let i = 1; i <= levels; i++) defs.push(`fragment F${i} on Pool { ...F${i - 1} ...F${i - 1} }`);
  const doc = parse(`{ pools { ...F${levels} } } ${defs.join(' ')}`);
  const t0 = performance.now();
  const m = measureDocument(schema, doc);
  assert.ok(performance.now() - t0 < 50, 'measured without expanding');
  assert.equal(m.fields, 1 + 2 ** levels);
  assert.equal(m.depth, 2, 'fragments add no depth');
});

test('a fragment cycle neither hangs nor overflows the measure (graphql refuses the cycle itself)', () => {
  const m = measureDocument(schema, parse('{ pools { ...A } } fragment A on Pool { id ...B } fragment B on Pool { namespaceName ...A }'));
  assert.equal(m.fields, 3);
});

test('introspection is not counted: GraphiQL can read the schema', () => {
  const m = measureDocument(schema, parse('{ __schema { types { name fields { name type { ofType { ofType { ofType { ofType { name } } } } } } } } }'));
  assert.deepEqual(m, { depth: 0, aliases: 0, fields: 0, cost: 0 });
});

test('at the request deadline the execution stops with DEADLINE_EXCEEDED', async () => {
  const yoga = createYoga({
    schema: createSchema({ typeDefs: 'type Query { never: String, quick: String }', resolvers: { Query: { never: () => new Promise(() => {}), quick: () => 'ok' } } }),
    plugins: [useQueryLimits({ ...limits, requestDeadlineMs: 300 })],
    logging: false,
  });
  const t0 = Date.now();
  const res = await yoga.fetch('http://x/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ quick never }' }) });
  const body = (await res.json()) as any;
  assert.ok(Date.now() - t0 < 1500, `stopped after ${Date.now() - t0} ms`);
  assert.equal(body.errors[0].extensions.code, 'DEADLINE_EXCEEDED', JSON.stringify(body));
  assert.match(body.errors[0].message, /deadline of 0\.3 s \(LBTOPO_REQUEST_DEADLINE\)/);
});
