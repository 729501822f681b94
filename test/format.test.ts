// The list formats as pure functions (cliff's conventions), and what `trace` accepts as an argument.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { formatRows, selectColumns, yamlScalar } from '../src/cli/format.ts';
import { classify, renderMermaid, renderTree } from '../src/cli/trace.ts';
import type { TraceNode } from '../src/cli/trace.ts';

const rows = [
  { id: 'a', pid: 12, note: 'plain' },
  { id: 'bb', pid: null, note: 'has "quotes", commas\nand a newline' },
];

test('table: boxes, padded columns, numbers right-aligned, multi-line cells', () => {
  assert.equal(
    formatRows(rows, ['id', 'pid', 'note'], 'table'),
    [
      '+----+-----+----------------------+',
      '| id | pid | note                 |',
      '+----+-----+----------------------+',
      '| a  |  12 | plain                |',
      '| bb |     | has "quotes", commas |',
      '|    |     | and a newline        |',
      '+----+-----+----------------------+',
      '',
    ].join('\n'),
  );
  assert.equal(formatRows([], ['id'], 'table'), '+----+\n| id |\n+----+\n', 'no rows: the header only');
});

test('csv quotes every non-number (RFC 4180), value prints values only, json keeps nulls', () => {
  assert.equal(formatRows(rows, ['id', 'pid', 'note'], 'csv'), '"id","pid","note"\r\n"a",12,"plain"\r\n"bb","","has ""quotes"", commas\nand a newline"\r\n');
  assert.equal(formatRows(rows, ['pid', 'id'], 'value'), '12 a\n bb\n');
  assert.deepEqual(JSON.parse(formatRows(rows, ['id', 'pid'], 'json')), [{ id: 'a', pid: 12 }, { id: 'bb', pid: null }]);
  assert.equal(formatRows(rows, ['id'], 'json', { noindent: true }), '[{"id":"a"},{"id":"bb"}]\n');
});

test('yaml reads back as the same values, whatever the strings look like', () => {
  const tricky = ['yes', 'no', 'null', '~', '123', '1e3', '0x1f', '10.0.0.1:80', '- a', 'a: b', '#x', '', ' lead', 'ÿ', 'fa:16:3e:00:00:01', '2026-12-01', '@x', 'true'];
  const data = tricky.map((s, i) => ({ i, s }));
  assert.deepEqual(parseYaml(formatRows(data, ['i', 's'], 'yaml')), data);
  assert.deepEqual(parseYaml(formatRows([], ['i'], 'yaml')), []);
  assert.equal(yamlScalar('br-int'), 'br-int');
});

test('-c: case-insensitive, in the order given, unknown names refused', () => {
  assert.deepEqual(selectColumns(['id', 'haproxy'], undefined), ['id', 'haproxy']);
  assert.deepEqual(selectColumns(['id', 'haproxy'], ['HAPROXY', 'id']), ['haproxy', 'id']);
  assert.throws(() => selectColumns(['id'], ['nope']), /no such column \(columns: id\)/);
});

test('trace arguments: pool or port UUID, tap name, port prefix, VIP with or without port; anything else refused', () => {
  assert.deepEqual(classify('5E1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4B'), { kind: 'uuid', value: '5e1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b', port: null });
  assert.deepEqual(classify('tap70081ac2-6f'), { kind: 'port', value: '70081ac2-6f', port: null });
  assert.deepEqual(classify('70081ac2-6f'), { kind: 'port', value: '70081ac2-6f', port: null });
  assert.deepEqual(classify('10.0.0.10'), { kind: 'vip', value: '10.0.0.10', port: null });
  assert.deepEqual(classify('10.0.0.10:443'), { kind: 'vip', value: '10.0.0.10', port: 443 });
  assert.deepEqual(classify('[2001:db8::5]:80'), { kind: 'vip', value: '2001:db8::5', port: 80 });
  assert.deepEqual(classify('2001:db8::5'), { kind: 'vip', value: '2001:db8::5', port: null });
  for (const bad of ['', 'pool', '10.0.0.300', '10.0.0.1:70000', 'tap70081ac2', '$(reboot)', '../etc/passwd']) assert.throws(() => classify(bad), /is not a pool id, a VIP address or a port/, bad);
});

test('tree and mermaid: guides, marks on the node, explanations below, labels escaped', () => {
  const p = { severity: 'CRITICAL', code: 'HAPROXY_MISSING', message: 'no haproxy', memberId: null };
  const tree: TraceNode = {
    kind: 'pool', label: 'pool x', details: ['v1'], problems: [], children: [
      { kind: 'namespace', label: 'namespace n', details: [], problems: [], children: [] },
      { kind: 'haproxy', label: 'haproxy: not running', details: ['pid file "p"'], problems: [p], children: [] },
    ],
  };
  assert.equal(renderTree(tree), ['pool x', '│   v1', '├── namespace n', '└── haproxy: not running  ✗ CRITICAL HAPROXY_MISSING', '        pid file "p"', '', 'problems:', '  ✗ CRITICAL HAPROXY_MISSING: no haproxy', ''].join('\n'));
  const m = renderMermaid(tree);
  assert.match(m, /n2\["haproxy: not running<br\/>pid file #quot;p#quot;<br\/>✗ CRITICAL HAPROXY_MISSING"\]/);
  assert.match(m, /class n2 critical/);
});
