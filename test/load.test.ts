// The short version of bench/load.ts: 5 clients x 3 s of the example queries against a served
// lab, asserting correctness only (no 5xx, every answer the same as the one computed before the
// load, the server's children within the command concurrency). Figures are the script's job.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { labUp } from '../src/lab/lab.ts';
import type { Lab } from '../src/lab/lab.ts';
import { runLoad } from '../bench/load.ts';

let lab: Lab;
before(async () => {
  lab = await labUp({ v1Pools: 3, v2LoadBalancers: 1 });
  await lab.injectFault(lab.pools[1]!.poolId, 'kill-haproxy');
});
after(async () => { await lab?.down(); });

test('5 clients x 3 s of the example queries: no 5xx, no wrong answer, children bounded', async () => {
  const r = await runLoad(lab, { clients: 5, seconds: 3, pools: lab.pools.length, ttl: '500ms', concurrency: 2, log: () => {} });
  assert.ok(r.requests > 20, `${r.requests} requests`);
  assert.equal(r.serverErrors, 0, JSON.stringify(r.byStatus));
  assert.deepEqual(r.wrong, []);
  assert.deepEqual(Object.keys(r.byStatus), ['200']);
  assert.ok(r.maxChildren <= 2, `at most ${r.maxChildren} children at once`);
});
