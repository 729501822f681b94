// Finds the haproxy deployments a load-balancer host has on disk, read-only, from the state
// directories the agents write (host-facts.md 1.2, 1.3, 2.1):
//   neutron-lbaas v1  <lbaasDir>/<pool_id>/{conf,pid,sock}                        ns qlbaas-<pool_id>
//   neutron-lbaas v2  <lbaasDir>/v2/<lb_id>/{haproxy.conf,haproxy.pid,haproxy_stats.sock}  ns qlbaas-<lb_id>
//   Octavia amphora   <octaviaDir>/<lb_id>/haproxy.cfg, <lb_id>/<lb_id>.pid, <octaviaDir>/<lb_id>.sock
//                                                                                 ns amphora-haproxy
// The directory name is the id: the agents themselves treat every directory in the state path
// as one (neutron-lbaas `remove_orphans()`), so a name that is not a UUID is not ours.
import type { Stats } from 'node:fs';
import { lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DiscoveryError, toDiscoveryError } from './errors.ts';
import { parseHaproxyConfig } from './haproxy-config.ts';
import type { HaproxyConfig } from './haproxy-config.ts';
import { isUuid, isValidPid } from './names.ts';
import { canonicalPath } from './haproxy-process.ts';
import { fileWorker } from './host-workers.ts';
import { CONFIG_FILE_LIMITS, PID_FILE_LIMITS, readRegularFile, readRegularFileHere } from './safe-file.ts';

export type LbaasLayout = 'v1' | 'v2' | 'octavia';

export interface LbaasDeployment {
  layout: LbaasLayout;
  /** The pool id (v1) or load balancer id (v2, Octavia from stein on; a listener id on rocky amphorae). */
  id: string;
  stateDir: string;
  configPath: string;
  /**
   * configPath made absolute and realpath()ed (symlinked or relative state dirs): what haproxy's
   * `-f`, canonicalised the same way, is compared with.
   */
  configRealPath?: string;
  pidPath: string;
  socketPath: string;
  /** Whether a unix socket file is at socketPath (not whether anything listens on it). */
  socketExists: boolean;
  /** The network namespace the haproxy should run in. */
  namespace: string;
  configMtimeMs: number | null;
  /** Every pid in the pid file (several while old processes drain after `-sf`); [] when there is none. */
  pids: number[];
  /** Why the pid file could not be read (other than being absent). */
  pidError: string | null;
  config: HaproxyConfig | null;
  /** Why config is null: the file is missing, unreadable or not a haproxy config. */
  configError: string | null;
}

export interface LbaasStateDirs {
  /** neutron-lbaas `loadbalancer_state_path`, normally /var/lib/neutron/lbaas. */
  lbaasDir?: string | null;
  /** Octavia `[haproxy_amphora] base_path`, normally /var/lib/octavia. */
  octaviaDir?: string | null;
  /** The namespace Octavia deployments run in (default amphora-haproxy). */
  amphoraNamespace?: string;
  /**
   * Dirs that must exist (set explicitly): a missing one is a failed look ('not-found'), never an
   * empty list. When none is required, at least one of the dirs must exist.
   */
  required?: { lbaas?: boolean; octavia?: boolean };
}

/**
 * A mistyped or unmounted state dir would otherwise read as "no pools" (and every qlbaas
 * namespace as an orphan): refuse to answer from a dir that is not there.
 */
function checkStateDirs(dirs: LbaasStateDirs): void {
  const given = [
    { setting: 'LBTOPO_LBAAS_DIR', dir: dirs.lbaasDir, required: dirs.required?.lbaas ?? false },
    { setting: 'LBTOPO_OCTAVIA_DIR', dir: dirs.octaviaDir, required: dirs.required?.octavia ?? false },
  ].filter((d): d is { setting: string; dir: string; required: boolean } => typeof d.dir === 'string' && d.dir !== '');
  const present = given.map((d) => {
    const info = statOrNull(d.dir);
    if (info && !info.isDirectory()) throw new DiscoveryError('io', d.dir, `${d.setting} is not a directory`);
    if (!info && d.required) throw new DiscoveryError('not-found', d.dir, `the state dir ${d.setting} names does not exist`);
    return info !== null;
  });
  if (given.length > 0 && !present.some(Boolean)) {
    throw new DiscoveryError('not-found', given.map((d) => d.dir), `no state dir exists (${given.map((d) => d.setting).join(', ')}): set the one this host uses`);
  }
}

