// OVSDB JSON-RPC (RFC 7047) against real ovsdb-servers: a private one (no vswitchd) for the
// faults of a server (restart, silence, hang-up mid-reply) and a faulted lab whose ovs-vsctl
// snapshot is the oracle. Framing and decoding are also fuzzed.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  JsonMessageSplitter, OvsdbConnection, OvsdbRpcError, OvsTableReplica, decodeSnapshotResult, isOvsdbValue, isUnreachable, ovsdbValueSchema, monitorOvs, parseOvsdbTarget,
  readOvsSnapshotJsonRpc, readOvsSnapshotOn, readOvsSnapshotPreferRpc, snapshotTransactParams,
} from '../src/host/ovsdb-jsonrpc.ts';
import type { OvsMonitorHandlers } from '../src/host/ovsdb-jsonrpc.ts';
import { ovsDumpCommand, readOvsSnapshot } from '../src/host/ovs.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { CommandGateway } from '../src/host/exec.ts';
import { DiscoveryError } from '../src/host/errors.ts';
import { labUp } from '../src/lab/lab.ts';
import type { Lab, LabPool, PoolFault } from '../src/lab/lab.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const bytes = (text: string) => Buffer.from(text, 'utf8');
const isRpcError = (kind: string, phase?: string) => (err: unknown) =>
  err instanceof OvsdbRpcError && err.kind === kind && (phase === undefined || err.phase === phase);

async function waitUntil<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Records what a monitor reports, with the time of each event. */
function recorder() {
  const events: Array<{ kind: 'change' | 'reconnect' | 'error'; at: number; tables?: string[]; error?: DiscoveryError }> = [];
  const handlers: OvsMonitorHandlers = {
    onChange: (tables) => events.push({ kind: 'change', at: performance.now(), tables }),
    onReconnect: () => events.push({ kind: 'reconnect', at: performance.now() }),
    onError: (error) => events.push({ kind: 'error', at: performance.now(), error }),
  };
  return { events, handlers };
}

// --- targets and framing (no server) ---------------------------------------------------------

test('targets: unix, tcp and ssl with OVS defaults; anything else refused before any socket opens', () => {
  assert.deepEqual(parseOvsdbTarget('unix:/var/run/openvswitch/db.sock'), { kind: 'unix', path: '/var/run/openvswitch/db.sock' });
  assert.deepEqual(parseOvsdbTarget('tcp:127.0.0.1:6641'), { kind: 'tcp', host: '127.0.0.1', port: 6641 });
  assert.deepEqual(parseOvsdbTarget('tcp:127.0.0.1'), { kind: 'tcp', host: '127.0.0.1', port: 6640 }, 'OVS default port');
  assert.deepEqual(parseOvsdbTarget('ssl:[::1]:6640'), { kind: 'ssl', host: '::1', port: 6640 });
  assert.deepEqual(parseOvsdbTarget('tcp:localhost:6640'), { kind: 'tcp', host: 'localhost', port: 6640 });
  for (const bad of ['', '--help', 'punix:/x', 'unix:relative', 'unix:/x; rm -rf /', 'tcp:::1', 'tcp:127.0.0.1:99999', 'tcp:127.0.0.1:0',
    'tcp:-h:6640', 'tcp:127.0.0.1:', 'ssl:[zz]:1', 'tcp:127.0.0.1:6640:1']) {
    assert.throws(() => parseOvsdbTarget(bad), isRpcError('invalid', 'target'), bad);
  }
  assert.throws(() => monitorOvs('punix:/x', recorder().handlers), isRpcError('invalid', 'target'), 'a monitor refuses at once rather than retrying forever');
  assert.throws(() => monitorOvs('ssl:127.0.0.1:6640', recorder().handlers), (err: unknown) => isRpcError('invalid', 'target')(err) && /LBTOPO_OVSDB_SSL_KEY/.test((err as Error).message));
});

test('framing: messages back to back, split at every byte, strings holding braces, quotes and escapes', () => {
  const values = [
    { id: 1, result: [{ rows: [] }], error: null },
    { method: 'update', params: ['m', { Port: { u: { new: { name: 'a}b{c"d\\e[f]' } } } }], id: null },
    { id: 2, result: ['}', '{', '\\', '"', '\\"}', 'é€😀', '\u0000\n\t'], error: null },
    { id: 3, result: {}, error: null },
  ];
  const stream = bytes(values.map((v) => JSON.stringify(v)).join(' \n\t'));
  const one = new JsonMessageSplitter();
  assert.deepEqual(one.push(stream), values, 'one chunk');
  for (let cut = 0; cut <= stream.length; cut++) {
    const s = new JsonMessageSplitter();
    const got = [...s.push(stream.subarray(0, cut)), ...s.push(stream.subarray(cut))];
    assert.deepEqual(got, values, `cut at byte ${cut}`);
    assert.equal(s.bufferedBytes, 0);
  }
  const bytewise = new JsonMessageSplitter();
  const got: unknown[] = [];
  for (let i = 0; i < stream.length; i++) got.push(...bytewise.push(stream.subarray(i, i + 1)));
  assert.deepEqual(got, values, 'one byte at a time (a multi-byte character split too)');
});

test('framing: an oversize message is refused as it streams in, not after; garbage and bad UTF-8 are parse errors', () => {
  const s = new JsonMessageSplitter({ maxMessageBytes: 64 });
  assert.deepEqual(s.push(bytes(`{"id":1,"result":"${'x'.repeat(40)}"}`)), [{ id: 1, result: 'x'.repeat(40) }]);
  assert.throws(() => s.push(bytes(`{"id":2,"result":"${'y'.repeat(30)}`)) && s.push(bytes('y'.repeat(30))), (err: unknown) =>
    isRpcError('parse', 'reply')(err) && /exceeds 64 bytes/.test((err as Error).message));
  assert.throws(() => s.push(bytes('{}')), /exceeds 64 bytes/, 'the splitter is spent after a framing error');
  const endless = new JsonMessageSplitter({ maxMessageBytes: 1000 });
  assert.deepEqual(endless.push(bytes('{"id":1,"result":[')), []);
  assert.throws(() => { for (let i = 0; i < 100; i++) endless.push(bytes('"aaaaaaaaaaaaaaaaaaaa",')); }, /exceeds 1000 bytes/);
  for (const bad of ['[1,2]', 'x', '{"a":1}}', '{"a":tru}', '{"a"::1}']) {
    assert.throws(() => new JsonMessageSplitter().push(bytes(bad)), isRpcError('parse', 'reply'), bad);
  }
  assert.throws(() => new JsonMessageSplitter().push(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), /not valid UTF-8/);
});

