// Fuzzing the decoders of what the host hands us (fast-check, seeded so a failure replays): the
// haproxy config parser, the stats socket's `show stat` CSV and `show info`, the /proc parsers,
// and the `ip -j` and `ovs-vsctl --format=json` decoders. For every input: no exception but a
// DiscoveryError escapes, no call takes long (no catastrophic regex, no loop), and what parses
// has the promised shape. Inputs are random text, text built from each format's own tokens, and
// real recorded outputs (test/fixtures) cut, spliced and bit-flipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { DiscoveryError } from '../src/host/errors.ts';
import { parseHaproxyConfig, parseHaproxyAddress, parseHaproxyTimeMs, tokenizeHaproxyLine } from '../src/host/haproxy-config.ts';
import { parseShowInfo, parseStatCsv, splitInfoAndStat } from '../src/host/haproxy-stats.ts';
import { parseBootTime, parseCmdline, parseNetnsLink, parsePasswd, parseProcStat, parseProcStatus } from '../src/host/procfs.ts';
import { parseIpBatchOutput } from '../src/host/iproute.ts';
import { parseOvsDump } from '../src/host/ovs.ts';
import { recognizeHaproxy } from '../src/host/haproxy-process.ts';
import { redactArgv } from '../src/topology/process-visibility.ts';

const SEED = Number(process.env.LBTOPO_FUZZ_SEED ?? 20261201);
const RUNS = Number(process.env.LBTOPO_FUZZ_RUNS ?? 300);
/** Per call: generous for a 2-core CI machine, far below what a pathological regex takes on 64 KiB. */
const MAX_MS = 250;

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const jsonFixture = (name: string) => JSON.parse(fixture(name)) as Record<string, any>;

/** Runs fn; a DiscoveryError is a typed refusal, anything else thrown fails the property; so does slowness. */
function decodes<T>(fn: () => T, check: (value: T) => void = () => {}): true {
  const t0 = performance.now();
  let value: T;
  try {
    value = fn();
  } catch (error) {
    if (!(error instanceof DiscoveryError)) throw new Error(`an untyped exception escaped: ${(error as Error)?.stack ?? String(error)}`);
    assert.ok(error.message.length > 0 && error.message.length < 10_000, 'a bounded message');
    assert.ok(['parse', 'invalid', 'io'].includes(error.kind), `a parse refusal, not ${error.kind}`);
    return true;
  } finally {
    const ms = performance.now() - t0;
    if (ms > MAX_MS) throw new Error(`took ${ms.toFixed(0)} ms`);
  }
  check(value);
  return true;
}

const property = <T>(arb: fc.Arbitrary<T>, predicate: (value: T) => boolean) => fc.assert(fc.property(arb, predicate), { seed: SEED, numRuns: RUNS });

/** A real text, mutated: cut at a random place, a span duplicated, bytes flipped, lines swapped. */
function mutated(real: string): fc.Arbitrary<string> {
  return fc
    .tuple(fc.nat({ max: real.length }), fc.nat({ max: real.length }), fc.array(fc.tuple(fc.nat({ max: Math.max(0, real.length - 1) }), fc.integer({ min: 1, max: 255 })), { maxLength: 8 }), fc.string({ maxLength: 40 }), fc.boolean())
    .map(([a, b, flips, insert, cut]) => {
      const [lo, hi] = a < b ? [a, b] : [b, a];
      let text = cut ? real.slice(0, hi) : real.slice(0, hi) + insert + real.slice(lo);
      const chars = [...text];
      for (const [at, code] of flips) if (at < chars.length) chars[at] = String.fromCharCode(code);
      text = chars.join('');
      return text;
    });
}

// ---------------------------------------------------------------------------------------------
// haproxy config

const HAPROXY_WORDS = [
  'global', 'defaults', 'frontend', 'backend', 'listen', 'peers', 'userlist', 'resolvers', 'daemon', 'user', 'group', 'stats', 'socket', 'mode', 'http', 'tcp',
  'bind', 'default_backend', 'use_backend', 'server', 'balance', 'roundrobin', 'option', 'httpchk', 'http-check', 'expect', 'timeout', 'connect', 'check', 'inter',
  'weight', 'backup', 'disabled', 'maxconn', 'if', '{', '}', '#', '\\', '"', "'", '\t', ':', '::', '*', '0.0.0.0:80', '[::1]:443', '10.0.0.1:8080', 'unix@/x', 'ipv6@',
  '5s', '100ms', '1m', '-1', 'peer', 'send', 'GET', '/', 'rstatus', '200', 'level', 'admin', 'ssl', 'crt', '/etc/x.pem', 'abns@x', '${VAR}', 'fd@3',
  '5e1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b', '5e1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b:listener', '# Configuration for loadbalancer 5e1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b',
];
const haproxyLine = fc
  .tuple(fc.array(fc.oneof(fc.constantFrom(...HAPROXY_WORDS), fc.string({ maxLength: 12 })), { maxLength: 8 }), fc.constantFrom(' ', '\t', '  '))
  .map(([words, separator]) => words.join(separator));
