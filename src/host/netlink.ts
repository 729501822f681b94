// Namespaces read over rtnetlink, in-process: no `ip` process per namespace. The same
// NamespaceNetwork as readNamespaceNetwork (src/host/iproute.ts), from four kernel dumps on a
// socket opened inside the namespace, plus change events on a socket per namespace.
//
// - netlinkSupport(): whether the addon (src/native/netlink.c) loaded, and why not.
// - readNamespaceNetworkNetlink(name, nsfsPath): the dumps and their decoding run in a worker
//   thread (a pool of up to two); the main thread only gets the result. Every failure is a
//   NetlinkError (a DiscoveryError) whose `failure` says what went wrong; each of them can be
//   answered by `ip -batch` instead ('gone' means ip will most likely say gone too).
// - watchNamespace(name, nsfsPath, handlers): link, address and route notifications of one
//   namespace. The socket is opened in the worker and polled on the main thread's loop; close()
//   closes it at once, since an open socket keeps a deleted namespace (and its devices) alive.
//
// nsfsPath is the namespace's file under LBTOPO_NETNS_DIR (what listNamespaces() stat'ed), not a
// name for `ip` to resolve in /run/netns: the inode and the contents come from one open of that
// file, and `expectedInode` refuses a namespace replaced under the same name since it was listed.
import { constants as osConstants, availableParallelism } from 'node:os';
import { extname, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DiscoveryError } from './errors.ts';
import type { DiscoveryErrorKind } from './errors.ts';
import type { NamespaceNetwork } from './iproute.ts';
import { loadNetlinkAddon } from './netlink-addon.ts';
import type { NetlinkWatchHandle } from './netlink-addon.ts';
import { changeKindsOf } from './netlink-decode.ts';
import type { NetlinkChangeKind } from './netlink-decode.ts';
import { isValidNamespaceName } from './names.ts';

export type { NetlinkChangeKind } from './netlink-decode.ts';

/**
 * - unavailable: the addon is not built or does not load (netlinkSupport().reason);
 * - cannot-enter: no permission to open or enter the namespace (EACCES/EPERM: no CAP_SYS_ADMIN);
 * - gone: no such file, not a namespace (any more: half made or half deleted), or another
 *   namespace than the one listed (expectedInode);
 * - timeout: the worker did not answer in time (it is replaced);
 * - parse: the kernel's answer did not decode;
 * - failed: anything else (socket, dump errors, a dump interrupted by changes every time).
 */
export type NetlinkFailure = 'unavailable' | 'cannot-enter' | 'gone' | 'timeout' | 'parse' | 'failed';

const KIND_OF_FAILURE: Record<NetlinkFailure, DiscoveryErrorKind> = {
  unavailable: 'failed',
  'cannot-enter': 'failed',
  gone: 'gone',
  timeout: 'timeout',
  parse: 'parse',
  failed: 'failed',
};

export class NetlinkError extends DiscoveryError {
  readonly failure: NetlinkFailure;
  /** The errno name (ENOENT, EPERM, …) when a system call failed. */
  readonly errno: string | null;

  constructor(failure: NetlinkFailure, source: readonly string[], detail: string, errno: string | null = null) {
    super(KIND_OF_FAILURE[failure], source, detail);
    this.failure = failure;
    this.errno = errno;
  }
}

/** What crosses from the worker when a request fails. */
export interface SerializedNetlinkError {
  message: string;
  failure?: NetlinkFailure;
  syscall?: string;
  errno?: number;
}

export type NetlinkWorkerRequest =
  | { id: number; op: 'read'; namespace: string; nsfsPath: string; expectedInode?: number }
  | { id: number; op: 'open-events'; nsfsPath: string; expectedInode?: number; receiveBufferBytes?: number };

export type NetlinkWorkerReply =
  | { id: number; ok: true; networkJson: string; inode: number }
  | { id: number; ok: true; fd: number; inode: number }
  | { id: number; ok: false; error: SerializedNetlinkError };

export function netlinkSupport(): { available: boolean; reason?: string } {
  const load = loadNetlinkAddon();
  return load.addon ? { available: true } : { available: false, reason: load.reason };
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([name, value]) => [value, name]));

function toNetlinkError(error: SerializedNetlinkError, source: readonly string[]): NetlinkError {
  const errno = error.errno === undefined ? null : (ERRNO_NAMES.get(error.errno) ?? `errno ${error.errno}`);
  let failure = error.failure ?? 'failed';
  let detail = error.message;
  if (!error.failure && errno) {
    const syscall = error.syscall ?? '';
    if (errno === 'ENOENT' && syscall === 'open') failure = 'gone';
    else if (errno === 'EINVAL' && syscall === 'setns') {
      // What `ip netns add` leaves before the bind mount, and `ip netns del` after the unmount.
      failure = 'gone';
      detail = `${detail} (not a network namespace: being made or removed)`;
    } else if (errno === 'EACCES' || errno === 'EPERM') failure = 'cannot-enter';
  }
  return new NetlinkError(failure, source, detail, errno);
}

// ---------------------------------------------------------------------------------------------
// The worker pool.