// A transact result as ovsdb-server gives it (the shape of a recorded answer of the private server below).
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const sampleResult = () => [
  { rows: [{ _uuid: ['uuid', uuid(1)], name: 'br-int', ports: ['set', [['uuid', uuid(2)], ['uuid', uuid(3)]]], datapath_type: 'netdev' }] },
  { rows: [
    { _uuid: ['uuid', uuid(2)], name: 'tapa', interfaces: ['uuid', uuid(4)], tag: 7, trunks: ['set', []], vlan_mode: ['set', []], other_config: ['map', []], external_ids: ['map', []] },
    { _uuid: ['uuid', uuid(3)], name: 'bond0', interfaces: ['set', [['uuid', uuid(5)], ['uuid', uuid(6)]]], tag: ['set', []], trunks: ['set', [10, 20]], vlan_mode: 'trunk', other_config: ['map', [['k', 'v']]], external_ids: ['map', []] },
  ] },
  { rows: [4, 5, 6].map((n) => ({ _uuid: ['uuid', uuid(n)], name: `if${n}`, type: n === 4 ? 'internal' : '', ofport: n === 6 ? -1 : ['set', []], error: n === 6 ? 'could not open network device if6 (No such device)' : ['set', []], external_ids: ['map', [['iface-id', `id-${n}`]]], mac_in_use: ['set', []], link_state: ['set', []], admin_state: ['set', []] })) },
];

/** sampleResult as a monitor's <table-updates>: every row as "new", keyed by its uuid. */
const sampleUpdates = () => Object.fromEntries(['Bridge', 'Port', 'Interface'].map((table, i) => [table, Object.fromEntries(
  (sampleResult()[i]!.rows as Array<Record<string, unknown>>).map(({ _uuid, ...row }) => [(_uuid as [string, string])[1], { new: row }]),
)]));

test('replica: the initial rows give the transact snapshot; insert, modify (whole or partial "new") and delete follow', () => {
  const replica = new OvsTableReplica();
  assert.deepEqual(replica.apply(sampleUpdates()), ['Bridge', 'Interface', 'Port']);
  assert.deepEqual(replica.snapshot(), decodeSnapshotResult(sampleResult()), 'the same snapshot as one transact of the same rows');
  // A modify whose "new" holds only the changed column is merged over the row held.
  assert.deepEqual(replica.apply({ Port: { [uuid(2)]: { old: { tag: 7 }, new: { tag: 4095 } } } }), ['Port']);
  assert.equal(replica.snapshot().ports.find((p) => p.name === 'tapa')!.tag, 4095);
  // One transaction: a new port with its interface, added to the bridge.
  const tapb = { name: 'tapb', interfaces: ['uuid', uuid(8)], tag: 9, trunks: ['set', []], vlan_mode: ['set', []], other_config: ['map', []], external_ids: ['map', []] };
  const ifb = { name: 'tapb', type: 'internal', ofport: 3, error: ['set', []], external_ids: ['map', []], mac_in_use: 'fa:16:3e:00:00:08', link_state: 'up', admin_state: 'up' };
  const bridge = sampleUpdates().Bridge![uuid(1)]!.new as Record<string, unknown>;
  assert.deepEqual(replica.apply({
    Bridge: { [uuid(1)]: { old: { ports: bridge.ports }, new: { ...bridge, ports: ['set', [['uuid', uuid(2)], ['uuid', uuid(3)], ['uuid', uuid(7)]]] } } },
    Port: { [uuid(7)]: { new: tapb } },
    Interface: { [uuid(8)]: { new: ifb } },
  }), ['Bridge', 'Interface', 'Port']);
  const added = replica.snapshot();
  assert.deepEqual(added.bridges[0]!.ports, ['bond0', 'tapa', 'tapb']);
  assert.deepEqual(added.ports.find((p) => p.name === 'tapb')!.interfaces.map((i) => [i.name, i.ofport, i.linkState]), [['tapb', 3, 'up']]);
  // And its deletion: the rows go, the bridge no longer lists it.
  replica.apply({
    Bridge: { [uuid(1)]: { old: { ports: ['set', []] }, new: bridge } },
    Port: { [uuid(7)]: { old: tapb } },
    Interface: { [uuid(8)]: { old: ifb } },
  });
  assert.deepEqual(replica.snapshot().ports.map((p) => p.name), ['bond0', 'tapa']);
  assert.deepEqual(replica.size, { Bridge: 1, Port: 2, Interface: 3 });
  assert.deepEqual(replica.apply({ Open_vSwitch: { [uuid(9)]: { new: { x: 1 } } } }), [], 'a table not asked for touches nothing');
});

test('replica: a malformed update throws and changes nothing, even when its first rows were fine', () => {
  const replica = new OvsTableReplica();
  replica.apply(sampleUpdates());
  const before = structuredClone(replica.snapshot());
  const goodFirst = { [uuid(2)]: { new: { tag: 11 } } };
  const cases: Array<[unknown, RegExp]> = [
    [null, /table-updates is not an object/],
    [[], /table-updates is not an object/],
    [{ Port: [] }, /the Port updates are not an object/],
    [{ Port: { ...goodFirst, 'not-a-uuid': { new: {} } } }, /names "not-a-uuid", not a uuid/],
    [{ Port: { ...goodFirst, [uuid(3)]: 'x' } }, /row update of .* is not an object/],
    [{ Port: { ...goodFirst, [uuid(3)]: { new: { tag: { bad: 1 } } } } }, /Port.tag of .* is not an OVSDB value/],
    [{ Port: goodFirst, Interface: { [uuid(9)]: { new: { name: 'half' } } } }, /the Interface row .* has no type column/],
  ];
  for (const [update, message] of cases) {
    assert.throws(() => replica.apply(update), message, JSON.stringify(update));
    assert.deepEqual(replica.snapshot(), before, `unchanged after ${JSON.stringify(update)}`);
  }
});

