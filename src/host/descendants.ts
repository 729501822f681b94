// Finding and ending everything a timed-out command started, including what left its process
// group. A process group kill misses a grandchild that called setsid (a new session is a new
// group), and a double fork also breaks the ppid chain (the grandchild is reparented to init),
// so neither the group nor a walk of ppids finds it. Two marks survive both:
//   - the environment: every command runs with LBTOPO_COMMAND_RUN=<unique id>, which children
//     inherit through fork, setsid and exec unless they clear their environment on purpose;
//   - the pipes: a process keeping us waiting holds the command's end of its stdout or stderr
//     (libuv makes them socketpairs, so our end has another inode: the command's end is read
//     from /proc/PID/fd/1 and 2 right after the spawn, two readlinks).
// The scan of /proc runs only when a command times out.
// This host has cgroup v1 (tmpfs /sys/fs/cgroup) and no writable cgroup v2 tree, and Node cannot
// call prctl(PR_SET_CHILD_SUBREAPER) without an addon: the marks work on any Linux with /proc.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export const RUN_MARK_VARIABLE = 'LBTOPO_COMMAND_RUN';

function pids(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) if (/^\d+$/.test(name)) out.push(Number(name));
  return out;
}

/** True when /proc/PID/environ holds exactly VAR=value (environ is NUL-separated). */
function hasMark(pid: number, mark: string): boolean {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`);
    const needle = Buffer.from(`${RUN_MARK_VARIABLE}=${mark}\0`);
    const at = environ.indexOf(needle);
    return at === 0 || (at > 0 && environ[at - 1] === 0);
  } catch {
    return false; // gone, or not ours to read
  }
}

function holdsPipe(pid: number, pipes: ReadonlySet<string>): boolean {
  if (pipes.size === 0) return false;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (pipes.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** The pipe:[inode] or socket:[inode] names of a just-spawned process's stdout and stderr. */
export function outputPipesOf(pid: number | undefined): Set<string> {
  const pipes = new Set<string>();
  if (!pid) return pipes;
  for (const fd of [1, 2]) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith('pipe:') || target.startsWith('socket:')) pipes.add(target);
    } catch {
      // already gone: it cannot have left anything behind holding them but its children, which the mark finds
    }
  }
  return pipes;
}

/**
 * SIGKILLs every process (other than ourselves) carrying the run's mark or holding one of its
 * pipes, repeating while new ones appear (a process may fork while we scan). Returns the pids killed.
 */
export function killMarkedProcesses(mark: string, pipes: ReadonlySet<string>): number[] {
  const killed = new Set<number>();
  for (let round = 0; round < 5; round++) {
    let found = 0;
    for (const pid of pids()) {
      if (pid === process.pid || killed.has(pid)) continue;
      if (!hasMark(pid, mark) && !holdsPipe(pid, pipes)) continue;
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
        found++;
      } catch {
        // already gone
      }
    }
    if (found === 0) break;
  }
  return [...killed];
}
