// Finds the haproxy deployments a load-balancer host has on disk, read-only, from the state
// directories the agents write (host-facts.md 1.2, 1.3, 2.1):
//   neutron-lbaas v1  <lbaasDir>/<pool_id>/{conf,pid,sock}                        ns qlbaas-<pool_id>
//   neutron-lbaas v2  <lbaasDir>/v2/<lb_id>/{haproxy.conf,haproxy.pid,haproxy_stats.sock}  ns qlbaas-<lb_id>
//   Octavia amphora   <octaviaDir>/<lb_id>/haproxy.cfg, <lb_id>/<lb_id>.pid, <octaviaDir>/<lb_id>.sock
//                                                                                 ns amphora-haproxy
// The directory name is the id: the agents themselves treat every directory in the state path
// as one (neutron-lbaas `remove_orphans()`), so a name that is not a UUID is not ours.
import type { Stats } from 'node:fs';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DiscoveryError, toDiscoveryError } from './errors.ts';
import { parseHaproxyConfig } from './haproxy-config.ts';
import type { HaproxyConfig } from './haproxy-config.ts';
import { isUuid, isValidPid } from './names.ts';

export type LbaasLayout = 'v1' | 'v2' | 'octavia';

export interface LbaasDeployment {
  layout: LbaasLayout;
  /** The pool id (v1) or load balancer id (v2, Octavia from stein on; a listener id on rocky amphorae). */
  id: string;
  stateDir: string;
  configPath: string;
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
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw toDiscoveryError(error, path);
  }
  const pids: number[] = [];
  for (const word of text.split(/\s+/)) {
    if (!/^\d+$/.test(word)) continue;
    const pid = Number(word);
    if (isValidPid(pid) && !pids.includes(pid)) pids.push(pid);
  }
  return pids;
}

/** Lists the v1, v2 and Octavia deployments under the given state directories, sorted by id. */
export async function listLbaasDeployments(dirs: LbaasStateDirs): Promise<LbaasDeployment[]> {
  const found: Array<Promise<LbaasDeployment>> = [];

  if (dirs.lbaasDir) {
    const lbaasDir = dirs.lbaasDir;
    for (const name of await listDirectories(lbaasDir)) {
      if (name === V2_DIR) {
        for (const lbId of await listDirectories(join(lbaasDir, V2_DIR))) {
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
    for (const lbId of await listDirectories(octaviaDir)) {
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

  const deployments = await Promise.all(found);
  return deployments.sort((a, b) => compare(a.id, b.id) || compare(a.layout, b.layout));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Names of the directories in `dir` (symlinks followed); a missing directory has none. */
async function listDirectories(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw toDiscoveryError(error, dir);
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (entry.isDirectory()) names.push(entry.name);
    else if (entry.isSymbolicLink() && (await statOrNull(join(dir, entry.name)))?.isDirectory()) names.push(entry.name);
  }
  return names.sort();
}

async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await stat(path);
  } catch {
    return null;
  }
}

type DeploymentPaths = Pick<LbaasDeployment, 'layout' | 'id' | 'stateDir' | 'configPath' | 'pidPath' | 'socketPath' | 'namespace'>;

async function describe(paths: DeploymentPaths, userGroupPath: string | null): Promise<LbaasDeployment> {
  const [configRead, pidRead, socketStat] = await Promise.all([
    readConfig(paths.configPath, userGroupPath),
    readPidFile(paths.pidPath).then(
      (pids) => ({ pids, error: null }),
      (error: unknown) => ({ pids: [] as number[], error: toDiscoveryError(error, paths.pidPath).message }),
    ),
    lstat(paths.socketPath).catch(() => null),
  ]);
  return {
    ...paths,
    socketExists: socketStat?.isSocket() ?? false,
    configMtimeMs: configRead.mtimeMs,
    pids: pidRead.pids,
    pidError: pidRead.error,
    config: configRead.config,
    configError: configRead.error,
  };
}

async function readConfig(
  configPath: string,
  userGroupPath: string | null,
): Promise<{ config: HaproxyConfig | null; error: string | null; mtimeMs: number | null }> {
  let mtimeMs: number | null = null;
  try {
    const info = await stat(configPath);
    mtimeMs = info.mtimeMs;
    if (!info.isFile()) throw new DiscoveryError('io', configPath, 'not a regular file');
    const config = parseHaproxyConfig(await readFile(configPath, 'utf8'), { source: configPath });
    if (userGroupPath) await applyUserGroupSnippet(config, userGroupPath);
    return { config, error: null, mtimeMs };
  } catch (error) {
    return { config: null, error: toDiscoveryError(error, configPath).message, mtimeMs };
  }
}

/**
 * haproxy refuses a `group` given twice, which is why the agent strips it from haproxy.cfg: the
 * snippet's user/group can only fill what the main config lacks.
 */
async function applyUserGroupSnippet(config: HaproxyConfig, snippetPath: string): Promise<void> {
  let snippet: HaproxyConfig;
  try {
    snippet = parseHaproxyConfig(await readFile(snippetPath, 'utf8'), { source: snippetPath });
  } catch {
    return; // The snippet is optional context; the deployment is described without it.
  }
  config.global.user ??= snippet.global.user;
  config.global.group ??= snippet.global.group;
}
