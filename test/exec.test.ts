import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandGateway } from '../src/host/exec.ts';
import { DiscoveryError } from '../src/host/errors.ts';

test('a command that hangs is killed at the timeout and reported as such', async () => {
  const gateway = new CommandGateway({ timeoutMs: 300 });
  const t0 = Date.now();
  await assert.rejects(gateway.run(['sleep', '30']), (err: unknown) => err instanceof DiscoveryError && err.kind === 'timeout' && /sleep 30/.test(err.message));
  assert.ok(Date.now() - t0 < 3000, 'did not wait for the command');
  assert.equal(gateway.runs[0]!.timedOut, true);
});

test('a timeout also ends what the command started (a grandchild holding stdout open)', async () => {
  const gateway = new CommandGateway({ timeoutMs: 300 });
  const t0 = Date.now();
  // The test's own stand-in for a wedged tool: sh leaves a background sleep holding the pipe.
  await assert.rejects(gateway.run(['sh', '-c', 'sleep 30 & sleep 30']), (err: unknown) => err instanceof DiscoveryError && err.kind === 'timeout');
  assert.ok(Date.now() - t0 < 3000, `returned after ${Date.now() - t0} ms`);
});

test('runs with LC_ALL=C and records argv, exit code and duration', async () => {
  const gateway = new CommandGateway();
  const { stdout } = await gateway.run(['env']);
  assert.match(stdout, /^LC_ALL=C$/m);
  assert.deepEqual(gateway.runs[0]!.argv, ['env']);
  assert.equal(gateway.runs[0]!.exitCode, 0);
  assert.ok(gateway.runs[0]!.durationMs > 0);
});

test('arguments are passed as they are: no shell ever sees them', async () => {
  const gateway = new CommandGateway();
  const hostile = '$(touch /tmp/lbtopo-pwned); `id`; rm -rf /';
  const { stdout } = await gateway.run(['printf', '%s', hostile]);
  assert.equal(stdout, hostile);
});

test('a failing exit code and a missing command are typed errors', async () => {
  const gateway = new CommandGateway();
  await assert.rejects(gateway.run(['false']), (err: unknown) => err instanceof DiscoveryError && err.kind === 'exit' && err.exitCode === 1);
  await assert.rejects(gateway.run(['lbtopo-no-such-command']), (err: unknown) => err instanceof DiscoveryError && err.kind === 'not-found');
  assert.equal(gateway.runCount, 2);
});

test('no more than `concurrency` commands run at once', async () => {
  const gateway = new CommandGateway({ concurrency: 2 });
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 6 }, () => gateway.run(['sleep', '0.2'])));
  // 6 sleeps of 0.2 s, 2 at a time: at least 3 rounds.
  assert.ok(Date.now() - t0 >= 550, `took ${Date.now() - t0} ms`);
  // Run windows (1 ms slack for Date.now rounding) never overlap more than 2 deep.
  const windows = gateway.runs.map((r) => [r.startedAt + 1, r.startedAt + r.durationMs - 1] as const);
  const depth = windows.map(([s]) => windows.filter(([a, b]) => a <= s && s < b).length);
  assert.ok(Math.max(...depth) <= 2, `at most 2 at once, saw ${Math.max(...depth)}`);
});