test('decoding: a transact result becomes the snapshot; a failed operation or a bad shape is a typed error', () => {
  const snap = decodeSnapshotResult(sampleResult());
  assert.deepEqual(snap.bridges, [{ uuid: uuid(1), name: 'br-int', datapathType: 'netdev', ports: ['bond0', 'tapa'] }]);
  assert.deepEqual(snap.ports.map((p) => [p.name, p.tag, p.trunks, p.vlanMode, p.interfaces.map((i) => i.name)]), [
    ['bond0', null, [10, 20], 'trunk', ['if5', 'if6']],
    ['tapa', 7, [], null, ['if4']],
  ]);
  assert.equal(snap.ports[0]!.interfaces[1]!.ofport, -1);
  assert.throws(() => decodeSnapshotResult([{ rows: [] }, { error: 'unknown table', details: 'No table named Port' }, { rows: [] }]), (err: unknown) =>
    isRpcError('failed', 'call')(err) && /the transaction failed: unknown table \(No table named Port\)/.test((err as Error).message));
  const missing = sampleResult();
  delete (missing[2]!.rows[0] as Record<string, unknown>).error;
  assert.throws(() => decodeSnapshotResult(missing), /Interface row without column error/, 'a missing column is never read as "undefined"');
  for (const bad of [null, {}, [], [{ rows: [] }], 'x', [{ rows: 1 }, { rows: [] }, { rows: [] }]]) {
    assert.throws(() => decodeSnapshotResult(bad), isRpcError('parse', 'reply'), JSON.stringify(bad));
  }
});

test('fuzz: any chunking of any stream of JSON objects yields exactly those objects', () => {
  const message = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 6 });
  fc.assert(fc.property(fc.array(message, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), fc.constantFrom('', ' ', '\n', '\r\n\t '),
    (values, cuts, gap) => {
      const stream = bytes(values.map((v) => JSON.stringify(v)).join(gap));
      const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
      const s = new JsonMessageSplitter();
      const got: unknown[] = [];
      let from = 0;
      for (const p of [...points, stream.length]) {
        got.push(...s.push(stream.subarray(from, p)));
        from = p;
      }
      // JSON.stringify drops -0's sign; compare as JSON text.
      assert.equal(JSON.stringify(got), JSON.stringify(values));
      assert.equal(s.bufferedBytes, 0);
    }), { numRuns: 400 });
});

test('fuzz: arbitrary bytes and arbitrary JSON never throw anything but the typed error', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
    const s = new JsonMessageSplitter({ maxMessageBytes: 128 });
    try {
      for (const chunk of chunks) s.push(chunk);
    } catch (err) {
      assert.ok(isRpcError('parse', 'reply')(err), String(err));
    }
  }), { numRuns: 1000 });
  // Mostly-valid streams: a real message with a few bytes replaced, so the splitter sees deep,
  // unbalanced and half-escaped JSON rather than noise that fails at the first byte.
  const base = bytes(JSON.stringify({ id: 1, result: sampleResult(), error: null }));
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.constantFrom(...bytes('{}[]"\\ x:,1'))), { minLength: 1, maxLength: 4 }), (edits) => {
    const stream = Buffer.from(base);
    for (const [at, byte] of edits) stream[at] = byte;
    try {
      new JsonMessageSplitter({ maxMessageBytes: base.length * 2 }).push(stream);
    } catch (err) {
      assert.ok(isRpcError('parse', 'reply')(err), String(err));
    }
  }), { numRuns: 1000 });
  const decodeOrTypedError = (result: unknown) => {
    try {
      decodeSnapshotResult(result);
    } catch (err) {
      assert.ok(err instanceof OvsdbRpcError && (err.kind === 'parse' || err.kind === 'failed'), String(err));
    }
  };
  fc.assert(fc.property(fc.jsonValue(), decodeOrTypedError), { numRuns: 500 });
  // Every value of the sample replaced, one at a time, by arbitrary JSON.
  fc.assert(fc.property(fc.nat(2), fc.nat(2), fc.nat(9), fc.jsonValue({ maxDepth: 3 }), (table, row, column, value) => {
    const result = sampleResult();
    const rows = result[table]!.rows as Array<Record<string, unknown>>;
    const target = rows[row % rows.length]!;
    const key = Object.keys(target)[column % Object.keys(target).length]!;
    target[key] = value;
    decodeOrTypedError(result);
  }), { numRuns: 1000 });
});

test('fuzz: the hand-written OVSDB value check accepts exactly what the zod schema of ovs.ts accepts', () => {
  const atom = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.tuple(fc.constantFrom('uuid', 'named-uuid', 'set'), fc.oneof(fc.string(), fc.integer())));
  const nearValue = fc.oneof(
    atom,
    fc.tuple(fc.constantFrom('set', 'map', 'uuid', 'x'), fc.array(fc.oneof(atom, fc.tuple(atom, atom), fc.tuple(atom), fc.tuple(atom, atom, atom)), { maxLength: 4 })),
    fc.tuple(fc.constantFrom('set', 'map'), fc.oneof(atom, fc.jsonValue())),
    fc.array(fc.jsonValue(), { maxLength: 3 }),
    fc.jsonValue(),
  );
  fc.assert(fc.property(nearValue, (v) => {
    assert.equal(isOvsdbValue(v), ovsdbValueSchema.safeParse(v).success, JSON.stringify(v));
  }), { numRuns: 3000 });
});

// --- a private ovsdb-server (no vswitchd): real protocol, faults of the server ---------------

let dir = '';
let dbSocket = '';
let privateTarget = '';
const vsctl = (...args: string[]) => run('ovs-vsctl', [`--db=${privateTarget}`, '--no-wait', '--timeout=10', ...args]);

function startPrivateServer(): void {
  execFileSync('ovsdb-server', [join(dir, 'conf.db'), `--remote=punix:${dbSocket}`, `--pidfile=${join(dir, 'pid')}`,
    '--detach', `--log-file=${join(dir, 'log')}`, `--unixctl=${join(dir, 'ctl')}`]);
}