const V2_DIR = 'v2';
const QLBAAS_PREFIX = 'qlbaas-';
const AMPHORA_NAMESPACE = 'amphora-haproxy';
/** The amphora agent passes this snippet as a second `-f`: it carries the `group` the main config lacks. */
const OCTAVIA_USER_GROUP_FILE = 'haproxy-default-user-group.conf';

/**
 * Reads every integer in a pid file (haproxy writes one per process, one a line). A missing
 * file is no pids; any other read failure throws a DiscoveryError.
 */
export async function readPidFile(path: string): Promise<number[]> {
  let text: string;
  try {
    // Without blocking (a FIFO), regular files only, a few KiB at most, within a deadline.
    text = (await readRegularFile(path, PID_FILE_LIMITS)).data.toString('utf8');
  } catch (error) {
    if (error instanceof DiscoveryError && error.kind === 'not-found') return [];
    throw toDiscoveryError(error, path);
  }
  return pidsIn(text);
}

/** readPidFile blocking the calling thread (the file worker). */
function readPidFileHere(path: string): number[] {
  let text: string;
  try {
    text = readRegularFileHere(path, PID_FILE_LIMITS).data.toString('utf8');
  } catch (error) {
    if (error instanceof DiscoveryError && error.kind === 'not-found') return [];
    throw toDiscoveryError(error, path);
  }
  return pidsIn(text);
}

function pidsIn(text: string): number[] {
  const pids: number[] = [];
  for (const word of text.split(/\s+/)) {
    if (!/^\d+$/.test(word)) continue;
    const pid = Number(word);
    if (isValidPid(pid) && !pids.includes(pid)) pids.push(pid);
  }
  return pids;
}

/**
 * Lists the v1, v2 and Octavia deployments under the given state directories, sorted by id. The
 * reading (hundreds of small files) and the config parsing run in the file worker; a job that
 * blocks past timeoutMs (a hung filesystem) fails as 'timeout'.
 */
export function listLbaasDeployments(dirs: LbaasStateDirs, timeoutMs = 10_000): Promise<LbaasDeployment[]> {
  return fileWorker.run('lbaas-list', [dirs], [dirs.lbaasDir, dirs.octaviaDir].filter(Boolean).join(' ') || 'state dirs', timeoutMs);
}

