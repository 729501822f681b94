// Processes from one scan of /proc, and which named network namespace each one lives in. Nothing
// is spawned: per process we read stat, status and cmdline and do two readlinks (exe, ns/net).
// The scan runs synchronously in the file worker (host-workers.ts: ~20 ms for 277 processes, where
// the same calls through the async fs API took 400 ms on a busy loop), never on the main thread.
// Processes come and go while we look; one that vanishes mid-scan is simply not in the result.
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { DiscoveryError, toDiscoveryError } from './errors.ts';
import { isValidPid } from './names.ts';
import { compareNames, listNamespaces } from './netns.ts';
import type { NamedNamespace } from './netns.ts';
import { haproxyIdentityOf } from './haproxy-process.ts';
import type { HaproxyIdentity } from './haproxy-process.ts';
import { fileWorker } from './host-workers.ts';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Kernel task name (at most 15 bytes), may contain spaces and parentheses. */
  comm: string;
  /** One letter: R, S, D, Z, T, t, X, I, … */
  state: string;
  /** Start time in clock ticks after boot (field 22 of /proc/PID/stat). */
  startTicks: number;
  /** Start time, epoch ms (boot time + startTicks / CLOCK_TICKS_PER_SECOND). */
  startedAt: number;
  /** Effective uid (what `ps -o user` shows). */
  uid: number;
  /** Name of uid in /etc/passwd, null when it has none. */
  user: string | null;
  /** Resident set size (VmRSS); 0 for kernel threads and zombies, which have no memory map. */
  rssBytes: number;
  /** Arguments; empty for kernel threads and zombies. */
  argv: string[];
  /** Target of /proc/PID/exe, null when unreadable (kernel threads, zombies, no permission). */
  exe: string | null;
  /** Inode of the process's network namespace (`net:[N]`), null when unreadable. */
  netnsInode: number | null;
  /** For a haproxy (argv[0] and exe both say so): what matched and its canonical config paths; else null. Absent in observations cached by older builds. */
  haproxy?: HaproxyIdentity | null;
}

export interface ProcScanOptions {
  /** Where proc is mounted (tests point it at a fake tree). */
  procRoot?: string;
  /** Where uids get their names. */
  passwdPath?: string;
  /** How long the file worker may take before the scan fails as 'timeout' (default 10 s). */
  timeoutMs?: number;
}

/**
 * USER_HZ, the unit of the tick fields in /proc. The kernel exports it as 100 on every
 * architecture Linux runs OpenStack on (x86, arm64, ppc64le, s390x), independent of CONFIG_HZ;
 * sysconf(_SC_CLK_TCK) would need a spawned `getconf`, which is what we avoid here.
 */
export const CLOCK_TICKS_PER_SECOND = 100;
const DEFAULT_PROC_ROOT = '/proc';
const DEFAULT_PASSWD = '/etc/passwd';

/** All processes (thread-group leaders, i.e. the numeric entries of /proc), sorted by pid. */
export function scanProcesses(options: ProcScanOptions = {}): Promise<ProcessInfo[]> {
  const { timeoutMs, ...where } = options;
  return fileWorker.run('proc-scan', [where], where.procRoot ?? DEFAULT_PROC_ROOT, timeoutMs);
}

/** One process, the same record as scanProcesses; null when there is no such process (now). */
export function readProcess(pid: number, options: ProcScanOptions = {}): Promise<ProcessInfo | null> {
  const { timeoutMs, ...where } = options;
  // Refused here, before any message: an invalid pid never reaches a path.
  if (!isValidPid(pid)) return Promise.reject(new DiscoveryError('invalid', join(where.procRoot ?? DEFAULT_PROC_ROOT, String(pid)), `not a valid pid: ${pid}`));
  return fileWorker.run('proc-read', [pid, where], join(where.procRoot ?? DEFAULT_PROC_ROOT, String(pid)), timeoutMs);
}

/** scanProcesses in the calling thread, blocking it: for the file worker only. */
export function scanProcessesHere(options: ProcScanOptions = {}): ProcessInfo[] {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch (err) {
    throw toDiscoveryError(err, procRoot);
  }
  const pids = entries.filter((e) => /^[1-9][0-9]*$/.test(e)).map(Number).sort((a, b) => a - b);
  const context = loadContext(procRoot, options.passwdPath ?? DEFAULT_PASSWD);
  const out: ProcessInfo[] = [];
  for (const pid of pids) {
    const process = readOneProcess(procRoot, pid, context);
    if (process) out.push(process);
  }
  return out;
}

/** readProcess in the calling thread, blocking it: for the file worker only. */
export function readProcessHere(pid: number, options: ProcScanOptions = {}): ProcessInfo | null {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  if (!isValidPid(pid)) throw new DiscoveryError('invalid', join(procRoot, String(pid)), `not a valid pid: ${pid}`);
  return readOneProcess(procRoot, pid, loadContext(procRoot, options.passwdPath ?? DEFAULT_PASSWD));
}

