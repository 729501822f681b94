import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildSchema, isEnumType, isInputObjectType, isObjectType, parse, validate } from 'graphql';
import type { GraphQLEnumType, GraphQLSchema } from 'graphql';
import { fleetSchema, printSortedFleetSchema } from '../src/fleet/graphql/index.ts';
import { schema as hostSchema } from '../src/graphql/index.ts';

test('schema/fleet.graphql is the printed fleet schema (run `node src/main.ts fleet schema --write`)', () => {
  const committed = readFileSync(new URL('../schema/fleet.graphql', import.meta.url), 'utf8');
  assert.ok(committed === printSortedFleetSchema(), 'schema/fleet.graphql is out of date: run `node src/main.ts fleet schema --write` and commit it');
  buildSchema(committed);
});

test('every fleet type, field, argument and enum value has a description', () => {
  const missing: string[] = [];
  for (const type of Object.values(fleetSchema.getTypeMap())) {
    if (type.name.startsWith('__') || ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name)) continue;
    if (!type.description) missing.push(type.name);
    if (isObjectType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (!field.description) missing.push(`${type.name}.${field.name}`);
        for (const arg of 'args' in field ? field.args : []) if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
      }
    }
    if (isEnumType(type)) for (const v of type.getValues()) if (!v.description) missing.push(`${type.name}.${v.name}`);
  }
  assert.deepEqual(missing, []);
});

const values = (s: GraphQLSchema, name: string) => (s.getType(name) as GraphQLEnumType).getValues().map((v) => v.name);

test("the fleet's enums are the host's (ProblemCode adds HOST_STALE only)", () => {
  for (const name of ['HostKind', 'PoolLayout', 'HaproxyPresence', 'Severity']) assert.deepEqual(values(fleetSchema, name), values(hostSchema, name), name);
  assert.deepEqual(values(fleetSchema, 'ProblemCode').sort(), [...values(hostSchema, 'ProblemCode'), 'HOST_STALE'].sort());
});

test("a host's check and MISSING queries are valid against the fleet", () => {
  for (const q of [
    'query LbtopoCheck($maxAge: Float) { pools(maxAge: $maxAge) { id } problems(maxAge: $maxAge) { code severity message poolId } }',
    '{ pools(where: { haproxy: MISSING }) { id layout loadBalancerId namespaceName host { name } observedAt } }',
    '{ problems(severity: CRITICAL) { code severity message key poolId namespaceName host { name kind } } }',
  ]) {
    assert.deepEqual(validate(fleetSchema, parse(q)).map((e) => e.message), [], q);
    assert.deepEqual(validate(hostSchema, parse(q)).map((e) => e.message), [], `host: ${q}`);
  }
});