function privateServerRunning(): boolean {
  try {
    process.kill(Number(readFileSync(join(dir, 'pid'), 'utf8')), 0);
    return true;
  } catch {
    return false;
  }
}

async function stopPrivateServer(): Promise<void> {
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  process.kill(pid, 'SIGTERM');
  await waitUntil('ovsdb-server to exit', 10_000, () => {
    try {
      process.kill(pid, 0);
      return undefined;
    } catch {
      return true;
    }
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lbtopo-ovsdb-rpc-'));
  dbSocket = join(dir, 'db.sock');
  privateTarget = `unix:${dbSocket}`;
  execFileSync('ovsdb-tool', ['create', join(dir, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema']);
  startPrivateServer();
  await vsctl('init');
  // The shapes the decoder must get right: a bond (two interfaces), trunks, vlan_mode, no tag,
  // the dead VLAN, other_config, external_ids, a second bridge.
  await vsctl('add-br', 'br-int', '--', 'set', 'Bridge', 'br-int', 'datapath_type=netdev',
    '--', 'add-port', 'br-int', 'tapabcdef01-23', 'tag=7', '--', 'set', 'Interface', 'tapabcdef01-23', 'type=internal',
    'external_ids:iface-id=abcdef01-2345-4678-9abc-def012345678', 'external_ids:attached-mac=fa:16:3e:00:00:01',
    '--', 'add-port', 'br-int', 'tapdead000-00', 'tag=4095', 'vlan_mode=trunk', 'trunks=4095', 'other_config:net_uuid=n1',
    '--', 'add-bond', 'br-int', 'bond0', 'eth8', 'eth9', 'trunks=10,20',
    '--', 'add-br', 'br-ex');
});

after(async () => {
  try { await stopPrivateServer(); } catch { /* already gone */ }
  rmSync(dir, { recursive: true, force: true });
});

test('a live ovsdb-server: the JSON-RPC snapshot equals the ovs-vsctl one, cold and warm', async () => {
  const gateway = new CommandGateway();
  const oracle = await readOvsSnapshot(gateway, privateTarget);
  const snap = await readOvsSnapshotJsonRpc(privateTarget);
  assert.deepEqual(snap, oracle);
  assert.deepEqual(snap.ports.find((p) => p.name === 'bond0')!.interfaces.map((i) => i.name).sort(), ['eth8', 'eth9']);
  const connection = await OvsdbConnection.open(privateTarget);
  try {
    assert.deepEqual(await readOvsSnapshotOn(connection), oracle);
    assert.deepEqual(await readOvsSnapshotOn(connection), oracle, 'a second transact on the same connection');
  } finally {
    connection.close();
  }
});

test('prefer JSON-RPC: no ovs-vsctl when the socket answers; ovs-vsctl tried when it cannot be spoken to; a wrong server is no fallback', async () => {
  const gateway = new CommandGateway({ timeoutMs: 8000 });
  const ok = await readOvsSnapshotPreferRpc(gateway, privateTarget);
  assert.equal(ok.source, 'jsonrpc');
  assert.equal(ok.rpcError, null);
  assert.equal(gateway.runCount, 0, 'no process spawned');

  const missing = `unix:${join(dir, 'nope.sock')}`;
  await assert.rejects(readOvsSnapshotPreferRpc(gateway, missing), (err: unknown) =>
    err instanceof DiscoveryError && err.source[0] === 'ovs-vsctl' && /JSON-RPC first: ovsdb-jsonrpc unix:\S+nope\.sock: cannot connect: .*ENOENT/.test(err.message));
  assert.equal(gateway.runCount, 1, 'ovs-vsctl was the fallback');

  const silent = await fakeServer(() => {}); // accepts, never answers
  try {
    const t0 = performance.now();
    await assert.rejects(readOvsSnapshotPreferRpc(gateway, silent.target, { callTimeoutMs: 200 }), isRpcError('timeout', 'call'));
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(gateway.runCount, 1, 'a server that answers late is an error, not a fallback');
  } finally {
    await silent.close();
  }
  assert.equal(isUnreachable(new OvsdbRpcError('failed', 'connect', 'x', 'refused')), true);
  assert.equal(isUnreachable(new OvsdbRpcError('parse', 'reply', 'x', 'garbage')), false);
});

/** A peer on a unix socket that does what `onConnection` says: the faults a real server can show. */
async function fakeServer(onConnection: (socket: Socket) => void): Promise<{ target: string; close(): Promise<void> }> {
  const path = join(dir, `fake-${Math.random().toString(36).slice(2)}.sock`);
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    target: `unix:${path}`,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

test('a server that accepts and never answers: the call deadline error, on time, naming the method', async () => {
  const silent = await fakeServer(() => {});
  try {
    const t0 = performance.now();
    await assert.rejects(readOvsSnapshotJsonRpc(silent.target, { callTimeoutMs: 300 }), (err: unknown) =>
      isRpcError('timeout', 'call')(err) && /ovsdb-jsonrpc unix:\S+ transact: no answer within 300 ms/.test((err as Error).message));
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 290 && elapsed < 800, `deadline after ${elapsed.toFixed(0)} ms`);
  } finally {
    await silent.close();
  }
});

test('a server that closes mid-reply, answers garbage, an oversize reply or an error: each a clear typed error', async () => {
  const real = bytes(JSON.stringify({ id: 1, result: sampleResult(), error: null }));
  const cases: Array<[string, (socket: Socket) => void, (err: unknown) => boolean]> = [
    ['closes mid-reply', (s) => s.once('data', () => s.end(real.subarray(0, 100))), (err) =>
      isRpcError('failed', 'closed')(err) && /transact: the server closed the connection in the middle of a message \(100 bytes of it received\)/.test((err as Error).message)],
    ['closes before answering', (s) => s.once('data', () => s.end()), (err) =>
      isRpcError('failed', 'closed')(err) && /closed the connection before answering/.test((err as Error).message)],
    ['answers garbage', (s) => s.once('data', () => s.write('HTTP/1.1 400 Bad Request\r\n\r\n')), (err) =>
      isRpcError('parse', 'reply')(err) && /expected a JSON object, got "H"/.test((err as Error).message)],
    ['answers more than the cap', (s) => s.once('data', () => s.write(real)), (err) =>
      isRpcError('parse', 'reply')(err) && /exceeds 512 bytes/.test((err as Error).message)],
    ['answers an error', (s) => s.once('data', () => s.write(JSON.stringify({ id: 1, result: null, error: 'unknown database' }))), (err) =>
      isRpcError('failed', 'call')(err) && /answered with an error: unknown database/.test((err as Error).message)],
    ['answers a transaction error', (s) => s.once('data', () => s.write(JSON.stringify({ id: 1, result: [{ error: 'constraint violation' }], error: null }))), (err) =>
      isRpcError('failed', 'call')(err) && /the transaction failed: constraint violation/.test((err as Error).message)],
  ];
  for (const [what, behaviour, check] of cases) {
    const server = await fakeServer(behaviour);
    try {
      await assert.rejects(readOvsSnapshotJsonRpc(server.target, { callTimeoutMs: 3000, maxMessageBytes: 512 }), check, what);
    } finally {
      await server.close();
    }
  }
});

test('an abandoned request ends its conversation at once and spawns no fallback', async () => {
  const silent = await fakeServer(() => {});
  const gateway = new CommandGateway();
  try {
    const controller = new AbortController();
    const t0 = performance.now();
    const pending = readOvsSnapshotPreferRpc(gateway, silent.target, { signal: controller.signal, callTimeoutMs: 5000 });
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(pending, (err: unknown) => err instanceof OvsdbRpcError && /aborted/.test(err.message));
    assert.ok(performance.now() - t0 < 1000, 'not the 5 s deadline');
    await assert.rejects(readOvsSnapshotPreferRpc(gateway, silent.target, { signal: AbortSignal.abort() }), /aborted before connecting/);
    assert.equal(gateway.runCount, 0);
  } finally {
    await silent.close();
  }
});

test('echo requests from the server are answered, and answers to unknown ids are ignored', async () => {
  const real = JSON.stringify({ id: 1, result: sampleResult(), error: null });
  let echoed: unknown = null;
  const server = await fakeServer((s) => {
    const splitter = new JsonMessageSplitter();
    s.on('data', (chunk) => {
      for (const m of splitter.push(chunk) as Array<{ id: unknown; method?: string; result?: unknown }>) {
        if (m.method === 'transact') s.write(`${JSON.stringify({ method: 'echo', params: ['ping', 3], id: 'echo' })}{"id":99,"result":1,"error":null}`);
        else if (m.id === 'echo') {
          echoed = m.result;
          s.write(real);
        }
      }
    });
  });
  try {
    const snap = await readOvsSnapshotJsonRpc(server.target, { callTimeoutMs: 3000 });
    assert.deepEqual(echoed, ['ping', 3], 'the echo came back with its params');
    assert.deepEqual(snap.bridges.map((b) => b.name), ['br-int']);
  } finally {
    await server.close();
  }
});

test('connect failures: a missing socket, a refused port: phase connect', async () => {
  await assert.rejects(readOvsSnapshotJsonRpc(`unix:${join(dir, 'absent.sock')}`), isRpcError('not-found', 'connect'));
  // A port nobody listens on: find one by binding and closing.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  await assert.rejects(readOvsSnapshotJsonRpc(`tcp:127.0.0.1:${port}`), (err: unknown) => isRpcError('failed', 'connect')(err) && /ECONNREFUSED/.test((err as Error).message));
});

test('monitor: set port tag, add-port and del-port each fire onChange with the tables touched, the replica equal to a transact read after each', { timeout: 30_000 }, async (t) => {
  const { events, handlers } = recorder();
  const monitor = monitorOvs(privateTarget, handlers);
  // The replica, read at once in onChange: what a look made on that event would be served.
  const replicaAtChange: unknown[] = [];
  const onChange = handlers.onChange;
  handlers.onChange = (tables) => {
    replicaAtChange.push(structuredClone(monitor.replica()?.snapshot ?? null));
    onChange(tables);
  };
  try {
    assert.equal(await monitor.ready, true);
    const since = monitor.replica()!.since;
    assert.ok(Math.abs(Date.now() - since) < 5000, 'in step since the monitor reply');
    assert.deepEqual(monitor.replica()!.snapshot, await readOvsSnapshotJsonRpc(privateTarget), 'the initial rows are the whole snapshot');
    const changes = () => events.filter((e) => e.kind === 'change');
    const step = async (args: string[], expectTables: string[]) => {
      const before = changes().length;
      const t0 = performance.now();
      await vsctl(...args);
      const exited = performance.now();
      const event = await waitUntil(`an update after ${args.join(' ')}`, 2000, () => changes()[before]);
      assert.deepEqual(event.tables, expectTables, args.join(' '));
      assert.deepEqual(replicaAtChange[before], await readOvsSnapshotJsonRpc(privateTarget), `the replica when onChange ran, after ${args.join(' ')}`);
      t.diagnostic(`${args.slice(0, 2).join(' ')}: update ${(event.at - t0).toFixed(1)} ms after ovs-vsctl started (${(event.at - exited).toFixed(1)} ms after it exited)`);
      assert.ok(event.at - t0 < 1000, 'within a second');
    };
    await step(['set', 'Port', 'tapabcdef01-23', 'tag=8'], ['Port']);
    await step(['add-port', 'br-int', 'tapmon0001-00', '--', 'set', 'Interface', 'tapmon0001-00', 'type=internal'], ['Bridge', 'Interface', 'Port']);
    await step(['del-port', 'br-int', 'tapmon0001-00'], ['Bridge', 'Interface', 'Port']);
    await step(['set', 'Interface', 'tapabcdef01-23', 'external_ids:iface-id=ffffffff-2345-4678-9abc-def012345678'], ['Interface']);
    const before = changes().length;
    await vsctl('set', 'Open_vSwitch', '.', 'external_ids:unwatched=1');
    await sleep(150);
    assert.equal(changes().length, before, 'a table the snapshot does not read raises nothing');
    assert.equal(events.filter((e) => e.kind !== 'change').length, 0, 'no errors, no reconnects');
    assert.equal(monitor.replica()!.since, since, 'one monitor all along');
  } finally {
    monitor.close();
  }
  assert.equal(monitor.replica(), null, 'no replica once closed');
});

test('monitor: ovsdb-server restarted, the monitor reports the drop, reconnects with backoff, says so, and sees changes again', { timeout: 30_000 }, async () => {
  const { events, handlers } = recorder();
  const monitor = monitorOvs(privateTarget, handlers, { initialBackoffMs: 20, maxBackoffMs: 200 });
  try {
    assert.equal(await monitor.ready, true);
    assert.ok(monitor.replica());
    await stopPrivateServer();
    await waitUntil('the drop', 2000, () => events.find((e) => e.kind === 'error'));
    assert.equal(monitor.replica(), null, 'a dropped monitor offers no replica: nothing says it is still in step');
    await sleep(700); // down long enough for several retries to reach the cap
    const errors = events.filter((e) => e.kind === 'error');
    assert.match(errors[0]!.error!.message, /the server closed the connection/);
    assert.ok(errors.slice(1).every((e) => e.error!.kind === 'not-found' || e.error!.kind === 'failed'), 'then the socket is gone or refused');
    const gaps = errors.slice(2).map((e, i) => e.at - errors[i + 1]!.at);
    const shown = gaps.map((g) => g.toFixed(0)).join(', ');
    assert.ok(gaps.length >= 5, `retries: gaps ${shown}`);
    // 20, 40, 80, 160 ms, then the 200 ms cap: doubling, never faster, never past the cap.
    // (Upper bounds are loose: on a loaded machine timers fire late, never early.)
    [20, 40, 80, 160].forEach((nominal, i) => assert.ok(gaps[i]! >= nominal - 2 && gaps[i]! < nominal + 300, `gap ${i}: ${shown}`));
    assert.ok(gaps.slice(4).every((g) => g >= 198 && g < 700), `capped at 200 ms: ${shown}`);
    assert.equal(events.filter((e) => e.kind === 'reconnect').length, 0);
    startPrivateServer();
    const reconnect = await waitUntil('onReconnect', 3000, () => events.find((e) => e.kind === 'reconnect'));
    assert.ok(reconnect);
    const before = events.length;
    await vsctl('set', 'Port', 'tapabcdef01-23', 'tag=9');
    const change = await waitUntil('a change after the reconnect', 2000, () => events.slice(before).find((e) => e.kind === 'change'));
    assert.deepEqual(change.tables, ['Port']);
    assert.deepEqual(monitor.replica()!.snapshot, await readOvsSnapshotJsonRpc(privateTarget), 'a fresh replica after the reconnect, and the change in it');
  } finally {
    monitor.close();
    // The tests after this one need the server, whatever happened here.
    if (!privateServerRunning()) startPrivateServer();
  }
});

test('monitor: close() ends the socket and every timer, also while retrying or connecting', { timeout: 30_000 }, async () => {
  const resources = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'PipeWrap' || r === 'TCPWrap').length;
  await sleep(20);
  const baseline = resources();
  const live = monitorOvs(privateTarget, recorder().handlers, { idleProbeMs: 100 });
  assert.equal(await live.ready, true);
  assert.ok(resources() > baseline, 'a socket and a probe timer while live');
  live.close();
  const retrying = monitorOvs(`unix:${join(dir, 'absent.sock')}`, recorder().handlers, { initialBackoffMs: 50 });
  await sleep(120);
  retrying.close();
  assert.equal(await retrying.ready, false, 'ready says it was closed before any monitor');
  const silent = await fakeServer(() => {});
  const stuck = monitorOvs(silent.target, recorder().handlers, { callTimeoutMs: 60_000 });
  await sleep(50);
  stuck.close();
  await silent.close();
  await sleep(20);
  assert.equal(resources(), baseline, 'nothing left behind');
});

test('monitor: an update the replica cannot apply drops the connection, says why, and a fresh monitor starts over', { timeout: 30_000 }, async () => {
  const { events, handlers } = recorder();
  let connections = 0;
  // The first connection answers the monitor with the sample rows, then sends an update naming a
  // row by something that is not a uuid; the second answers with the rows only.
  const server = await fakeServer((s) => {
    const n = ++connections;
    s.once('data', () => {
      s.write(JSON.stringify({ id: 1, result: sampleUpdates(), error: null }));
      if (n === 1) setTimeout(() => s.write(JSON.stringify({ method: 'update', params: ['lbtopo', { Port: { 'x; rm': { new: {} } } }], id: null })), 30);
    });
  });
  const monitor = monitorOvs(server.target, handlers, { initialBackoffMs: 50, idleProbeMs: 0 });
  try {
    assert.equal(await monitor.ready, true);
    const drop = await waitUntil('the drop', 3000, () => events.find((e) => e.kind === 'error'));
    assert.ok(isRpcError('parse', 'reply')(drop.error), String(drop.error));
    assert.match(drop.error!.message, /monitor: an update the replica cannot apply: a Port row update names "x; rm", not a uuid/);
    assert.equal(events.filter((e) => e.kind === 'change').length, 0, 'nothing applied, no change reported');
    await waitUntil('the reconnect', 3000, () => events.find((e) => e.kind === 'reconnect'));
    assert.equal(connections, 2);
    assert.deepEqual(monitor.replica()!.snapshot, decodeSnapshotResult(sampleResult()), 'the fresh replica holds the rows of the new monitor');
  } finally {
    monitor.close();
    await server.close();
  }
});

test('monitor: a peer that stops answering is dropped by the idle echo and retried', { timeout: 30_000 }, async () => {
  const { events, handlers } = recorder();
  // Answers the monitor request, then nothing ever again (as a server behind a dead link).
  const server = await fakeServer((s) => s.once('data', () => s.write(JSON.stringify({ id: 1, result: {}, error: null }))));
  const monitor = monitorOvs(server.target, handlers, { idleProbeMs: 100, callTimeoutMs: 150, initialBackoffMs: 1000 });
  try {
    assert.equal(await monitor.ready, true);
    const t0 = performance.now();
    const drop = await waitUntil('the drop', 3000, () => events.find((e) => e.kind === 'error'));
    assert.match(drop.error!.message, /the server stopped answering: no answer within 150 ms/);
    assert.ok(drop.at - t0 < 1500);
  } finally {
    monitor.close();
    await server.close();
  }
});

// --- ssl: a real ovsdb-server on pssl: with certificates made by openssl --------------------

/** A CA and a key + certificate signed by it, in `where` (EC P-256: quick to make). */
function makePki(where: string, names: string[]): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(where, 'ca.key'),
    '-out', join(where, 'ca.pem'), '-days', '2', '-subj', '/CN=lbtopo test CA');
  for (const name of names) {
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(where, `${name}.key`),
      '-out', join(where, `${name}.csr`), '-subj', `/CN=lbtopo ${name}`);
    openssl('x509', '-req', '-in', join(where, `${name}.csr`), '-CA', join(where, 'ca.pem'), '-CAkey', join(where, 'ca.key'),
      '-CAcreateserial', '-out', join(where, `${name}.pem`), '-days', '2');
  }
}

