// The command gateway's bounds: a timeout ends everything the command started (also what left
// its process group with setsid, through a double fork), the queue behind the concurrency limit
// is bounded, and a caller that gives up while waiting never starts its command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandGateway } from '../src/host/exec.ts';
import { DiscoveryError } from '../src/host/errors.ts';

/** Alive and not a zombie (an orphan reparented to a pid 1 that does not reap stays a zombie). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return condition();
}

test('a timeout ends grandchildren that called setsid and double-forked, and the slot is free at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-setsid-'));
  const script = join(dir, 'wedged-tool');
  // The test's stand-in for a wedged tool that daemonizes helpers: each helper is started in a new
  // session (setsid) by a middle shell that exits at once (a double fork: the helper's parent is
  // gone, it is reparented), and each keeps our stdout open. The second one also clears its
  // environment (env -i), so only the pipe it holds gives it away.
  writeFileSync(script, [
    '#!/bin/sh',
    `setsid sh -c 'sleep 30 & echo $! > "$1"' sh ${join(dir, 'helper1.pid')}`,
    `setsid sh -c 'env -i sleep 31 & echo $! > "$1"' sh ${join(dir, 'helper2.pid')}`,
    'sleep 32',
    '',
  ].join('\n'));
  chmodSync(script, 0o755);
  const gateway = new CommandGateway({ timeoutMs: 600, concurrency: 1 });
  const t0 = Date.now();
  await assert.rejects(gateway.run([script]), (err: unknown) => err instanceof DiscoveryError && err.kind === 'timeout');
  const took = Date.now() - t0;
  assert.ok(took < 2500, `the 600 ms timeout returned after ${took} ms (the helpers held the pipe for 30 s before)`);
  const helpers = [1, 2].map((n) => Number(readFileSync(join(dir, `helper${n}.pid`), 'utf8')));
  for (const pid of helpers) {
    assert.ok(await until(() => !running(pid), 2000), `helper ${pid} was ended`);
    assert.ok(gateway.runs[0]!.killedDescendants?.includes(pid), `the run record names ${pid}: ${gateway.runs[0]!.killedDescendants}`);
  }
  // The one slot is free again: the next command starts and finishes right away.
  const t1 = Date.now();
  await gateway.run(['true']);
  assert.ok(Date.now() - t1 < 1000);
});

test('the queue behind the concurrency limit is bounded and refuses clearly when full', async () => {
  const gateway = new CommandGateway({ concurrency: 1, queueLimit: 2 });
  const running = gateway.run(['sleep', '0.4']);
  const waiting = [gateway.run(['true']), gateway.run(['true'])];
  assert.equal(gateway.queued, 2);
  const t0 = Date.now();
  await assert.rejects(gateway.run(['echo', 'one too many']), (err: unknown) =>
    err instanceof DiscoveryError && err.kind === 'overloaded' && /2 commands already wait for one of 1 slots/.test(err.message) && /echo one too many/.test(err.message));
  assert.ok(Date.now() - t0 < 100, 'refused at once, not after waiting');
  assert.equal(gateway.queueRefusals, 1);
  await Promise.all([running, ...waiting]);
  assert.deepEqual(gateway.runs.map((r) => r.argv.join(' ')), ['sleep 0.4', 'true', 'true'], 'the refused command never ran');
  assert.equal(gateway.queued, 0);
});

test('a caller that gives up while waiting leaves the queue and its command never starts', async () => {
  const gateway = new CommandGateway({ concurrency: 1 });
  const busy = gateway.run(['sleep', '0.3']);
  const controller = new AbortController();
  const abandoned = gateway.run(['echo', 'abandoned'], { signal: controller.signal });
  assert.equal(gateway.queued, 1);
  controller.abort(new Error('client went away'));
  await assert.rejects(abandoned, /not started: client went away/);
  assert.equal(gateway.queued, 0);
  await busy;
  assert.deepEqual(gateway.runs.map((r) => r.argv[0]), ['sleep']);
  await assert.rejects(gateway.run(['true'], { signal: controller.signal }), /not started/);
  assert.equal(gateway.runCount, 1);
});
