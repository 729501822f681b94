// The Nagios side of `lbtopo check`, as pure functions: the range grammar of the plugin
// guidelines, the verdict and status line with perfdata, and the cap on long output.
// (test/cli.test.ts runs the plugin against a real lab; test/check-deadline.test.ts its -t.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alerts, parseRange } from '../src/cli/nagios-range.ts';
import { capOutput, evaluate, MAX_OUTPUT_BYTES, perfdatum } from '../src/cli/check.ts';
import type { Problem, ProblemCode } from '../src/diagnose/codes.ts';

test('Nagios ranges: every form of the guidelines, inclusive ends, @ inverts', () => {
  const cases: Array<[string, number[], number[]]> = [
    // range, values that alert, values that do not
    ['10', [-1, 10.5, 11], [0, 5, 10]],
    ['10:', [9, -3], [10, 11, 1e9]],
    ['~:10', [10.1, 11], [-1e9, 0, 10]],
    ['10:20', [9, 21], [10, 15, 20]],
    ['@10:20', [10, 15, 20], [9, 21]],
    ['0', [1, -1], [0]],
    ['@0', [0], [1]],
    ['-5:-1', [0, -6], [-5, -3, -1]],
    ['1.5:2.5', [1.4, 2.6], [1.5, 2, 2.5]],
    [':5', [6, -1], [0, 5]],
  ];
  for (const [text, bad, good] of cases) {
    const range = parseRange(text);
    for (const v of bad) assert.equal(alerts(range, v), true, `${text} alerts on ${v}`);
    for (const v of good) assert.equal(alerts(range, v), false, `${text} is fine with ${v}`);
  }
  for (const bad of ['', '@', 'x', '10:5', '1:2:3', '~', '10:~', 'ten']) assert.throws(() => parseRange(bad), /not a Nagios range/, bad);
});

test('perfdata: label=value[UOM];warn;crit;min;max, quoted labels, trailing fields dropped', () => {
  assert.equal(perfdatum('critical', 2, { crit: '0', min: 0 }), 'critical=2;;0;0');
  assert.equal(perfdatum('time', 0.41, { uom: 's', min: 0 }), 'time=0.41s;;;0');
  assert.equal(perfdatum('pools', 3), 'pools=3');
  assert.equal(perfdatum("a b'c", 1, { max: 4 }), "'a b''c'=1;;;;4");
});

const p = (severity: Problem['severity'], code: ProblemCode, poolId: string | null = null) => ({ code, severity, message: '', poolId });

test('verdicts: -c on CRITICAL problems, -w on CRITICAL+WARNING, INFO never alerts; the status line', () => {
  const r = parseRange;
  assert.deepEqual(evaluate(12, []), {
    status: 'OK',
    line: 'LBAAS OK - 12 pools, no problems | critical=0;;0;0 alerting=0;0;;0 warning=0;;;0 info=0;;;0 pools=12;;;0 pools_critical=0;;;0;12',
  });
  assert.equal(evaluate(3, [p('INFO', 'MEMBER_DOWN')]).status, 'OK', 'INFO never alerts');
  assert.equal(evaluate(3, [p('WARNING', 'HAPROXY_MULTIPLE')]).status, 'WARNING');
  assert.equal(evaluate(3, [p('WARNING', 'HAPROXY_MULTIPLE')], { warning: r('1'), critical: r('0') }).status, 'OK');
  assert.equal(evaluate(3, [p('CRITICAL', 'HAPROXY_MISSING')], { warning: r('0'), critical: r('1') }).status, 'WARNING', 'a critical inside -c still warns');
  assert.equal(evaluate(3, [p('CRITICAL', 'HAPROXY_MISSING')], { warning: r('5'), critical: r('@1:3') }).status, 'CRITICAL', '@ alerts inside');
  assert.equal(evaluate(3, [], { warning: r('1:'), critical: r('~:5') }).status, 'WARNING', '1: wants at least one');
  const v = evaluate(5, [p('CRITICAL', 'HAPROXY_MISSING', 'a'), p('CRITICAL', 'HAPROXY_MISSING', 'b'), p('CRITICAL', 'NAMESPACE_MISSING', 'a'), p('WARNING', 'STATS_SOCKET_DEAD', 'c'), p('INFO', 'MEMBER_DOWN', 'd')], undefined, 0.5124);
  assert.deepEqual(v, {
    status: 'CRITICAL',
    line: 'LBAAS CRITICAL - 5 pools, 3 critical, 1 warning, 1 info: HAPROXY_MISSING x2, NAMESPACE_MISSING, STATS_SOCKET_DEAD | critical=3;;0;0 alerting=4;0;;0 warning=1;;;0 info=1;;;0 pools=5;;;0 pools_critical=2;;;0;5 time=0.512s;;;0',
  });
});

test('long output stops under the cap at a line boundary and says how much was cut', () => {
  const lines = ['LBAAS CRITICAL - x | critical=1', ...Array.from({ length: 1000 }, (_, i) => `CRITICAL HAPROXY_MISSING: pool ${i} ${'x'.repeat(100)}`)];
  const out = capOutput(lines);
  assert.ok(Buffer.byteLength(out) <= MAX_OUTPUT_BYTES, `${Buffer.byteLength(out)} bytes`);
  const outLines = out.trimEnd().split('\n');
  assert.equal(outLines[0], lines[0]);
  assert.match(outLines.at(-1)!, /^\.\.\. \d+ more lines cut \(8192 bytes\); lbtopo problems lists every problem$/);
  const kept = outLines.length - 2;
  assert.equal(Number(/(\d+) more/.exec(outLines.at(-1)!)![1]), 1000 - kept, 'the count is exact');
  assert.equal(capOutput(['a', 'b']), 'a\nb\n', 'short output untouched');
});