test('ssl: the snapshot over TLS equals ovs-vsctl over ssl; a wrong CA, a rejected certificate, missing files and a stalled handshake are clear errors', { timeout: 30_000 }, async () => {
  const pki = join(dir, 'pki');
  const other = join(dir, 'pki-other');
  execFileSync('mkdir', ['-p', pki, other]);
  makePki(pki, ['server', 'client']);
  makePki(other, ['client']);
  const ssl = { key: join(pki, 'client.key'), cert: join(pki, 'client.pem'), ca: join(pki, 'ca.pem') };
  const sslDir = join(dir, 'ssl-server');
  execFileSync('mkdir', ['-p', sslDir]);
  // A database of its own (a database file has one server), filled by ovs-vsctl over ssl.
  execFileSync('ovsdb-tool', ['create', join(sslDir, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema']);
  execFileSync('ovsdb-server', [join(sslDir, 'conf.db'), '--remote=pssl:0:127.0.0.1', `--private-key=${join(pki, 'server.key')}`,
    `--certificate=${join(pki, 'server.pem')}`, `--ca-cert=${join(pki, 'ca.pem')}`, `--pidfile=${join(sslDir, 'pid')}`, '--detach',
    `--log-file=${join(sslDir, 'log')}`, `--unixctl=${join(sslDir, 'ctl')}`]);
  try {
    const port = await waitUntil('the pssl port in the log', 5000, () => /listening on port (\d+)/.exec(readFileSync(join(sslDir, 'log'), 'utf8'))?.[1]);
    const target = `ssl:127.0.0.1:${port}`;
    const sslVsctl = (...args: string[]) => run('ovs-vsctl', [`--db=${target}`, `--private-key=${ssl.key}`, `--certificate=${ssl.cert}`,
      `--ca-cert=${ssl.ca}`, '--no-wait', '--timeout=10', ...args]);
    await sslVsctl('init');
    await sslVsctl('add-br', 'br-int', '--', 'add-port', 'br-int', 'tapssl0001-00', 'tag=12', '--', 'set', 'Interface', 'tapssl0001-00', 'external_ids:iface-id=ssl');
    const oracle = await readOvsSnapshot(new CommandGateway(), target, { ssl });
    assert.equal(oracle.ports.find((p) => p.name === 'tapssl0001-00')?.tag, 12);
    assert.deepEqual(await readOvsSnapshotJsonRpc(target, { ssl }), oracle);

    const { events, handlers } = recorder();
    const monitor = monitorOvs(target, handlers, { ssl });
    try {
      assert.equal(await monitor.ready, true);
      await sslVsctl('set', 'Port', 'tapssl0001-00', 'tag=13');
      assert.deepEqual((await waitUntil('an update over ssl', 2000, () => events.find((e) => e.kind === 'change'))).tables, ['Port']);
    } finally {
      monitor.close();
    }

    await assert.rejects(readOvsSnapshotJsonRpc(target, { ssl: { ...ssl, ca: join(other, 'ca.pem') } }), (err: unknown) =>
      isRpcError('failed', 'connect')(err) && /cannot connect: .*(self-signed|unable to verify|certificate)/.test((err as Error).message));
    // A certificate from a CA the server does not trust: the server refuses it (with TLS 1.3 after
    // the handshake, so the failure is the conversation's, not the connect's).
    await assert.rejects(readOvsSnapshotJsonRpc(target, { ssl: { key: join(other, 'client.key'), cert: join(other, 'client.pem'), ca: ssl.ca } }), (err: unknown) =>
      err instanceof OvsdbRpcError && (err.phase === 'closed' || err.phase === 'connect') && /(alert|closed the connection|certificate)/.test(err.message));
    await assert.rejects(readOvsSnapshotJsonRpc(target), (err: unknown) => isRpcError('invalid', 'target')(err) && /LBTOPO_OVSDB_SSL_KEY/.test((err as Error).message));
    await assert.rejects(readOvsSnapshotJsonRpc(target, { ssl: { ...ssl, key: join(pki, 'absent.key') } }), isRpcError('io', 'connect'));
  } finally {
    process.kill(Number(readFileSync(join(sslDir, 'pid'), 'utf8')), 'SIGTERM');
  }
  // A TCP peer that accepts and never speaks TLS: the connect deadline covers the handshake.
  const silent = createServer((socket) => socket.resume().on('error', () => {})); // resumed, so it sees our FIN
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const t0 = performance.now();
    await assert.rejects(readOvsSnapshotJsonRpc(`ssl:127.0.0.1:${(silent.address() as { port: number }).port}`, { ssl, connectTimeoutMs: 300 }),
      (err: unknown) => isRpcError('timeout', 'connect')(err) && /no connection within 300 ms/.test((err as Error).message));
    assert.ok(performance.now() - t0 < 1000);
  } finally {
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});

test('settings: an ssl: target needs all three LBTOPO_OVSDB_SSL_* files; they reach both clients', () => {
  const files = { LBTOPO_OVSDB_SSL_KEY: '/k.pem', LBTOPO_OVSDB_SSL_CERT: '/c.pem', LBTOPO_OVSDB_SSL_CA: '/ca.pem' };
  assert.deepEqual(loadConfig({ LBTOPO_OVSDB: 'ssl:127.0.0.1:6640', ...files }).ovsdbSsl, { key: '/k.pem', cert: '/c.pem', ca: '/ca.pem' });
  assert.equal(loadConfig({}).ovsdbSsl, null);
  assert.throws(() => loadConfig({ LBTOPO_OVSDB: 'ssl:127.0.0.1:6640' }), (err: unknown) => err instanceof ConfigError && /needs all of LBTOPO_OVSDB_SSL_KEY/.test(err.message));
  assert.throws(() => loadConfig({ LBTOPO_OVSDB_SSL_KEY: '/k.pem' }), ConfigError, 'a lone key is a mistake, not ignored');
  assert.deepEqual(ovsDumpCommand('ssl:127.0.0.1:6640', 5, { key: '/k.pem', cert: '/c.pem', ca: '/ca.pem' }).slice(0, 6),
    ['ovs-vsctl', '--db=ssl:127.0.0.1:6640', '--timeout=5', '--private-key=/k.pem', '--certificate=/c.pem', '--ca-cert=/ca.pem']);
});

// --- a real faulted lab: ovs-vsctl is the oracle; the monitor against a real vswitchd --------

const OVS_FAULTS: readonly PoolFault[] = ['delete-ovs-port', 'dead-vlan', 'iface-id-mismatch', 'ovs-interface-error', 'link-down'];

describe('against a real faulted lab', () => {
  let lab: Lab;
  const faulted = new Map<PoolFault, LabPool>();
  let orphan = '';
  const labVsctl = (...args: string[]) => run('ovs-vsctl', [`--db=${lab.ovsdb}`, '--no-wait', '--timeout=10', ...args]);

  before(async () => {
    lab = await labUp({ v1Pools: OVS_FAULTS.length + 1, v2LoadBalancers: 1, octaviaLoadBalancers: 1 });
    const v1 = lab.pools.filter((p) => p.layout === 'v1');
    for (const [i, fault] of OVS_FAULTS.entries()) {
      await lab.injectFault(v1[i + 1]!.poolId, fault);
      faulted.set(fault, v1[i + 1]!);
    }
    orphan = await lab.addOrphanOvsPort();
  });
  after(async () => {
    await lab?.down();
  });

  test('the JSON-RPC snapshot deep-equals the ovs-vsctl snapshot of a faulted lab', async () => {
    const oracle = await readOvsSnapshot(new CommandGateway(), lab.ovsdb);
    const snap = await readOvsSnapshotJsonRpc(lab.ovsdb);
    assert.deepEqual(snap, oracle);
    // And the faults are in it, so the equality covers them.
    const port = (pool: LabPool) => snap.ports.find((p) => p.name === pool.ovsPortName);
    assert.equal(port(faulted.get('delete-ovs-port')!), undefined);
    assert.equal(port(faulted.get('dead-vlan')!)!.tag, 4095);
    assert.notEqual(port(faulted.get('iface-id-mismatch')!)!.interfaces[0]!.externalIds['iface-id'], faulted.get('iface-id-mismatch')!.portId);
    assert.equal(port(faulted.get('ovs-interface-error')!)!.interfaces[0]!.ofport, -1);
    assert.equal(snap.ports.find((p) => p.name === orphan)!.interfaces[0]!.ofport, -1);
    assert.ok(snap.ports.length >= lab.pools.length);
    const preferred = await readOvsSnapshotPreferRpc(new CommandGateway(), lab.ovsdb);
    assert.equal(preferred.source, 'jsonrpc');
    assert.deepEqual(preferred.snapshot, oracle);
  });

  test('the monitor sees a tag change, add-port and del-port on the lab within a second, its replica then equal to the oracle (figures in the diagnostics)', async (t) => {
    const { events, handlers } = recorder();
    const monitor = monitorOvs(lab.ovsdb, handlers);
    const latencies: number[] = [];
    const pool = lab.pools.find((p) => p.layout === 'v1' && p.faults.length === 0)!;
    try {
      assert.equal(await monitor.ready, true);
      const changeAfter = async (args: string[], table: string) => {
        const from = events.length;
        const t0 = performance.now();
        await labVsctl(...args);
        const event = await waitUntil(`${table} update after ${args.join(' ')}`, 2000, () =>
          events.slice(from).find((e) => e.kind === 'change' && e.tables!.includes(table)));
        latencies.push(event.at - t0);
        assert.ok(event.at - t0 < 1000, `${args.join(' ')}: ${(event.at - t0).toFixed(1)} ms`);
      };
      for (let i = 0; i < 5; i++) {
        await changeAfter(['set', 'Port', pool.ovsPortName, `tag=${100 + i}`], 'Port');
        await changeAfter(['add-port', 'br-int', `tapmon${i}000-00`, '--', 'set', 'Interface', `tapmon${i}000-00`, 'type=internal'], 'Port');
        await changeAfter(['del-port', 'br-int', `tapmon${i}000-00`], 'Port');
      }
      await labVsctl('set', 'Port', pool.ovsPortName, `tag=${pool.vlanTag}`);
      await waitUntil('the tag restored in the replica', 2000, () =>
        monitor.replica()!.snapshot.ports.find((p) => p.name === pool.ovsPortName)?.tag === pool.vlanTag || undefined);
      assert.deepEqual(monitor.replica()!.snapshot, await readOvsSnapshot(new CommandGateway(), lab.ovsdb), 'after 16 changes the replica equals the ovs-vsctl oracle, faults included');
      const sorted = [...latencies].sort((a, b) => a - b);
      t.diagnostic(`change -> onChange, from the ovs-vsctl spawn (${sorted.length} changes): min ${sorted[0]!.toFixed(1)} ms, ` +
        `median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`);
      assert.equal(events.filter((e) => e.kind === 'error').length, 0);
    } finally {
      monitor.close();
    }
  });
});

// Keeps the transact params honest: the columns the decoder needs are the ones asked for.
test('the transact asks for exactly the snapshot columns, one select per table', () => {
  const [db, ...ops] = snapshotTransactParams() as [string, ...Array<{ op: string; table: string; where: unknown[]; columns: string[] }>];
  assert.equal(db, 'Open_vSwitch');
  assert.deepEqual(ops.map((o) => [o.op, o.table, o.where]), [['select', 'Bridge', []], ['select', 'Port', []], ['select', 'Interface', []]]);
  assert.ok(ops.every((o) => o.columns.includes('_uuid') && o.columns.includes('name')));
});
