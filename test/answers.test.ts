// The answer cache's rule (src/cache/answers.ts): an answer is served again only while each look
// it was built from would be served the same observation, and never across an event, a new look,
// an expiry, a failure, a maxAge of 0, or while events do not flow. Probes here are in-memory
// definitions over the real runner and store: what is tested is our cache, not the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ObservationStore } from '../src/cache/store.ts';
import { ProbeRunner } from '../src/cache/runner.ts';
import type { LookRecord, ProbeDefinition } from '../src/cache/runner.ts';
import { AnswerCache, REUSE_MS } from '../src/cache/answers.ts';
import { DiscoveryError } from '../src/host/errors.ts';

function setup(ttlMs = 60_000) {
  const runner = new ProbeRunner(new ObservationStore(':memory:'), () => {});
  let eventsFlow = true;
  const cache = new AnswerCache(runner, () => eventsFlow);
  let value = 1;
  let fail = false;
  const def: ProbeDefinition<{ value: number }> = {
    name: 'lbaas',
    ttlMs,
    run: async () => {
      if (fail) throw new DiscoveryError('io', '/state', 'unreadable');
      return { value };
    },
  };
  /** Executes "an answer": one look, and its result built from it. */
  const execute = async (maxAgeMs?: number) => {
    const looks: LookRecord[] = [];
    const observed = await runner.observe(def, '', { maxAgeMs, looks }).catch(() => null);
    return { result: { data: observed?.value.value ?? null }, looks };
  };
  return {
    runner, cache, execute,
    setValue: (v: number) => { value = v; },
    setFail: (f: boolean) => { fail = f; },
    setEventsFlow: (f: boolean) => { eventsFlow = f; },
  };
}

test('a kept answer is served while its look would be served the same, with the trace of that look', async () => {
  const t = setup();
  const first = await t.execute();
  t.cache.keep('q', first.result, first.looks, true);
  const hit = t.cache.lookup('q');
  assert.deepEqual(hit?.result, { data: 1 });
  assert.deepEqual(hit?.trace.map((e) => [e.probe, e.source]), [['lbaas', 'cache']]);
  assert.equal(t.cache.lookup('other'), null, 'another document or variables is another key');
});

test('an event, or a newer look of the same probe, ends the reuse', async () => {
  const t = setup();
  const first = await t.execute();
  t.cache.keep('q', first.result, first.looks, true);
  t.runner.invalidate('lbaas');
  assert.equal(t.cache.lookup('q'), null, 'an event outdated the look');

  const second = await t.execute();
  t.cache.keep('q', second.result, second.looks, true);
  assert.ok(t.cache.lookup('q'));
  t.setValue(2);
  await t.execute(0); // someone else looked afresh: a new observation
  assert.equal(t.cache.lookup('q'), null, 'a newer observation would be served now');
  const third = await t.execute();
  assert.deepEqual(third.result, { data: 2 });
});

test('an answer is not reused once its looks expire, and never past REUSE_MS without a check', async () => {
  const t = setup(40);
  const first = await t.execute();
  t.cache.keep('q', first.result, first.looks, true);
  assert.ok(t.cache.lookup('q'));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(t.cache.lookup('q'), null, 'the look is past its TTL: executing would look again');
  assert.ok(REUSE_MS <= 1000);
});

test('not kept: a failed or stale look, a maxAge of 0, a request that read outside the runner, or while events do not flow', async () => {
  const t = setup();
  const fresh = await t.execute(0);
  t.cache.keep('fresh', fresh.result, fresh.looks, true);
  assert.equal(t.cache.lookup('fresh'), null, 'maxAge: 0');

  const ok = await t.execute();
  t.cache.keep('outside', ok.result, ok.looks, false);
  assert.equal(t.cache.lookup('outside'), null, 'session not reusable');

  t.setFail(true);
  t.runner.invalidate('lbaas');
  const stale = await t.execute();
  assert.equal(stale.looks[0]?.source, 'stale');
  t.cache.keep('stale', stale.result, stale.looks, true);
  assert.equal(t.cache.lookup('stale'), null, 'a stale look');
  t.setFail(false);

  t.runner.invalidate('lbaas');
  const good = await t.execute();
  t.cache.keep('q', good.result, good.looks, true);
  t.setEventsFlow(false);
  assert.equal(t.cache.lookup('q'), null, 'no events: nothing is reused');
  t.setEventsFlow(true);
  assert.ok(t.cache.lookup('q'));
});
