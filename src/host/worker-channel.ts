// One worker thread that runs named jobs (host-worker-thread.ts) for the main thread, which only
// sends arguments and receives results: host work that is many small system calls, or CPU spent
// decoding, stays off the loop that answers requests. A job that does not answer in time fails
// as 'timeout' and its worker is dropped (unref'ed, so even one stuck in the kernel, like a read of
// a process in D state, never holds the process up); the next job starts a new worker.
// Arguments must be structured-cloneable; results are plain JSON values (they cross as JSON, see
// known-json.ts); errors cross as DiscoveryErrors.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DiscoveryError } from './errors.ts';
import type { DiscoveryErrorKind } from './errors.ts';
import type { HostJobs } from './host-worker-thread.ts';
import { fromKnownJson } from './known-json.ts';
import type { KnownJson } from './known-json.ts';

export interface HostWorkerRequest { id: number; job: keyof HostJobs; args: unknown[] }
export type HostWorkerReply =
  | { id: number; ok: true; value: KnownJson }
  | { id: number; ok: false; error: { kind: DiscoveryErrorKind | null; source: string[]; message: string } };

const DEFAULT_TIMEOUT_MS = 10_000;
const workerUrl = new URL(`./host-worker-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

interface Pending { resolve: (value: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout; source: string }
interface Running { worker: Worker; pending: Map<number, Pending> }

function reviveError(error: { kind: DiscoveryErrorKind | null; source: string[]; message: string }): DiscoveryError {
  if (error.kind === null) return new DiscoveryError('failed', error.source, error.message);
  const prefix = `${error.source.join(' ')}: `;
  return new DiscoveryError(error.kind, error.source, error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message);
}

export class WorkerChannel {
  /** What it is called in errors ("the file worker"). */
  readonly name: string;
  private current: Running | null = null;
  private nextId = 1;

  constructor(name: string) {
    this.name = name;
  }

  /** Runs one named job; `source` (a path) names it in a timeout or a worker failure. */
  run<J extends keyof HostJobs>(job: J, args: Parameters<HostJobs[J]>, source: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Awaited<ReturnType<HostJobs[J]>>> {
    return new Promise((resolve, reject) => {
      let entry: Running;
      try {
        entry = this.worker();
      } catch (err) {
        reject(new DiscoveryError('failed', source, `cannot start ${this.name}: ${(err as Error).message}`));
        return;
      }
      const id = this.nextId++;
      const timer = setTimeout(() => {
        entry.pending.delete(id);
        reject(new DiscoveryError('timeout', source, `no answer from ${this.name} in ${timeoutMs} ms (blocked in the kernel?)`));
        // Stuck in a system call: of no further use. Its other jobs fail now, later ones get a new worker.
        this.drop(entry, `${this.name} was replaced after a job took over ${timeoutMs} ms`);
      }, timeoutMs);
      if (entry.pending.size === 0) entry.worker.ref();
      entry.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer, source });
      entry.worker.postMessage({ id, job, args } satisfies HostWorkerRequest);
    });
  }

  /** Starts the worker now, so its start-up (tens of ms) is not paid by the first job. */
  start(): void {
    try {
      this.worker();
    } catch {
      // The first job says why.
    }
  }

  /** Stops the worker (tests, shutdown); a later job starts a new one. */
  async stop(): Promise<void> {
    const entry = this.current;
    if (!entry) return;
    this.current = null;
    this.failPending(entry, `${this.name} stopped`);
    await entry.worker.terminate();
  }

  private worker(): Running {
    if (this.current) return this.current;
    // None of our node options matters to a worker that reads the host; passing none also avoids
    // options a worker refuses (`-e`, `--input-type`).
    const entry: Running = { worker: new Worker(workerUrl, { execArgv: [] }), pending: new Map() };
    entry.worker.unref();
    entry.worker.on('message', (reply: HostWorkerReply) => {
      const p = entry.pending.get(reply.id);
      if (!p) return;
      entry.pending.delete(reply.id);
      clearTimeout(p.timer);
      if (entry.pending.size === 0) entry.worker.unref();
      if (reply.ok) p.resolve(fromKnownJson(reply.value));
      else p.reject(reviveError(reply.error));
    });
    entry.worker.on('error', (err) => this.drop(entry, `${this.name} failed: ${err.message}`));
    entry.worker.on('exit', (code) => this.drop(entry, `${this.name} exited (code ${code})`));
    this.current = entry;
    return entry;
  }

  private drop(entry: Running, detail: string): void {
    if (this.current === entry) this.current = null;
    this.failPending(entry, detail);
    void entry.worker.terminate();
  }

  private failPending(entry: Running, detail: string): void {
    for (const [id, p] of entry.pending) {
      clearTimeout(p.timer);
      entry.pending.delete(id);
      p.reject(new DiscoveryError('failed', p.source, detail));
    }
  }
}