/**
 * pid → names of the named namespaces it is in (sorted; usually zero or one, several when two names
 * are bound to the same namespace). Every process of the list is a key; processes whose namespace
 * could not be read, or has no name (the host namespace, containers), get [].
 *
 * Comparison is by inode only, and that is exact here: nsfs is a single kernel superblock, so all
 * namespace files share one st_dev (4 on this machine, both for `stat -L /proc/PID/ns/net` and for
 * `stat /run/netns/NAME`); listNamespaces already dropped entries whose dev is not nsfs's (plain
 * files under /run/netns live on ext4, dev of /dev/vda, and their inode numbers could collide); and
 * the `net:[N]` readlink names an nsfs inode by construction, without a dev to compare.
 */
export function mapProcessesToNamespaces(
  processes: readonly ProcessInfo[],
  namespaces: readonly NamedNamespace[],
): Map<number, string[]> {
  const namesByInode = new Map<number, string[]>();
  for (const ns of namespaces) {
    const names = namesByInode.get(ns.inode) ?? [];
    names.push(ns.name);
    namesByInode.set(ns.inode, names);
  }
  for (const names of namesByInode.values()) names.sort(compareNames);
  const byPid = new Map<number, string[]>();
  for (const process of processes) {
    const names = process.netnsInode === null ? undefined : namesByInode.get(process.netnsInode);
    byPid.set(process.pid, names ? [...names] : []);
  }
  return byPid;
}

export interface IdentifyOptions {
  procRoot?: string;
  netnsDir?: string;
}

/**
 * The names of the process's network namespace, sorted: every name whose bind mount is the same
 * namespace. Like `ip netns identify PID`, we stat (follow) /proc/PID/ns/net afresh and compare
 * st_dev + st_ino, so the answer reflects the process now, not an earlier scan. Without
 * `namespaces` the list is read afresh too. An invalid pid is refused ('invalid') before any file
 * is touched; a process that does not exist (or died) is 'gone'.
 *
 * Where this differs from ip: when several names are bound to one namespace (`ip netns attach`),
 * iproute2 6.1 prints only ONE, the last match in readdir order (netns_identify_pid() strlcpy()s
 * each match over the previous one into a single buffer), and it prints an empty line when there
 * is none. We return all of them; ip's answer is always one of ours.
 */
export async function identify(
  pid: number,
  namespaces?: readonly NamedNamespace[],
  options: IdentifyOptions = {},
): Promise<string[]> {
  const path = join(options.procRoot ?? DEFAULT_PROC_ROOT, String(pid), 'ns', 'net');
  if (!isValidPid(pid)) throw new DiscoveryError('invalid', path, `not a valid pid: ${pid}`);
  let nsStat;
  try {
    nsStat = await stat(path);
  } catch (err) {
    if (isVanished(err)) throw new DiscoveryError('gone', path, `no process ${pid}`);
    throw toDiscoveryError(err, path);
  }
  const candidates = namespaces ?? (await listNamespaces(options.netnsDir));
  return candidates
    .filter((ns) => ns.inode === nsStat.ino && ns.dev === nsStat.dev)
    .map((ns) => ns.name)
    .sort(compareNames);
}

// ---------------------------------------------------------------------------------------------
// Pure parsers (exported for unit tests)

const procStatSchema = z.object({
  pid: z.number().int().positive(),
  comm: z.string(),
  state: z.string().length(1),
  ppid: z.number().int().nonnegative(),
  startTicks: z.number().int().nonnegative(),
});
export type ProcStat = z.infer<typeof procStatSchema>;

/**
 * /proc/PID/stat: `pid (comm) state ppid … starttime(22) …`. comm is copied raw and may contain
 * spaces and ')' (a program named `a) b` gives `12 (a) b) S 1 …`), so comm runs from the first '('
 * to the LAST ')', and the numeric fields are counted from there.
 */
export function parseProcStat(text: string, source = 'stat'): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new DiscoveryError('parse', source, 'no "(comm)" in stat line');
  // After ')' come fields 3.. (state is field 3), so field N is at index N - 3.
  const fields = text.slice(close + 1).trim().split(/\s+/);
  const candidate = {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: fields[0] ?? '',
    ppid: Number(fields[4 - 3]),
    startTicks: Number(fields[22 - 3]),
  };
  const parsed = procStatSchema.safeParse(candidate);
  if (!parsed.success) throw new DiscoveryError('parse', source, `unexpected stat line: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

const procStatusSchema = z.object({
  uid: z.number().int().nonnegative(),
  rssBytes: z.number().int().nonnegative(),
});
export type ProcStatus = z.infer<typeof procStatusSchema>;

/** /proc/PID/status: effective uid (second column of `Uid:`) and VmRSS (kB; absent for kernel threads). */
export function parseProcStatus(text: string, source = 'status'): ProcStatus {
  const uidLine = /^Uid:\s+(\d+)\s+(\d+)/m.exec(text);
  const rssLine = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  const parsed = procStatusSchema.safeParse({
    uid: uidLine ? Number(uidLine[2]) : NaN,
    rssBytes: rssLine ? Number(rssLine[1]) * 1024 : 0,
  });
  if (!parsed.success) throw new DiscoveryError('parse', source, `unexpected status: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** /proc/PID/cmdline: NUL-terminated arguments; the final NUL is dropped, inner empty arguments kept. */
export function parseCmdline(data: Buffer | string): string[] {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  if (text === '') return [];
  const parts = text.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** `net:[4026531840]` → 4026531840; anything else → null. */
export function parseNetnsLink(link: string): number | null {
  const match = /^net:\[(\d+)\]$/.exec(link.trim());
  return match ? Number(match[1]) : null;
}

/** /proc/stat `btime` (seconds since the epoch at boot). */
export function parseBootTime(text: string, source = 'stat'): number {
  const match = /^btime\s+(\d+)$/m.exec(text);
  const parsed = z.number().int().positive().safeParse(match ? Number(match[1]) : NaN);
  if (!parsed.success) throw new DiscoveryError('parse', source, 'no btime line');
  return parsed.data;
}

/** /etc/passwd → uid → first name with that uid (as getpwuid would answer). */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split('\n')) {
    const [name, , uidText] = line.split(':');
    if (!name || uidText === undefined || !/^\d+$/.test(uidText)) continue;
    const uid = Number(uidText);
    if (!users.has(uid)) users.set(uid, name);
  }
  return users;
}

