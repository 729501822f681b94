// readRegularFile on real special files: what a pid file or config could be made into (item 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiscoveryError } from '../src/host/errors.ts';
import { readRegularFile } from '../src/host/safe-file.ts';
import { readPidFile } from '../src/host/lbaas-state.ts';

const LIMITS = { maxBytes: 1024, timeoutMs: 1000 };
const dir = mkdtempSync(join(tmpdir(), 'lbtopo-safe-file-'));
const refused = (pattern: RegExp, kind = 'io') => (err: unknown) => err instanceof DiscoveryError && err.kind === kind && pattern.test(err.message);

test('a FIFO with no writer is refused at once instead of blocking open()', async () => {
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const t0 = Date.now();
  await assert.rejects(readRegularFile(fifo, LIMITS), refused(/a FIFO, not a regular file/));
  assert.ok(Date.now() - t0 < 500);
  await assert.rejects(readPidFile(fifo), refused(/FIFO/), 'a pid file that is a FIFO is an error, not "no pids"');
});

test('/dev/zero (through a symlink) is refused: a character device is no file to read to the end', async () => {
  const link = join(dir, 'zero');
  symlinkSync('/dev/zero', link);
  await assert.rejects(readRegularFile(link, LIMITS), refused(/a character device/));
});

test('a file over the cap is refused before it is read, with its size', async () => {
  const big = join(dir, 'big');
  execFileSync('truncate', ['-s', '1G', big]);
  await assert.rejects(readRegularFile(big, LIMITS), refused(/too large: 1073741824 bytes \(the limit is 1024\)/));
});

test('a directory, a missing file and a small regular file', async () => {
  await assert.rejects(readRegularFile(dir, LIMITS), refused(/a directory/));
  await assert.rejects(readRegularFile(join(dir, 'nope'), LIMITS), (e: unknown) => e instanceof DiscoveryError && e.kind === 'not-found');
  const small = join(dir, 'small');
  writeFileSync(small, '4242\n');
  assert.equal((await readRegularFile(small, LIMITS)).data.toString(), '4242\n');
  // Exactly at the cap is fine; one byte more is not.
  writeFileSync(small, 'x'.repeat(1024));
  assert.equal((await readRegularFile(small, LIMITS)).data.length, 1024);
  appendFileSync(small, 'y');
  await assert.rejects(readRegularFile(small, LIMITS), refused(/too large/));
});