const haproxyText = fc.array(fc.tuple(fc.boolean(), haproxyLine), { maxLength: 60 }).map((lines) => lines.map(([indent, l]) => (indent ? `    ${l}` : l)).join('\n'));

const checkConfig = (c: ReturnType<typeof parseHaproxyConfig>) => {
  assert.ok(Array.isArray(c.frontends) && Array.isArray(c.backends));
  for (const b of c.backends) for (const s of b.servers) assert.equal(typeof s.id, 'string');
  for (const f of c.frontends) for (const b of f.binds) assert.ok(b.port === null || (Number.isInteger(b.port) && b.port >= 0));
};

test('haproxy config: random text, haproxy-shaped text and mutated real configs parse or give a DiscoveryError', () => {
  property(fc.string({ maxLength: 2000 }), (t) => decodes(() => parseHaproxyConfig(t, { source: 'fuzz' }), checkConfig));
  property(haproxyText, (t) => decodes(() => parseHaproxyConfig(t, { source: 'fuzz' }), checkConfig));
  for (const name of ['lbaas-v1-pool.conf', 'lbaas-v2-loadbalancer.conf', 'lbaas-octavia-haproxy.cfg', 'haproxy-recording.cfg']) {
    property(mutated(fixture(name)), (t) => decodes(() => parseHaproxyConfig(t, { source: name }), checkConfig));
  }
});

test('haproxy config pieces: tokenizer, addresses and times never throw untyped or hang', () => {
  property(fc.string({ maxLength: 500 }), (t) => decodes(() => tokenizeHaproxyLine(t), (words) => assert.ok(words.every((w) => typeof w === 'string'))));
  property(fc.string({ maxLength: 200 }), (t) => decodes(() => parseHaproxyAddress(t)));
  property(fc.string({ maxLength: 50 }), (t) => decodes(() => parseHaproxyTimeMs(t), (ms) => assert.ok(ms === null || Number.isFinite(ms))));
});

test('a long line of pathological repetition is parsed quickly (no regex backtracking)', () => {
  for (const unit of ['a', ' ', '\\', '"', "'", ':', '[', '::', 'a:', '1.', '#', '\t ', '${', 'x y ']) {
    const line = unit.repeat(30_000);
    decodes(() => parseHaproxyConfig(`frontend f\n  bind ${line}\nbackend b\n  server s ${line}\n`, { source: 'fuzz' }));
    decodes(() => parseStatCsv(`# pxname,svname,status\n${line}\n`));
    decodes(() => parseShowInfo(`Name: ${line}\n`));
    decodes(() => parseProcStat(`1 (${line}) S 0 ${'1 '.repeat(30)}`));
    decodes(() => parseProcStatus(`Uid:\t${line}\n`));
  }
});

// ---------------------------------------------------------------------------------------------
// stats socket

const statOutput = jsonFixture('haproxy-show-stat.json').output as string;
const infoStatOutput = jsonFixture('haproxy-show-info-stat.json').output as string;
const infoOutput = jsonFixture('haproxy-show-info.json').output as string;

const csvField = fc.oneof(fc.constantFrom('', 'UP', 'DOWN', 'MAINT', 'no check', 'BACKEND', 'FRONTEND', '0', '1', '-1', 'L4OK', '"', ',', 'x'), fc.string({ maxLength: 10 }));
const csvText = fc
  .tuple(fc.array(fc.constantFrom('pxname', 'svname', 'status', 'scur', 'type', 'check_status', 'weight', 'qcur', 'x'), { minLength: 1, maxLength: 12 }), fc.array(fc.array(csvField, { maxLength: 14 }), { maxLength: 20 }))
  .map(([header, rows]) => `# ${header.join(',')}\n${rows.map((r) => r.join(',')).join('\n')}\n`);

test('show stat CSV and show info: random, CSV-shaped and mutated real answers parse or give a DiscoveryError', () => {
  const checkRows = (rows: ReturnType<typeof parseStatCsv>) => assert.ok(rows.every((r) => typeof r.pxname === 'string' && typeof r.svname === 'string'));
  property(fc.string({ maxLength: 2000 }), (t) => decodes(() => parseStatCsv(t), checkRows));
  property(csvText, (t) => decodes(() => parseStatCsv(t), checkRows));
  property(mutated(statOutput), (t) => decodes(() => parseStatCsv(t), checkRows));
  property(fc.string({ maxLength: 2000 }), (t) => decodes(() => parseShowInfo(t)));
  property(mutated(infoOutput), (t) => decodes(() => parseShowInfo(t)));
  property(mutated(infoStatOutput), (t) =>
    decodes(() => {
      const split = splitInfoAndStat(t);
      if (split) {
        parseShowInfo(split.info);
        parseStatCsv(split.stat);
      }
      return split;
    }),
  );
});

// ---------------------------------------------------------------------------------------------
// /proc

const procSample = jsonFixture('proc-sample.json');
const realStats = (procSample.processes as Array<{ stat: string }>).map((p) => p.stat);
const realStatuses = (procSample.processes as Array<{ status: string }>).map((p) => p.status);

