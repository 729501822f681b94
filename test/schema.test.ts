import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildSchema, isObjectType, isEnumType, isInputObjectType } from 'graphql';
import { printSortedSchema, schema } from '../src/graphql/index.ts';

const SCHEMA_FILE = new URL('../schema/schema.graphql', import.meta.url);

test('schema/schema.graphql is the printed schema (run `npm run schema` after changing types)', () => {
  const committed = readFileSync(SCHEMA_FILE, 'utf8');
  assert.ok(committed === printSortedSchema(), 'schema/schema.graphql is out of date: run `npm run schema` and commit it');
  buildSchema(committed); // and it is valid SDL on its own
});

test('every type, field, argument and enum value has a description (GraphiQL docs are the manual)', () => {
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
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

test('the contract fields scripts rely on exist with their types', () => {
  const query = schema.getQueryType()!.getFields();
  const signature = (name: string) => {
    const f = query[name]!;
    return `${name}(${[...f.args].sort((a, b) => a.name.localeCompare(b.name)).map((a) => `${a.name}: ${a.type}`).join(', ')}): ${f.type}`;
  };
  assert.equal(signature('pools'), 'pools(maxAge: Float, where: PoolFilter): [Pool!]');
  assert.equal(signature('pool'), 'pool(id: String!, maxAge: Float): Pool');
  assert.equal(signature('process'), 'process(maxAge: Float, pid: Int!): Process');
  assert.equal(signature('port'), 'port(id: String!, maxAge: Float): Port');
  assert.equal(signature('namespace'), 'namespace(maxAge: Float, name: String!): Namespace');
  const pool = (schema.getType('Pool') as import('graphql').GraphQLObjectType).getFields();
  for (const f of ['id', 'namespace', 'vipPort', 'vipInterface', 'haproxy', 'members']) assert.ok(pool[f], `Pool.${f}`);
  const member = (schema.getType('Member') as import('graphql').GraphQLObjectType).getFields();
  for (const f of ['id', 'address', 'port', 'status']) assert.ok(member[f], `Member.${f}`);
});
