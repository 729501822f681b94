// The log lines: JSON objects or key=value text, levels that filter, and yoga's error reports of
// expected host failures (already in the response) kept at debug.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphQLError } from 'graphql';
import { spawnSync } from 'node:child_process';
import { batchedLines, createLogger, yogaLogging } from '../src/log.ts';
import { ProbeFailedError } from '../src/cache/runner.ts';

const at = () => new Date('2026-12-01T12:00:00.000Z');

test('json: one object per line with time, level, msg and the fields', () => {
  const lines: string[] = [];
  createLogger({ format: 'json', level: 'info', write: (l) => lines.push(l), now: at }).info('request', { status: 200, probes: { lbaas: { ran: 1 } } });
  assert.deepEqual(lines, ['{"time":"2026-12-01T12:00:00.000Z","level":"info","msg":"request","status":200,"probes":{"lbaas":{"ran":1}}}\n']);
});

test('text: time, level, msg, key=value quoted when needed', () => {
  const lines: string[] = [];
  createLogger({ format: 'text', level: 'debug', write: (l) => lines.push(l), now: at }).warn('slow scrape', { path: '/metrics', note: 'a b', probes: { stats: { cache: 4 } } });
  assert.deepEqual(lines, ['2026-12-01T12:00:00.000Z WARN  slow scrape path=/metrics note="a b" probes="stats.cache=4"\n']);
});

test('levels below the threshold are dropped', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'warn', write: (l) => lines.push(l), now: at });
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  assert.deepEqual(lines.map((l) => JSON.parse(l).level), ['warn', 'error']);
});

test("yoga's error reports: expected host failures at debug, anything else at error with its stack", () => {
  const lines: string[] = [];
  const logging = yogaLogging(createLogger({ level: 'debug', write: (l) => lines.push(l), now: at }), (e) => e instanceof ProbeFailedError);
  logging.error(new GraphQLError('probe ovs failed', { originalError: new ProbeFailedError('ovs', 'unix:/x', 'timeout', 'no answer') }));
  logging.error(new Error('boom'));
  const [expected, unexpected] = lines.map((l) => JSON.parse(l));
  assert.equal(expected.level, 'debug');
  assert.equal(expected.expected, true);
  assert.equal(unexpected.level, 'error');
  assert.equal(unexpected.msg, 'boom');
  assert.match(unexpected.stack, /Error: boom/);
});

test('lines of one turn are written together, in order, once the turn ends', async () => {
  const writes: string[] = [];
  const write = batchedLines((text) => writes.push(text));
  write('a\n');
  write('b\n');
  assert.deepEqual(writes, [], 'nothing is written within the turn');
  await new Promise((r) => setImmediate(r));
  write('c\n');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, ['a\nb\n', 'c\n']);
});

test('a line logged just before the process exits still reaches stderr', () => {
  const script = "import { createLogger } from './src/log.ts'; createLogger().info('last words', { n: 1 }); process.exit(3);";
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('..', import.meta.url), encoding: 'utf8' });
  assert.equal(run.status, 3);
  assert.match(run.stderr, /"msg":"last words","n":1\}\n$/);
});
