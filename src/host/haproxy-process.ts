// Which processes are haproxy, and which config files they run, as the kernel sees them.
//
// argv alone proves nothing: any local user can start `bash` with argv[0] = "haproxy" and
// "-f /var/lib/neutron/lbaas/<pool>/conf" after it, and a dead pool would look alive. So a process
// counts as haproxy when its argv[0] names haproxy AND /proc/PID/exe (the binary the kernel
// executed; a local user cannot fake it) does too. When exe cannot be read (lbtopo not root), comm
// (set by the kernel from the executed file's name) stands in, and `matched` says so.
//
// Config paths are compared canonically: haproxy's `-f` is taken as written (it may be relative to
// the cwd haproxy was started in, or go through a symlinked state dir), so each is resolved
// against /proc/PID/cwd and then realpath()ed; the pool side realpath()s its config path too.
import { readlinkSync, realpathSync } from 'node:fs';
import { join, isAbsolute, resolve } from 'node:path';

export interface HaproxyIdentity {
  /** What made it count as haproxy, e.g. "argv[0] haproxy, exe /usr/sbin/haproxy". */
  matched: string;
  /** The -f arguments as written. */
  givenConfigPaths: string[];
  /** Each -f resolved against the process's cwd and realpath()ed (or normalised, when the file is gone). */
  configPaths: string[];
  /** The -p argument as written. */
  pidFile: string | null;
}

const HAPROXY_PROGRAM = 'haproxy';

function baseName(path: string): string {
  return path.split('/').pop() ?? '';
}

/** The value following a flag in argv (`-f path`), for every occurrence. */
export function flagValues(argv: readonly string[], flag: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length - 1; i++) if (argv[i] === flag) out.push(argv[i + 1]!);
  return out;
}

/**
 * Why this process is haproxy, or null when it is not. exe of a binary replaced by a package
 * upgrade reads "/usr/sbin/haproxy (deleted)": still haproxy.
 */
export function recognizeHaproxy(argv: readonly string[], exe: string | null, comm: string): string | null {
  const program = argv[0] ? baseName(argv[0]) : '';
  if (program !== HAPROXY_PROGRAM) return null;
  if (exe !== null) {
    const exeName = baseName(exe.replace(/ \(deleted\)$/, ''));
    return exeName === HAPROXY_PROGRAM ? `argv[0] ${argv[0]}, exe ${exe}` : null;
  }
  return comm === HAPROXY_PROGRAM ? `argv[0] ${argv[0]}, comm ${comm} (exe unreadable)` : null;
}

/**
 * A path as the process meant it: relative ones against its cwd; then the real path when it
 * exists. Blocking: its callers (the /proc scan, the state dirs) run in the file worker.
 */
export function canonicalPath(path: string, cwd: string | null): string {
  const absolute = isAbsolute(path) ? path : cwd ? resolve(cwd, path) : null;
  if (absolute === null) return path; // relative with an unreadable cwd: cannot be placed
  try {
    return realpathSync(absolute);
  } catch {
    return resolve(absolute);
  }
}

/**
 * The haproxy identity of a process read from procDir (/proc/PID), or null when it is no haproxy.
 * Blocking: it is part of the /proc scan, which runs in the file worker.
 */
export function haproxyIdentityOf(procDir: string, argv: readonly string[], exe: string | null, comm: string): HaproxyIdentity | null {
  const matched = recognizeHaproxy(argv, exe, comm);
  if (matched === null) return null;
  const givenConfigPaths = flagValues(argv, '-f');
  let cwd: string | null = null;
  if (givenConfigPaths.some((p) => !isAbsolute(p))) {
    try {
      cwd = readlinkSync(join(procDir, 'cwd'));
    } catch {
      cwd = null;
    }
  }
  const configPaths = givenConfigPaths.map((p) => canonicalPath(p, cwd));
  return { matched, givenConfigPaths, configPaths, pidFile: flagValues(argv, '-p')[0] ?? null };
}