test('/proc parsers: stat, status, cmdline, ns/net links, btime and passwd never throw untyped or hang', () => {
  const checkStat = (s: ReturnType<typeof parseProcStat>) => assert.ok(Number.isInteger(s.pid) && s.pid > 0 && s.state.length === 1 && Number.isInteger(s.startTicks));
  property(fc.string({ maxLength: 600 }), (t) => decodes(() => parseProcStat(t), checkStat));
  for (const real of realStats) property(mutated(real), (t) => decodes(() => parseProcStat(t), checkStat));
  // comm may hold spaces and parentheses: `pid (a) b) S ...`.
  property(fc.tuple(fc.integer({ min: 1, max: 4_194_304 }), fc.string({ maxLength: 15 }), fc.array(fc.nat(), { minLength: 20, maxLength: 50 })), ([pid, comm, rest]) =>
    decodes(() => parseProcStat(`${pid} (${comm}) S ${rest.join(' ')}`), (s) => assert.equal(s.comm, comm)),
  );
  property(fc.string({ maxLength: 1000 }), (t) => decodes(() => parseProcStatus(t)));
  for (const real of realStatuses) property(mutated(real), (t) => decodes(() => parseProcStatus(t), (s) => assert.ok(s.uid >= 0 && s.rssBytes >= 0)));
  property(fc.uint8Array({ maxLength: 600 }), (bytes) => decodes(() => parseCmdline(Buffer.from(bytes)), (argv) => assert.ok(argv.every((a) => typeof a === 'string'))));
  property(fc.string({ maxLength: 60 }), (t) => decodes(() => parseNetnsLink(t), (n) => assert.ok(n === null || Number.isSafeInteger(n) || n > 0)));
  property(fc.string({ maxLength: 400 }), (t) => decodes(() => parseBootTime(t), (b) => assert.ok(Number.isInteger(b) && b > 0)));
  property(mutated(procSample.procStat as string), (t) => decodes(() => parseBootTime(t)));
  property(fc.string({ maxLength: 2000 }), (t) => decodes(() => parsePasswd(t), (users) => assert.ok([...users.keys()].every((uid) => Number.isInteger(uid)))));
});

test('what is derived from /proc: haproxy recognition and argv redaction take any argv', () => {
  const argvArb = fc.array(fc.oneof(fc.constantFrom('haproxy', '/usr/sbin/haproxy', '-f', '-p', '--password', '--token=x', 'PASS=1', 'a://u:p@h'), fc.string({ maxLength: 20 })), { maxLength: 12 });
  property(fc.tuple(argvArb, fc.option(fc.string({ maxLength: 30 })), fc.string({ maxLength: 15 })), ([argv, exe, comm]) => {
    const matched = recognizeHaproxy(argv, exe, comm);
    // Never haproxy when the kernel's exe says another program.
    if (exe !== null && !/(^|\/)haproxy( \(deleted\))?$/.test(exe)) assert.equal(matched, null);
    const redacted = redactArgv(argv);
    assert.equal(redacted.length, argv.length);
    return true;
  });
});

// ---------------------------------------------------------------------------------------------
// ip -j and ovs-vsctl --format=json

const ipOutput = jsonFixture('ip-batch-full.json').output as string;
const ovsFixture = jsonFixture('ovs-vsctl-no-vswitchd.json');
const ovsOutput = typeof ovsFixture.output === 'string' ? (ovsFixture.output as string) : JSON.stringify(ovsFixture.output ?? {});

/** JSON values shaped like what the tools print, with wrong types mixed in. */
const jsonish: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constantFrom(null, true, 0, -1, 4095, 'UP', 'inet', 'set', 'map', 'uuid', ''), fc.string({ maxLength: 10 }), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.constantFrom('ifname', 'ifindex', 'addr_info', 'family', 'local', 'prefixlen', 'flags', 'dst', 'data', 'headings', 'name', 'ports', 'mtu', 'x'), tie('value'), { maxKeys: 5 })),
})).value;

test('ip -j and ovs-vsctl JSON decoders: random, JSON-shaped and mutated real outputs parse or give a DiscoveryError', () => {
  property(fc.string({ maxLength: 1000 }), (t) => decodes(() => parseIpBatchOutput(t, 'ns1')));
  property(fc.array(jsonish, { minLength: 1, maxLength: 3 }), (arrays) => decodes(() => parseIpBatchOutput(arrays.map((a) => JSON.stringify(a)).join('\n'), 'ns1')));
  property(mutated(ipOutput), (t) => decodes(() => parseIpBatchOutput(t, 'ns1'), (net) => assert.ok(Array.isArray(net.interfaces) && Array.isArray(net.routes))));
  property(fc.string({ maxLength: 1000 }), (t) => decodes(() => parseOvsDump(t)));
  property(jsonish, (v) => decodes(() => parseOvsDump(JSON.stringify(v))));
  property(mutated(ovsOutput), (t) => decodes(() => parseOvsDump(t)));
});
