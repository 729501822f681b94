// Blocking file work off the main thread. A /proc scan is ~1,400 small reads and readlinks; done
// with the async fs API each is a thread-pool round trip through the main loop (measured 400-480 ms
// for 277 processes during a cold 200-pool trace, against 12-25 ms for the same calls made
// synchronously). So the scan runs synchronously in a worker thread of its own: the main loop
// only receives the result. A read can block in the kernel (a process in D state holding its mmap
// lock blocks reads of its cmdline): the request then times out, and the stuck worker is dropped
// (it is unref'ed, so it never holds the process up) and the next request gets a new one.
//
// The jobs are named (FsJobs in fs-worker-thread.ts); arguments and results must be structured-cloneable.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DiscoveryError } from './errors.ts';
import type { DiscoveryErrorKind } from './errors.ts';
import type { FsJobs } from './fs-worker-thread.ts';

export interface FsWorkerRequest { id: number; job: keyof FsJobs; args: unknown[] }
export type FsWorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { kind: DiscoveryErrorKind | null; source: string[]; message: string } };

const DEFAULT_TIMEOUT_MS = 10_000;
const workerUrl = new URL(`./fs-worker-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

interface Pending { resolve: (value: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout; source: string }

let current: { worker: Worker; pending: Map<number, Pending> } | null = null;
let nextId = 1;

function drop(entry: NonNullable<typeof current>, detail: string): void {
  if (current === entry) current = null;
  for (const [id, p] of entry.pending) {
    clearTimeout(p.timer);
    entry.pending.delete(id);
    p.reject(new DiscoveryError('failed', p.source, detail));
  }
  void entry.worker.terminate();
}

function worker(): NonNullable<typeof current> {
  if (current) return current;
  // No execArgv of ours matters to a worker that only reads files; passing none also avoids
  // options a worker refuses (`-e`, `--input-type`).
  const entry = { worker: new Worker(workerUrl, { execArgv: [] }), pending: new Map<number, Pending>() };
  entry.worker.unref();
  entry.worker.on('message', (reply: FsWorkerReply) => {
    const p = entry.pending.get(reply.id);
    if (!p) return;
    entry.pending.delete(reply.id);
    clearTimeout(p.timer);
    if (entry.pending.size === 0) entry.worker.unref();
    if (reply.ok) p.resolve(reply.value);
    else p.reject(reviveError(reply.error));
  });
  entry.worker.on('error', (err) => drop(entry, `file worker failed: ${err.message}`));
  entry.worker.on('exit', (code) => drop(entry, `file worker exited (code ${code})`));
  current = entry;
  return entry;
}

function reviveError(error: { kind: DiscoveryErrorKind | null; source: string[]; message: string }): Error {
  if (error.kind === null) return new DiscoveryError('failed', error.source, error.message);
  const prefix = `${error.source.join(' ')}: `;
  return new DiscoveryError(error.kind, error.source, error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message);
}

/** Runs one named job in the file worker; `source` names it in a timeout or a worker failure. */
export function runFsJob<J extends keyof FsJobs>(job: J, args: Parameters<FsJobs[J]>, source: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ReturnType<FsJobs[J]>> {
  return new Promise((resolve, reject) => {
    let entry: NonNullable<typeof current>;
    try {
      entry = worker();
    } catch (err) {
      reject(new DiscoveryError('failed', source, `cannot start the file worker: ${(err as Error).message}`));
      return;
    }
    const id = nextId++;
    const timer = setTimeout(() => {
      entry.pending.delete(id);
      reject(new DiscoveryError('timeout', source, `no answer from the file worker in ${timeoutMs} ms (a read blocked in the kernel?)`));
      // Stuck in a system call: of no further use. Its other requests fail now, later ones get a new worker.
      drop(entry, `the file worker was replaced after a request took over ${timeoutMs} ms`);
    }, timeoutMs);
    if (entry.pending.size === 0) entry.worker.ref();
    entry.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer, source });
    entry.worker.postMessage({ id, job, args } satisfies FsWorkerRequest);
  });
}

/** Starts the worker now, so its start-up (tens of ms) is not paid by the first request. */
export function startFsWorker(): void {
  try {
    worker();
  } catch {
    // The first job says why.
  }
}

/** Stops the worker (tests, shutdown); a later job starts a new one. */
export async function stopFsWorker(): Promise<void> {
  if (current) {
    const entry = current;
    current = null;
    for (const [id, p] of entry.pending) {
      clearTimeout(p.timer);
      entry.pending.delete(id);
      p.reject(new DiscoveryError('failed', p.source, 'file worker stopped'));
    }
    await entry.worker.terminate();
  }
}