/** listLbaasDeployments in the calling thread, blocking it: for the file worker only. */
export function listLbaasDeploymentsHere(dirs: LbaasStateDirs): LbaasDeployment[] {
  checkStateDirs(dirs);
  const found: LbaasDeployment[] = [];

  if (dirs.lbaasDir) {
    const lbaasDir = dirs.lbaasDir;
    for (const name of listDirectories(lbaasDir)) {
      if (name === V2_DIR) {
        for (const lbId of listDirectories(join(lbaasDir, V2_DIR))) {
          if (!isUuid(lbId)) continue;
          const stateDir = join(lbaasDir, V2_DIR, lbId);
          found.push(
            describe(
              {
                layout: 'v2',
                id: lbId,
                stateDir,
                configPath: join(stateDir, 'haproxy.conf'),
                pidPath: join(stateDir, 'haproxy.pid'),
                socketPath: join(stateDir, 'haproxy_stats.sock'),
                namespace: QLBAAS_PREFIX + lbId,
              },
              null,
            ),
          );
        }
      } else if (isUuid(name)) {
        const stateDir = join(lbaasDir, name);
        found.push(
          describe(
            {
              layout: 'v1',
              id: name,
              stateDir,
              configPath: join(stateDir, 'conf'),
              pidPath: join(stateDir, 'pid'),
              socketPath: join(stateDir, 'sock'),
              namespace: QLBAAS_PREFIX + name,
            },
            null,
          ),
        );
      }
    }
  }

  if (dirs.octaviaDir) {
    const octaviaDir = dirs.octaviaDir;
    const userGroupPath = join(octaviaDir, OCTAVIA_USER_GROUP_FILE);
    for (const lbId of listDirectories(octaviaDir)) {
      if (!isUuid(lbId)) continue;
      const stateDir = join(octaviaDir, lbId);
      found.push(
        describe(
          {
            layout: 'octavia',
            id: lbId,
            stateDir,
            configPath: join(stateDir, 'haproxy.cfg'),
            pidPath: join(stateDir, `${lbId}.pid`),
            socketPath: join(octaviaDir, `${lbId}.sock`),
            namespace: dirs.amphoraNamespace ?? AMPHORA_NAMESPACE,
          },
          userGroupPath,
        ),
      );
    }
  }

  return found.sort((a, b) => compare(a.id, b.id) || compare(a.layout, b.layout));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Names of the directories in `dir` (symlinks followed); a missing directory has none. */
function listDirectories(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw toDiscoveryError(error, dir);
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (entry.isDirectory()) names.push(entry.name);
    else if (entry.isSymbolicLink() && statOrNull(join(dir, entry.name))?.isDirectory()) names.push(entry.name);
  }
  return names.sort();
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

type DeploymentPaths = Pick<LbaasDeployment, 'layout' | 'id' | 'stateDir' | 'configPath' | 'pidPath' | 'socketPath' | 'namespace'>;

function describe(paths: DeploymentPaths, userGroupPath: string | null): LbaasDeployment {
  const configRealPath = canonicalPath(paths.configPath, process.cwd());
  const configRead = readConfig(paths.configPath, userGroupPath, paths.stateDir);
  let pidRead: { pids: number[]; error: string | null };
  try {
    pidRead = { pids: readPidFileHere(paths.pidPath), error: null };
  } catch (error) {
    pidRead = { pids: [], error: toDiscoveryError(error, paths.pidPath).message };
  }
  let socketStat: Stats | null = null;
  try {
    socketStat = lstatSync(paths.socketPath);
  } catch {
    socketStat = null;
  }
  return {
    ...paths,
    configRealPath,
    socketExists: socketStat?.isSocket() ?? false,
    configMtimeMs: configRead.mtimeMs,
    pids: pidRead.pids,
    pidError: pidRead.error,
    config: configRead.config,
    configError: configRead.error,
  };
}

function readConfig(
  configPath: string,
  userGroupPath: string | null,
  stateDir: string,
): { config: HaproxyConfig | null; error: string | null; mtimeMs: number | null } {
  let mtimeMs: number | null = null;
  try {
    // Beyond CONFIG_FILE_LIMITS the config is CONFIG_UNREADABLE with the reason, never parsed.
    const { data, info } = readRegularFileHere(configPath, CONFIG_FILE_LIMITS);
    mtimeMs = info.mtimeMs;
    let config: HaproxyConfig;
    try {
      config = parseHaproxyConfig(data.toString('utf8'), { source: configPath });
    } catch (error) {
      const withheld = whyContentIsWithheld(configPath, info, stateDir);
      if (withheld) throw new DiscoveryError('parse', configPath, `not a haproxy config (its content is not shown: ${withheld})`);
      throw error;
    }
    if (userGroupPath) applyUserGroupSnippet(config, userGroupPath);
    return { config, error: null, mtimeMs };
  } catch (error) {
    return { config: null, error: toDiscoveryError(error, configPath).message, mtimeMs };
  }
}

/**
 * A parse error quotes the start of the file. That is fine for a config the agent wrote, and a
 * leak for anything else (a config symlinked to /etc/shadow would show its first line to any API
 * client): content may be quoted only from a file inside its state dir, owned by the state dir's
 * owner. Returns why not, or null when it may.
 */
function whyContentIsWithheld(path: string, info: Stats, stateDir: string): string | null {
  const realOrNull = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return null;
    }
  };
  const [realFile, realDir, dirInfo] = [realOrNull(path), realOrNull(stateDir), statOrNull(stateDir)];
  if (!realFile || !realDir || !dirInfo) return 'it could not be placed';
  if (!realFile.startsWith(`${realDir}/`)) return `it is ${realFile}, outside the state dir`;
  if (info.uid !== dirInfo.uid) return `it is owned by uid ${info.uid}, not by the state dir's owner (uid ${dirInfo.uid})`;
  return null;
}

/**
 * haproxy refuses a `group` given twice, which is why the agent strips it from haproxy.cfg: the
 * snippet's user/group can only fill what the main config lacks.
 */
function applyUserGroupSnippet(config: HaproxyConfig, snippetPath: string): void {
  let snippet: HaproxyConfig;
  try {
    snippet = parseHaproxyConfig(readRegularFileHere(snippetPath, CONFIG_FILE_LIMITS).data.toString('utf8'), { source: snippetPath });
  } catch {
    return; // The snippet is optional context; the deployment is described without it.
  }
  config.global.user ??= snippet.global.user;
  config.global.group ??= snippet.global.group;
}