// ---------------------------------------------------------------------------------------------

interface ScanContext {
  bootTimeMs: number;
  users: Map<number, string>;
}

// Boot time never changes while we run: read /proc/stat once per proc root.
const bootTimeCache = new Map<string, number>();

function loadContext(procRoot: string, passwdPath: string): ScanContext {
  let bootTimeSeconds = bootTimeCache.get(procRoot);
  if (bootTimeSeconds === undefined) {
    const path = join(procRoot, 'stat');
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw toDiscoveryError(err, path);
    }
    bootTimeSeconds = parseBootTime(text, path);
    bootTimeCache.set(procRoot, bootTimeSeconds);
  }
  // Users can be added while we run, so the passwd file is read once per scan, not once ever.
  let users = new Map<number, string>();
  try {
    users = parsePasswd(readFileSync(passwdPath, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw toDiscoveryError(err, passwdPath);
  }
  return { bootTimeMs: bootTimeSeconds * 1000, users };
}

/** ENOENT: the /proc/PID dir is gone; ESRCH: the task exited while the file was being read. */
function isVanished(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ESRCH';
}

const VANISHED = Symbol('vanished');

function readOrVanished(path: string): Buffer | typeof VANISHED {
  try {
    return readProcFile(path);
  } catch (err) {
    if (isVanished(err)) return VANISHED;
    throw toDiscoveryError(err, path);
  }
}

/**
 * Reads a /proc file: open, read until a 0-byte read, close. readFileSync would also fstat (size
 * 0 on /proc, so useless). Such a read can block in the kernel while the process holds its mmap
 * lock (a process stuck in D state): that stalls the file worker, never the main loop, and the
 * worker is replaced when its request times out.
 */
function readProcFile(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const buffer = Buffer.allocUnsafe(4096);
      const bytesRead = readSync(fd, buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
    }
    return chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

/** A readlink that may fail for a living process (kernel threads have no exe; EACCES for others). */
function readlinkSoft(path: string): { target: string | null; vanished: boolean } {
  try {
    return { target: readlinkSync(path), vanished: false };
  } catch (err) {
    return { target: null, vanished: isVanished(err) };
  }
}

function readOneProcess(procRoot: string, pid: number, context: ScanContext): ProcessInfo | null {
  const dir = join(procRoot, String(pid));
  const statPath = join(dir, 'stat');
  const statData = readOrVanished(statPath);
  if (statData === VANISHED) return null;
  const statusData = readOrVanished(join(dir, 'status'));
  if (statusData === VANISHED) return null;
  const cmdlineData = readOrVanished(join(dir, 'cmdline'));
  if (cmdlineData === VANISHED) return null;
  const exeLink = readlinkSoft(join(dir, 'exe'));
  const netLink = readlinkSoft(join(dir, 'ns', 'net'));
  // exe is ENOENT for every kernel thread, so ENOENT on a link alone does not mean the process
  // died; it did if its directory is gone now.
  if ((exeLink.vanished || netLink.vanished) && !exists(dir)) return null;
  const procStat = parseProcStat(statData.toString('utf8'), statPath);
  const status = parseProcStatus(statusData.toString('utf8'), join(dir, 'status'));
  const argv = parseCmdline(cmdlineData);
  return {
    pid,
    ppid: procStat.ppid,
    comm: procStat.comm,
    state: procStat.state,
    startTicks: procStat.startTicks,
    startedAt: Math.round(context.bootTimeMs + (procStat.startTicks * 1000) / CLOCK_TICKS_PER_SECOND),
    uid: status.uid,
    user: context.users.get(status.uid) ?? null,
    rssBytes: status.rssBytes,
    argv,
    exe: exeLink.target,
    netnsInode: netLink.target === null ? null : parseNetnsLink(netLink.target),
    haproxy: procStat.state === 'Z' ? null : haproxyIdentityOf(dir, argv, exeLink.target, procStat.comm),
  };
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