const DEFAULT_TIMEOUT_MS = 10_000;

interface Pending {
  resolve: (reply: NetlinkWorkerReply) => void;
  reject: (err: NetlinkError) => void;
  timer: NodeJS.Timeout;
  source: readonly string[];
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
  retired: boolean;
}

type NetlinkRequestBody = NetlinkWorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

const workerUrl = new URL(`./netlink-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
const poolSize = Math.max(1, Math.min(2, availableParallelism()));
const workers: PoolWorker[] = [];
let nextId = 1;

/**
 * The process's node options minus those a worker refuses (a worker inherits execArgv, and
 * `node --input-type=module -e …` would make every worker fail to start).
 */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-e' || arg === '--eval' || arg === '-p' || arg === '--print') {
      i++;
      continue;
    }
    if (/^--(eval|print|input-type)(=|$)/.test(arg)) continue;
    out.push(arg);
  }
  return out;
}

/** A worker with the process's node options where it takes them, else with none (e.g. --expose-gc is per process). */
function newWorker(): Worker {
  try {
    return new Worker(workerUrl, { execArgv: workerExecArgv() });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
    return new Worker(workerUrl, { execArgv: [] });
  }
}

function startWorker(): PoolWorker {
  const entry: PoolWorker = { worker: newWorker(), pending: new Map(), retired: false };
  entry.worker.unref(); // only pending requests keep the process alive (ref() in request())
  const failAll = (detail: string) => {
    retire(entry);
    for (const [id, p] of entry.pending) {
      clearTimeout(p.timer);
      entry.pending.delete(id);
      p.reject(new NetlinkError('failed', p.source, detail));
    }
  };
  entry.worker.on('message', (reply: NetlinkWorkerReply) => {
    const p = entry.pending.get(reply.id);
    if (!p) return;
    entry.pending.delete(reply.id);
    clearTimeout(p.timer);
    if (entry.pending.size === 0) entry.worker.unref();
    p.resolve(reply);
  });
  entry.worker.on('error', (err) => failAll(`netlink worker failed: ${err.message}`));
  entry.worker.on('exit', (code) => failAll(`netlink worker exited (code ${code})`));
  return entry;
}

function retire(entry: PoolWorker): void {
  if (entry.retired) return;
  entry.retired = true;
  const i = workers.indexOf(entry);
  if (i >= 0) workers.splice(i, 1);
  void entry.worker.terminate();
}

/** The least busy worker, starting one while the pool is not full. */
function pickWorker(): PoolWorker {
  const idle = workers.find((w) => w.pending.size === 0);
  if (idle) return idle;
  if (workers.length < poolSize) {
    const entry = startWorker();
    workers.push(entry);
    return entry;
  }
  return workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
}

function request(body: NetlinkRequestBody, source: readonly string[], timeoutMs: number): Promise<NetlinkWorkerReply> {
  return new Promise((resolve, reject) => {
    let entry: PoolWorker;
    try {
      entry = pickWorker();
    } catch (err) {
      reject(new NetlinkError('failed', source, `cannot start the netlink worker: ${(err as Error).message}`));
      return;
    }
    const id = nextId++;
    const timer = setTimeout(() => {
      entry.pending.delete(id);
      reject(new NetlinkError('timeout', source, `no answer from the netlink worker in ${timeoutMs} ms`));
      // A worker stuck in a system call is of no further use; later requests get a new one.
      retire(entry);
    }, timeoutMs);
    if (entry.pending.size === 0) entry.worker.ref();
    entry.pending.set(id, { resolve, reject, timer, source });
    entry.worker.postMessage({ ...body, id });
  });
}

/**
 * Starts the pool now rather than on the first read: a worker's start (~40 ms compiled, ~300 ms
 * from the TypeScript sources, which each worker strips anew) then stays off the first request.
 * A no-op when the addon is unavailable.
 */
export function startNetlinkWorkers(): void {
  if (!netlinkSupport().available) return;
  try {
    while (workers.length < poolSize) workers.push(startWorker());
  } catch {
    // The first request says why (a NetlinkError 'failed').
  }
}

/** Stops the workers (tests, benchmarks, shutdown); later calls start new ones. */
export async function stopNetlinkWorkers(): Promise<void> {
  const all = workers.splice(0);
  await Promise.all(all.map(async (entry) => {
    entry.retired = true;
    for (const [id, p] of entry.pending) {
      clearTimeout(p.timer);
      entry.pending.delete(id);
      p.reject(new NetlinkError('failed', p.source, 'netlink workers stopped'));
    }
    await entry.worker.terminate();
  }));
}

function checkArguments(name: string | null, nsfsPath: string, source: readonly string[]): NetlinkError | null {
  if (name !== null && !isValidNamespaceName(name)) return new NetlinkError('failed', source, `not a valid namespace name: ${JSON.stringify(name)}`);
  if (typeof nsfsPath !== 'string' || !isAbsolute(nsfsPath) || nsfsPath.includes('\0') || nsfsPath.length > 4000) {
    return new NetlinkError('failed', source, `not an absolute path to a namespace file: ${JSON.stringify(nsfsPath)}`);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Reading.

export interface NetlinkReadOptions {
  /** The inode listNamespaces() saw for nsfsPath: a different namespace there now is 'gone'. */
  expectedInode?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Interfaces (with addresses and counters) and routes (all tables, both families) of the
 * namespace mounted at nsfsPath, as readNamespaceNetwork gives them from `ip -s -d -j -batch`.
 * Rejects with a NetlinkError only.
 */
export async function readNamespaceNetworkNetlink(namespaceName: string, nsfsPath: string, options: NetlinkReadOptions = {}): Promise<NamespaceNetwork> {
  return (await readNamespaceNetworkNetlinkWithJson(namespaceName, nsfsPath, options)).network;
}

/** readNamespaceNetworkNetlink, with the JSON the worker sent it as (so nobody serializes it again). */
export async function readNamespaceNetworkNetlinkWithJson(namespaceName: string, nsfsPath: string, options: NetlinkReadOptions = {}): Promise<{ network: NamespaceNetwork; json: string }> {
  const source = ['netlink', nsfsPath];
  const invalid = checkArguments(namespaceName, nsfsPath, source);
  if (invalid) throw invalid;
  const support = netlinkSupport();
  if (!support.available) throw new NetlinkError('unavailable', source, support.reason ?? 'the netlink addon is not loaded');
  options.signal?.throwIfAborted();
  const body: NetlinkRequestBody = { op: 'read', namespace: namespaceName, nsfsPath };
  if (options.expectedInode !== undefined) body.expectedInode = options.expectedInode;
  const pending = request(body, source, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const reply = await (options.signal ? raceAbort(pending, options.signal) : pending);
  if (!reply.ok) throw toNetlinkError(reply.error, source);
  if (!('networkJson' in reply)) throw new NetlinkError('failed', source, 'the netlink worker answered another request');
  return { network: JSON.parse(reply.networkJson) as NamespaceNetwork, json: reply.networkJson };
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value); },
      (err: unknown) => { signal.removeEventListener('abort', onAbort); reject(err); },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Events.

export interface NamespaceWatchHandlers {
  /** Called once per kind and batch of notifications (a burst of route changes is one call). */
  onChange(kind: NetlinkChangeKind): void;
  /** The socket's receive queue overflowed (ENOBUFS) and changes were lost: read the namespace again. */
  onOverflow(): void;
  /** The socket could not be opened, or failed (a NetlinkError): no more events come after either; close() and watch again. */
  onError(err: Error): void;
}

export interface NamespaceWatchOptions {
  expectedInode?: number;
  /** SO_RCVBUF of the event socket (default: the kernel's, net.core.rmem_default). */
  receiveBufferBytes?: number;
  timeoutMs?: number;
}

export interface NamespaceWatch {
  /** Stops the events and closes the socket now (also before it finished opening). Idempotent. */
  close(): void;
  /** Resolves true once the socket is subscribed, false if it failed to open or close() came first. */
  readonly ready: Promise<boolean>;
  /** The inode of the namespace watched, once open. */
  readonly inode: number | null;
}

export function watchNamespace(name: string, nsfsPath: string, handlers: NamespaceWatchHandlers, options: NamespaceWatchOptions = {}): NamespaceWatch {
  const source = ['netlink', 'watch', nsfsPath];
  let closed = false;
  let handle: NetlinkWatchHandle | null = null;
  let inode: number | null = null;
  const fail = (err: Error) => {
    if (!closed) handlers.onError(err);
  };

  const ready = (async (): Promise<boolean> => {
    const invalid = checkArguments(name, nsfsPath, source);
    if (invalid) throw invalid;
    const load = loadNetlinkAddon();
    if (!load.addon) throw new NetlinkError('unavailable', source, load.reason);
    const { addon } = load;
    const body: NetlinkRequestBody = { op: 'open-events', nsfsPath };
    if (options.expectedInode !== undefined) body.expectedInode = options.expectedInode;
    if (options.receiveBufferBytes !== undefined) body.receiveBufferBytes = options.receiveBufferBytes;
    const reply = await request(body, source, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    if (!reply.ok) throw toNetlinkError(reply.error, source);
    if (!('fd' in reply)) throw new NetlinkError('failed', source, 'the netlink worker answered another request');
    if (closed) {
      addon.closeEventSocket(reply.fd);
      return false;
    }
    inode = reply.inode;
    handle = addon.watch(reply.fd, (errno, overflow, bytes) => {
      if (closed) return;
      try {
        if (errno) {
          const code = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
          handlers.onError(new NetlinkError('failed', source, `recv on the event socket: ${code}`, code));
        }
        if (overflow) handlers.onOverflow();
        if (bytes) for (const kind of changeKindsOf(bytes)) {
          if (closed) break;
          handlers.onChange(kind);
        }
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
    return true;
  })().catch((err: unknown) => {
    fail(err instanceof Error ? err : new Error(String(err)));
    return false;
  });

  return {
    ready,
    get inode() {
      return inode;
    },
    close() {
      if (closed) return;
      closed = true;
      if (handle) {
        loadNetlinkAddon().addon?.unwatch(handle);
        handle = null;
      }
    },
  };
}
