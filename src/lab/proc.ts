// Process identity and namespace membership, read straight from /proc. A pid alone is not an
// identity (pids are reused), so the lab records each process's start time (field 22 of
// /proc/PID/stat) and only ever signals a pid whose start time still matches.
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { sleep } from './exec.ts';

export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot (/proc/PID/stat field 22). */
  startTime: number;
}

interface ProcStat {
  state: string;
  ppid: number;
  startTime: number;
}

/** Parses /proc/PID/stat; comm (field 2) may hold spaces and parentheses, so split after the last ')'. */
function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  const state = fields[0];
  const ppid = Number(fields[1]);
  const startTime = Number(fields[19]);
  if (!state || !Number.isFinite(startTime)) return null;
  return { state, ppid, startTime };
}

/**
 * The start time of a running process, or null when it is gone. A zombie leader is gone only once
 * its other threads are: SIGKILLed multi-threaded haproxy shows `Z` while a thread still holds its
 * sockets (a connect to its stats socket then gets ECONNRESET instead of ECONNREFUSED).
 */
export function processStartTime(pid: number): number | null {
  const stat = readProcStat(pid);
  if (!stat) return null;
  if ((stat.state === 'Z' || stat.state === 'X') && threadCount(pid) <= 1) return null;
  return stat.startTime;
}

function threadCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
}

export function identify(pid: number): ProcessIdentity | null {
  const startTime = processStartTime(pid);
  return startTime === null ? null : { pid, startTime };
}

/**
 * True while the process runs. A (fully exited) zombie counts as gone: daemons re-parent to pid 1,
 * which on this machine reaps lazily, so /proc/PID can linger as `Z` for a while after the process died.
 */
export function isAlive(identity: ProcessIdentity): boolean {
  return processStartTime(identity.pid) === identity.startTime;
}

export function isPidAlive(pid: number): boolean {
  return processStartTime(pid) !== null;
}

/** Sends a signal only if the pid still belongs to the same process. Returns whether it was sent. */
export function signalIdentity(identity: ProcessIdentity, signal: NodeJS.Signals): boolean {
  if (!isAlive(identity)) return false;
  try {
    process.kill(identity.pid, signal);
    return true;
  } catch {
    return false;
  }
}

export async function waitForExit(identity: ProcessIdentity, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(identity)) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

/** SIGTERM (or the given signal), then SIGKILL if it does not go within graceMs. */
export async function stopProcess(identity: ProcessIdentity, signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
  if (!signalIdentity(identity, signal)) return;
  if (await waitForExit(identity, graceMs)) return;
  signalIdentity(identity, 'SIGKILL');
  await waitForExit(identity, 2000);
}

export function processCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part.length > 0);
  } catch {
    return [];
  }
}

/** Children of a process (needs CONFIG_PROC_CHILDREN, present on Debian kernels). */
export function processChildren(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

let bootTimeSeconds: number | undefined;
/** USER_HZ is 100 on every mainstream Linux ABI; /proc/stat btime is whole seconds. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Wall-clock start of a process in epoch ms (to within btime's one-second resolution). */
export function processStartEpochMs(identity: ProcessIdentity): number {
  if (bootTimeSeconds === undefined) {
    const match = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    bootTimeSeconds = match ? Number(match[1]) : 0;
  }
  return bootTimeSeconds * 1000 + (identity.startTime * 1000) / CLOCK_TICKS_PER_SECOND;
}

export const NETNS_DIR = '/run/netns';

/** Inode of a named network namespace (the nsfs inode that /proc/PID/ns/net links to), or null. */
export function namespaceInode(name: string): number | null {
  try {
    return statSync(`${NETNS_DIR}/${name}`).ino;
  } catch {
    return null;
  }
}

/** Inode of a process's network namespace from the `net:[N]` link, or null if it is gone. */
export function processNamespaceInode(pid: number): number | null {
  try {
    const match = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/net`));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Every live process whose network namespace is one of `names`, keyed by namespace name. */
export function processesInNamespaces(names: readonly string[]): Map<string, ProcessIdentity[]> {
  const byInode = new Map<number, string>();
  for (const name of names) {
    const inode = namespaceInode(name);
    if (inode !== null) byInode.set(inode, name);
  }
  const found = new Map<string, ProcessIdentity[]>();
  if (byInode.size === 0) return found;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const inode = processNamespaceInode(pid);
    const name = inode === null ? undefined : byInode.get(inode);
    if (name === undefined) continue;
    const identity = identify(pid);
    if (!identity) continue;
    const list = found.get(name) ?? [];
    list.push(identity);
    found.set(name, list);
  }
  return found;
}

/** Reads a pid file (first line); null when missing or not a number. */
export function readPidFile(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
