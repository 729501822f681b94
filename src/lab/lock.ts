// The machine-wide lab lock. Two ovs-vswitchd with netdev datapaths on one machine would both
// create `br-int` and `ovs-netdev` in the root namespace, so only one lab may exist at a time.
//
// The lock is a kernel flock(2) on /run/lbtopo-lab.lock, held by a `flock` process the lab starts
// (Node has no flock). flock(2) frees itself when its holder dies, so there is no pid-file race
// between two processes that both decide a lock is stale. The holder runs, while it holds the lock:
//   - `tail --pid=<owner pid> -f /dev/null` for a lab owned by this process: it exits soon after
//     the owner dies (even by SIGKILL), which frees the lock;
//   - `sleep infinity` for a lab that must outlive its maker (the CLI); only labDown() frees it.
// The file's content names the owner (pid, lab dir, holder pids): whoever takes a free lock whose
// content names a lab dir that still exists cleans that lab up first (it was left by a crash).
// The file itself is never removed or replaced: a new inode would be a second, separate lock.
import { readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { sleep } from './exec.ts';
import { identify, isAlive, processChildren, signalIdentity, stopProcess, waitForExit, type ProcessIdentity } from './proc.ts';

export const LAB_LOCK_PATH = '/run/lbtopo-lab.lock';

export interface LabLockOwner {
  /** The process that built the lab. */
  ownerPid: number;
  dir: string;
  /** The `flock` process: the lock is free once it is gone. */
  holder: ProcessIdentity;
  /** The command flock runs while it holds the lock. */
  holderChild: ProcessIdentity | null;
  outliveProcess: boolean;
  since: string;
}

export interface HeldLabLock {
  holder: ProcessIdentity;
  holderChild: ProcessIdentity;
  /** What the lock file said before we took it (the previous owner, possibly crashed). */
  previousOwner: LabLockOwner | null;
  /** Writes who owns the lock now into the lock file. */
  record(owner: Omit<LabLockOwner, 'holder' | 'holderChild' | 'since'>): void;
  /** Empties the lock file: the lab it named is gone (we hold the lock, so the content is ours). */
  clear(): void;
  release(): Promise<void>;
}

export interface AcquireOptions {
  outliveProcess: boolean;
  /** Give up after this long; 0 means try once without waiting. */
  timeoutMs: number;
}

/** Takes the lock, waiting up to timeoutMs. Returns null if it could not (busy with timeoutMs 0, or timed out). */
export async function acquireLabLock(options: AcquireOptions): Promise<HeldLabLock | null> {
  const command = options.outliveProcess ? ['sleep', 'infinity'] : ['tail', '-s', '0.5', `--pid=${process.pid}`, '-f', '/dev/null'];
  const waitArgs = options.timeoutMs <= 0 ? ['--nonblock'] : ['--timeout', String(Math.ceil(options.timeoutMs / 1000))];
  // --close: only the flock process holds the lock, so ending it (or its child, which it waits
  // for) frees the lock; detached + ignored stdio + unref so the holder never keeps us alive.
  // node's own spawn: execa 10's subprocess no longer has unref.
  const subprocess = spawn('flock', ['--exclusive', '--close', ...waitArgs, LAB_LOCK_PATH, ...command], { detached: true, stdio: 'ignore' });
  let exited = false;
  let startError: Error | undefined;
  subprocess.on('error', (error) => {
    startError = error;
    exited = true;
  });
  subprocess.on('exit', () => {
    exited = true;
  });
  subprocess.unref();
  const flockPid = subprocess.pid;
  if (flockPid === undefined) {
    await sleep(0);
    throw new Error(`flock could not be started: ${startError?.message ?? 'no pid'}`);
  }

  // If the CLI is interrupted while a detached holder waits, the holder must not win the lock later
  // for a lab that will never exist.
  const abandon = (): void => {
    try {
      process.kill(flockPid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    abandon();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  if (options.outliveProcess) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    const holder = identify(flockPid);
    for (;;) {
      // flock forks its command only once the lock is held.
      const childPid = processChildren(flockPid)[0];
      const holderChild = childPid === undefined ? null : identify(childPid);
      if (holder && holderChild) return makeHeldLock(holder, holderChild);
      if (exited || (holder && !isAlive(holder))) return null;
      await sleep(50);
    }
  } finally {
    if (options.outliveProcess) {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
  }
}

function makeHeldLock(holder: ProcessIdentity, holderChild: ProcessIdentity): HeldLabLock {
  const previousOwner = readLabLockOwner();
  return {
    holder,
    holderChild,
    previousOwner,
    record(owner) {
      const content: LabLockOwner = { ...owner, holder, holderChild, since: new Date().toISOString() };
      writeFileSync(LAB_LOCK_PATH, `${JSON.stringify(content)}\n`);
    },
    clear() {
      writeFileSync(LAB_LOCK_PATH, '');
    },
    async release() {
      clearLockOwner(holder);
      await stopHolder(holder, holderChild);
    },
  };
}

/** Ends a lock holder (ours or another process's, e.g. a CLI lab's), which frees the lock. */
export async function stopHolder(holder: ProcessIdentity, holderChild: ProcessIdentity | null): Promise<void> {
  // Ending the child lets flock exit on its own; then make sure flock is gone.
  if (holderChild) await stopProcess(holderChild, 'SIGTERM', 2000);
  if (!(await waitForExit(holder, 2000))) await stopProcess(holder, 'SIGKILL', 2000);
}

/** Empties the lock file if it still names this holder (the lock is about to be free). */
export function clearLockOwner(holder: ProcessIdentity): void {
  const current = readLabLockOwner();
  if (current && current.holder.pid === holder.pid && current.holder.startTime === holder.startTime) writeFileSync(LAB_LOCK_PATH, '');
}

export function readLabLockOwner(): LabLockOwner | null {
  try {
    const text = readFileSync(LAB_LOCK_PATH, 'utf8').trim();
    if (!text) return null;
    const owner = JSON.parse(text) as LabLockOwner;
    return typeof owner.dir === 'string' && owner.holder ? owner : null;
  } catch {
    return null;
  }
}

/** Whether the owner named in the lock file still holds it. */
export function isOwnerHolding(owner: LabLockOwner): boolean {
  return isAlive(owner.holder);
}

/** Leftover child of a dead holder (a `sleep infinity` whose flock was killed): end it. */
export function killOrphanHolderChild(owner: LabLockOwner): void {
  if (owner.holderChild && !isAlive(owner.holder)) signalIdentity(owner.holderChild, 'SIGKILL');
}
