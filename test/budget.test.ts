// A request's budget against a real lab: a client that leaves stops the work it caused, and a
// request whose `ip` hangs answers by its deadline with the last good observation, naming the
// probe it did not wait for. The slow and hung `ip` are the test's stand-ins on the PATH (the
// real ip behind them), as in api.test.ts for ovs-vsctl: they test the budget, not discovery.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { labUp } from '../src/lab/lab.ts';
import type { Lab } from '../src/lab/lab.ts';
import { createApp, serve } from '../src/server.ts';
import type { App } from '../src/server.ts';
import { loadConfig } from '../src/config.ts';
import type { ProbeTraceEntry } from '../src/cache/runner.ts';
import { readExampleQuery } from '../src/example-queries.ts';
import { appForLab, gql, tmpDb } from './support.ts';

let lab: Lab;
const bin = mkdtempSync(join(tmpdir(), 'lbtopo-slowip-'));
const control = mkdtempSync(join(tmpdir(), 'lbtopo-slowip-ctl-'));
const savedPath = process.env.PATH;

/** The ip the probes find first: real, slow (0.4 s) or hung, as the control files say. */
function standInIp(): void {
  writeFileSync(join(bin, 'ip'), [
    '#!/bin/sh',
    `[ -e ${join(control, 'hang')} ] && exec sleep 30`,
    `[ -e ${join(control, 'slow')} ] && sleep 0.4`,
    'exec /bin/ip "$@"',
    '',
  ].join('\n'));
  chmodSync(join(bin, 'ip'), 0o755);
}
const mode = (m: 'real' | 'slow' | 'hang') => {
  for (const f of ['hang', 'slow']) rmSync(join(control, f), { force: true });
  if (m !== 'real') writeFileSync(join(control, m), '');
};

before(async () => {
  lab = await labUp({ v1Pools: 4 });
  standInIp();
  process.env.PATH = `${bin}:${savedPath}`;
});

after(async () => {
  process.env.PATH = savedPath;
  await lab?.down();
});

test('a client that disconnects mid-query stops the work: no new probe starts, queued commands never run', async () => {
  mode('slow');
  const config = loadConfig({ ...lab.env(), LBTOPO_DB: tmpDb(), LBTOPO_LISTEN: '127.0.0.1:0', LBTOPO_COMMAND_CONCURRENCY: '1', LBTOPO_NETLINK: 'off' });
  const app = createApp(config, { log: () => {} });
  const server = await serve(app);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  const trace: ProbeTraceEntry[] = [];
  const stopTrace = app.runner.onObserve((e) => trace.push(e));
  try {
    await gql(app, '{ pools { id } }'); // the state dirs, so the next request goes straight to ip
    const runsBefore = app.gateway.runCount;
    const controller = new AbortController();
    const query = '{ pools(maxAge: 0) { id vipInterface { name } } }';
    const answer = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }), signal: controller.signal });
    await new Promise((r) => setTimeout(r, 600));
    assert.ok(app.gateway.queued >= 1, `ip runs wait behind the one slot: ${app.gateway.queued}`);
    controller.abort();
    await assert.rejects(answer);
    // 4 namespaces x 0.4 s one at a time would take 1.6 s; give it 2 s to show nothing else starts.
    await new Promise((r) => setTimeout(r, 2000));
    const started = app.gateway.runCount - runsBefore;
    assert.ok(started <= 2, `only the ip runs started before the client left ran (${started} of 4)`);
    assert.equal(app.gateway.queued, 0, 'the queued commands left the queue');
    const notWaited = trace.filter((e) => e.error?.kind === 'deadline');
    assert.ok(notWaited.length >= 2, JSON.stringify(trace));
    assert.ok(notWaited.every((e) => /the client went away/.test(e.error!.message)));
    // Nothing is poisoned: the next request looks again and answers every pool.
    mode('real');
    const res = await gql(app, query);
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    assert.deepEqual(res.data.pools.map((p: { vipInterface: { name: string } }) => p.vipInterface.name).sort(), lab.pools.map((p) => p.tapName).sort());
  } finally {
    stopTrace();
    server.close();
    server.closeAllConnections();
    app.close();
  }
});

test('a hung ip: the full trace answers by the request deadline with the last good data, naming the probes', async () => {
  mode('real');
  const app: App = appForLab(lab, { LBTOPO_REQUEST_DEADLINE: '2s', LBTOPO_COMMAND_TIMEOUT: '3s', LBTOPO_TTL_IP: '0s', LBTOPO_NETLINK: 'off' });
  try {
    const trace = readExampleQuery('pools-trace');
    const good = await gql(app, trace);
    assert.ok(good.data.pools.length === lab.pools.length);
    mode('hang');
    const t0 = Date.now();
    const res = await gql(app, trace);
    const took = Date.now() - t0;
    assert.ok(took < 2500, `answered in ${took} ms with a 2 s deadline (it waited for every hung ip before)`);
    assert.deepEqual(res.data, good.data, 'the last good observation of every namespace is served');
    const failures = (res.extensions?.probeFailures ?? []) as Array<Record<string, unknown>>;
    const ipFailures = failures.filter((f) => f.probe === 'ip');
    assert.deepEqual(ipFailures.map((f) => f.scope).sort(), lab.pools.map((p) => p.namespace).sort(), 'each namespace is named');
    for (const f of ipFailures) {
      assert.equal(f.servedStale, true);
      assert.equal(f.kind, 'deadline');
      assert.match(String(f.message), /not waited for: the request deadline \(2 s, LBTOPO_REQUEST_DEADLINE\) was near after 1\.5 s/);
    }
    // Without a last good observation, the field fails with the same reason instead of hanging.
    const fresh = appForLab(lab, { LBTOPO_REQUEST_DEADLINE: '1s', LBTOPO_COMMAND_TIMEOUT: '3s', LBTOPO_NETLINK: 'off' });
    try {
      const t1 = Date.now();
      const cold = await gql(fresh, `{ pools { id vipInterface { name } } }`);
      assert.ok(Date.now() - t1 < 1500);
      assert.ok(cold.data.pools.every((p: { vipInterface: unknown }) => p.vipInterface === null));
      assert.ok(cold.errors!.length >= lab.pools.length);
      for (const e of cold.errors!) {
        assert.equal(e.extensions?.code, 'PROBE_FAILED');
        assert.equal(e.extensions?.reason, 'deadline');
        assert.match(e.message, /probe ip\(qlbaas-.*\) failed: ip: not waited for/);
      }
    } finally {
      mode('real');
      // The hung commands end at their own timeout; wait so no run outlives the app.
      await new Promise((r) => setTimeout(r, 3500));
      fresh.close();
    }
  } finally {
    mode('real');
    app.close();
  }
});
