// Kernel-speed discovery as the API serves it, on a real lab: namespaces are read over rtnetlink
// in-process (no ip process), OVS over JSON-RPC (no ovs-vsctl), and a change the kernel or OVSDB
// reports shows in a warm answer (TTL an hour, no maxAge) within 100 ms. With netlink turned off,
// or OVSDB unreachable, the command answers and the answer says why.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { labUp } from '../src/lab/lab.ts';
import type { Lab } from '../src/lab/lab.ts';
import { loadConfig } from '../src/config.ts';
import { createApp } from '../src/server.ts';
import type { App } from '../src/server.ts';
import { commandsDuring, gql, seenWithin, tmpDb } from './support.ts';
import { frontListener } from '../src/http/replay.ts';
import { createLogger } from '../src/log.ts';

let lab: Lab;
let app: App;

const served = (env: Record<string, string> = {}) =>
  createApp(loadConfig({ ...lab.env(), LBTOPO_DB: tmpDb(), LBTOPO_TTL: '1h', LBTOPO_REFRESH: '0', ...env }), { log: () => {}, background: true });

before(async () => {
  lab = await labUp({ v1Pools: 3, v2LoadBalancers: 0 });
  app = served();
  // The watches open asynchronously: wait until every lab namespace has its netlink socket.
  const deadline = Date.now() + 10_000;
  while (app.watchers!.watchedNamespaces().length < lab.pools.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
});

after(async () => {
  app?.close();
  await lab?.down();
});


test('the trace reads every namespace over netlink and OVS over JSON-RPC, spawning nothing', async () => {
  const query = '{ pools(maxAge: 0) { id vipInterface { name addresses { address } } vipPort { ovsPort { tag readBy { reader replicaSince } } } namespace { networkReadBy { reader fallbackReason } } } }';
  let res: any;
  const ran = await commandsDuring(app, async () => { res = await gql(app, query); });
  assert.deepEqual(ran, [], 'no ip, no ovs-vsctl');
  assert.equal(res.data.pools.length, lab.pools.length);
  for (const pool of res.data.pools) {
    const expected = lab.pools.find((p) => p.poolId === pool.id)!;
    assert.deepEqual(pool.namespace.networkReadBy, { reader: 'netlink', fallbackReason: null });
    assert.equal(pool.vipInterface.name, expected.tapName);
    assert.ok(pool.vipInterface.addresses.some((a: { address: string }) => a.address === expected.vip));
    assert.equal(pool.vipPort.ovsPort.tag, expected.vlanTag);
    // maxAge 0 reads the server itself, not the monitor's replica.
    assert.deepEqual(pool.vipPort.ovsPort.readBy, { reader: 'jsonrpc', replicaSince: null });
  }
});

test('an address, a link state and an OVS tag changed on the host show in a warm answer within 100 ms', async () => {
  const target = lab.pools[1]!;
  const q = `{ pool(id: "${target.poolId}") { vipInterface { operState flags addresses { address } } vipPort { ovsPort { tag } } } }`;
  await gql(app, q);
  execFileSync('ip', ['-n', target.namespace, 'addr', 'add', '198.51.100.9/32', 'dev', target.tapName]);
  const address = await seenWithin(app, q, (d) => d.pool.vipInterface.addresses.some((a: { address: string }) => a.address === '198.51.100.9'), 2000);
  execFileSync('ip', ['-n', target.namespace, 'addr', 'del', '198.51.100.9/32', 'dev', target.tapName]);
  await seenWithin(app, q, (d) => !d.pool.vipInterface.addresses.some((a: { address: string }) => a.address === '198.51.100.9'), 2000);
  execFileSync('ovs-vsctl', [`--db=${lab.ovsdb}`, 'set', 'Port', target.ovsPortName, 'tag=3001']);
  const tag = await seenWithin(app, q, (d) => d.pool.vipPort?.ovsPort?.tag === 3001, 2000);
  execFileSync('ovs-vsctl', [`--db=${lab.ovsdb}`, 'set', 'Port', target.ovsPortName, `tag=${target.vlanTag}`]);
  await seenWithin(app, q, (d) => d.pool.vipPort?.ovsPort?.tag === target.vlanTag, 2000);
  // The warm answer that showed the tag came from the monitor's replica, with no ovs-vsctl and no read.
  const warm = await gql(app, `{ pool(id: "${target.poolId}") { vipPort { ovsPort { tag readBy { reader replicaSince } } } } }`);
  assert.equal(warm.data.pool.vipPort.ovsPort.readBy.reader, 'jsonrpc');
  assert.ok(Date.parse(warm.data.pool.vipPort.ovsPort.readBy.replicaSince) <= Date.now(), JSON.stringify(warm.data.pool.vipPort.ovsPort.readBy));
  console.log(`# change seen after: address ${address.toFixed(1)} ms, OVS tag ${tag.toFixed(1)} ms`);
  assert.ok(address < 100, `address seen after ${address.toFixed(0)} ms`);
  assert.ok(tag < 100, `OVS tag seen after ${tag.toFixed(0)} ms`);
});

test('a warm answer is reused while its looks would be served the same, and never past a change, a maxAge: 0 or a mutation', async () => {
  const target = lab.pools[2]!;
  const q = `{ pools { id vipInterface { addresses { address } } vipPort { ovsPort { tag } } members { address } } }`;
  const first = await gql(app, q);
  const again = await gql(app, q);
  assert.equal(again.extensions!.probeSummary!.answerReused, true, 'the second identical query reuses the answer');
  assert.deepEqual(again.data, first.data);
  assert.equal(again.extensions!.probeSummary!.looks, first.extensions!.probeSummary!.looks, 'the reused answer lists the same looks');
  assert.equal(again.extensions!.probeSummary!.cache, again.extensions!.probeSummary!.looks, 'each of them a cache hit');
  assert.equal(again.extensions!.probes!.length, again.extensions!.probeSummary!.looks, 'and the full trace names each');
  const metrics = await (await app.yoga.fetch('http://lbtopo.test/metrics')).text();
  assert.match(metrics, /^lbtopo_answers_total\{outcome="reused"\} [1-9]/m, 'counted in /metrics');

  // A change the kernel reports outdates the looks the answer was built from: the next answer is executed.
  execFileSync('ip', ['-n', target.namespace, 'addr', 'add', '198.51.100.21/32', 'dev', target.tapName]);
  try {
    const seen = await seenWithin(app, q, (d) => d.pools.find((p: { id: string }) => p.id === target.poolId).vipInterface.addresses.some((a: { address: string }) => a.address === '198.51.100.21'), 2000);
    assert.ok(seen < 100, `the change showed after ${seen.toFixed(0)} ms`);
  } finally {
    execFileSync('ip', ['-n', target.namespace, 'addr', 'del', '198.51.100.21/32', 'dev', target.tapName]);
  }

  const fresh = '{ pools(maxAge: 0) { id } }';
  await gql(app, fresh);
  const freshAgain = await gql(app, fresh);
  assert.equal(freshAgain.extensions!.probeSummary!.answerReused, undefined, 'maxAge: 0 always looks');
  assert.ok(freshAgain.extensions!.probeSummary!.ran > 0);

  const refresh = 'mutation { refresh(probes: [NETNS]) { probe source } }';
  await gql(app, refresh);
  const refreshed = await gql(app, refresh);
  assert.equal(refreshed.extensions!.probeSummary!.answerReused, undefined, 'a mutation always runs');
  assert.equal(refreshed.data.refresh[0].source, 'ran');

  // Without change events (a one-shot app: no watchers) nothing is reused.
  const oneShot = createApp(loadConfig({ ...lab.env(), LBTOPO_DB: tmpDb(), LBTOPO_TTL: '1h' }), { log: () => {} });
  try {
    await gql(oneShot, q);
    assert.equal((await gql(oneShot, q)).extensions!.probeSummary!.answerReused, undefined);
  } finally {
    oneShot.close();
  }
});

test('requests for the same answer while it is executed wait for that execution and are served its answer', async () => {
  const target = lab.pools[2]!;
  const q = `{ pool(id: "${target.poolId}") { vipInterface { addresses { address } } } pools { id } }`;
  const has = (d: any, address: string) => d.pool.vipInterface.addresses.some((a: { address: string }) => a.address === address);
  await gql(app, q);
  for (const [step, address] of [['add', '198.51.100.41'], ['del', '198.51.100.41']] as const) {
    const generation = app.runner.generation;
    execFileSync('ip', ['-n', target.namespace, 'addr', step, `${address}/32`, 'dev', target.tapName]);
    // Once the kernel's event has outdated the answer, eight requests at once.
    const deadline = Date.now() + 2000;
    while (app.runner.generation === generation && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    assert.notEqual(app.runner.generation, generation, 'the netlink event arrived');
    const answers = await Promise.all(Array.from({ length: 8 }, () => gql(app, q)));
    assert.ok(answers.every((a) => has(a.data, address) === (step === 'add')), `all eight show the ${step}`);
    const executed = answers.filter((a) => a.extensions!.probeSummary!.answerReused !== true);
    assert.equal(executed.length, 1, `one execution, the seven others served its answer (${answers.map((a) => a.extensions!.probeSummary!.answerReused ?? 'executed').join(', ')})`);
  }
});

test('the background refresher keeps what a check needs warm: after its first round, no look waits, past every TTL', async () => {
  // TTL 600 ms, a round every 200 ms refreshing 300 ms ahead: nothing a check needs may expire.
  // Events off: a change the kernel reports (IPv6 address flags settling in a new lab) makes the
  // next answer look, rightly; here only expiry is at stake.
  const warm = served({ LBTOPO_TTL: '600ms', LBTOPO_REFRESH: '200ms', LBTOPO_EVENTS: 'off' });
  try {
    const q = '{ problems { code } pools { id members { status } vipPort { ovsPort { tag } } } }';
    const first = Date.now() + 3000;
    // The first round has run once no look of the query has to run any more.
    while ((await gql(warm, q)).extensions!.probeSummary!.ran > 0 && Date.now() < first) await new Promise((r) => setTimeout(r, 50));
    const ran: number[] = [];
    const looked: string[] = [];
    const until = Date.now() + 1500; // more than two TTLs
    while (Date.now() < until) {
      const res = await gql(warm, q);
      ran.push(res.extensions!.probeSummary!.ran + res.extensions!.probeSummary!.shared);
      for (const e of res.extensions!.probes!) if (e.source === 'ran' || e.source === 'shared') looked.push(`${e.probe}(${e.scope})`);
      await new Promise((r) => setTimeout(r, 60));
    }
    assert.ok(ran.length > 10);
    assert.deepEqual(ran.filter((n) => n > 0), [], `every answer came from looks the refresher made (${ran.join(',')}; ran: ${looked.join(' ')})`);
  } finally {
    warm.close();
  }
});

test('with netlink off, or OVSDB unreachable, the commands answer and the answer says why', async () => {
  const fallback = createApp(loadConfig({ ...lab.env(), LBTOPO_DB: tmpDb(), LBTOPO_NETLINK: 'off' }), { log: () => {} });
  try {
    const target = lab.pools[0]!;
    const res = await gql(fallback, `{ namespace(name: "${target.namespace}") { networkReadBy { reader fallbackReason } interfaces { name } } }`);
    assert.equal(res.data.namespace.networkReadBy.reader, 'ip');
    assert.match(res.data.namespace.networkReadBy.fallbackReason, /LBTOPO_NETLINK=off/);
    assert.ok(res.data.namespace.interfaces.some((i: { name: string }) => i.name === target.tapName));
  } finally {
    fallback.close();
  }
});

// --- the HTTP front: reused answers replayed byte for byte, bodies capped --------------------

/** A real HTTP server over an app, with the front serve() uses (src/http/replay.ts). */
async function listen(over: App): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(frontListener(over.yoga as unknown as RequestListener, { maxBodyBytes: over.config.limits.maxBodyBytes, replay: over.replay }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  const shown = [...res.headers].filter(([name]) => name !== 'date' && name !== 'keep-alive' && name !== 'connection');
  return { status: res.status, headers: shown, text };
};

test('the front replays a reused answer byte for byte, logged and counted, and never past a change, another header or a mutation', async () => {
  const lines: string[] = [];
  const logged = createApp(loadConfig({ ...lab.env(), LBTOPO_DB: tmpDb(), LBTOPO_TTL: '1h', LBTOPO_REFRESH: '0' }), {
    background: true, logger: createLogger({ format: 'json', level: 'info', write: (line) => lines.push(line) }),
  });
  const front = await listen(logged);
  try {
    const deadline = Date.now() + 10_000;
    while (logged.watchers!.watchedNamespaces().length < lab.pools.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const target = lab.pools[0]!;
    const body = { query: `query Missing { pools(where: { haproxy: MISSING }) { id } pool(id: "${target.poolId}") { vipInterface { addresses { address } } } }` };
    const replays = () => logged.replay!.replays;
    let sent = 0;
    const ask = () => {
      sent++;
      return post(front.url, body);
    };
    const executed = await ask();
    // Until the lab has settled (a new lab's IPv6 addresses raise events a while) an answer may
    // be outdated before it is asked again: ask until one is reused.
    let reused = await ask();
    for (let i = 0; i < 50 && JSON.parse(reused.text).extensions.probeSummary.answerReused !== true; i++) {
      await new Promise((r) => setTimeout(r, 100));
      reused = await ask();
    }
    assert.equal(JSON.parse(reused.text).extensions.probeSummary.answerReused, true, 'a reused answer, made by yoga');
    assert.equal(replays(), 0, 'not replayed yet: the front keeps the bytes of the first reuse');
    const before = lines.length;
    const replayed = await ask();
    assert.equal(replays(), 1, 'the third is a replay');
    assert.deepEqual(replayed, reused, 'the same status, headers and bytes as yoga sent for the reused answer');
    assert.notEqual(executed.text, reused.text, '(an executed answer says it ran its looks)');
    const line = lines.slice(before).map((l) => JSON.parse(l)).find((l) => l.msg === 'request');
    assert.ok(line, 'the replay is in the request log');
    assert.deepEqual([line.method, line.path, line.status, line.operation, line.operation_type, line.errors, line.probes_run], ['POST', '/graphql', 200, 'Missing', 'query', 0, 0]);
    assert.equal(line.probes_cached, JSON.parse(reused.text).extensions.probeSummary.looks);
    const metrics = await (await logged.yoga.fetch('http://127.0.0.1/metrics')).text();
    const count = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1] ?? NaN);
    assert.equal(count('lbtopo_graphql_operations_total\\{operation_type="query",operation="other",result="ok"\\}'), sent, 'each request, the replay too, counted as an operation');
    assert.equal(count('lbtopo_http_requests_total\\{method="POST",route="/graphql",code="200"\\}'), sent, 'and as a request');

    // Any other header is another request for the replay: yoga answers it (here the edge refuses it).
    const foreign = await post(front.url, body, { origin: 'http://evil.example' });
    assert.equal(foreign.status, 403);
    assert.match(foreign.text, /ORIGIN_NOT_ALLOWED/);
    const traced = await post(front.url, body, { 'x-lbtopo-trace': 'probes' });
    assert.ok(Array.isArray(JSON.parse(traced.text).extensions.probes), 'the trace asked for by a header is given');
    assert.equal(replays(), 1);

    // A change the kernel reports ends the replay with the reuse: the next answer shows it.
    execFileSync('ip', ['-n', target.namespace, 'addr', 'add', '198.51.100.31/32', 'dev', target.tapName]);
    try {
      const t0 = performance.now();
      let shown = false;
      while (!shown && performance.now() - t0 < 2000) {
        shown = JSON.parse((await post(front.url, body)).text).data.pool.vipInterface.addresses.some((a: { address: string }) => a.address === '198.51.100.31');
      }
      assert.ok(shown, 'the new address shows');
      assert.ok(performance.now() - t0 < 100, `within 100 ms (${(performance.now() - t0).toFixed(0)} ms)`);
    } finally {
      execFileSync('ip', ['-n', target.namespace, 'addr', 'del', '198.51.100.31/32', 'dev', target.tapName]);
    }

    const refresh = { query: 'mutation { refresh(probes: [NETNS]) { probe source } }' };
    const counted = replays();
    for (let i = 0; i < 3; i++) assert.equal(JSON.parse((await post(front.url, refresh)).text).data.refresh[0].source, 'ran', 'a mutation always runs');
    assert.equal(replays(), counted, 'and is never replayed');
  } finally {
    await front.close();
    logged.close();
  }
});

test('the front caps a POST body: 413 beyond LBTOPO_MAX_BODY_BYTES, declared or streamed, and the server goes on', async () => {
  const capped = served({ LBTOPO_MAX_BODY_BYTES: '4096' });
  const front = await listen(capped);
  try {
    const big = JSON.stringify({ query: `{ pools { id } }`, variables: { pad: 'x'.repeat(10_000) } });
    const declared = await post(front.url, big);
    assert.equal(declared.status, 413);
    assert.equal(JSON.parse(declared.text).errors[0].extensions.code, 'REQUEST_TOO_LARGE');
    assert.match(JSON.parse(declared.text).errors[0].message, /exceeds 4096 bytes \(LBTOPO_MAX_BODY_BYTES\)/);
    // No Content-Length: the body streams in chunks until the cap.
    const { hostname, port } = new URL(front.url);
    const streamed = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest({ host: hostname, port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (c) => { text += c; });
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(big.slice(i * 1000, (i + 1) * 1000));
      req.end(big.slice(10_000));
    });
    assert.equal(streamed.status, 413);
    assert.match(streamed.text, /REQUEST_TOO_LARGE/);
    const ok = await post(front.url, { query: '{ pools { id } }' });
    assert.equal(ok.status, 200, 'a body within the cap is answered, on a new connection');
    assert.equal(JSON.parse(ok.text).data.pools.length, lab.pools.length);
  } finally {
    await front.close();
    capped.close();
  }
});
