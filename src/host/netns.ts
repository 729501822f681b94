// Named network namespaces: the bind mounts under /run/netns that `ip netns add` (and Neutron,
// Octavia, OVN metadata agents) create. Listing them is a readdir plus one stat per entry; no
// process is spawned, so it stays cheap with hundreds of namespaces.
import { statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { toDiscoveryError } from './errors.ts';
import { isUuid, isValidNamespaceName } from './names.ts';

export const DEFAULT_NETNS_DIR = '/run/netns';

/** What created a namespace, judged from its name (the OpenStack agents use fixed prefixes). */
export type NamespaceKind =
  | 'qlbaas' // neutron-lbaas haproxy namespace driver: qlbaas-<loadbalancer id>
  | 'qrouter' // neutron L3 agent router
  | 'qdhcp' // neutron DHCP agent, one per network
  | 'snat' // DVR centralised SNAT
  | 'fip' // DVR floating-IP namespace, one per external network
  | 'ovnmeta' // OVN metadata agent, one per network
  | 'amphora-haproxy' // inside an Octavia amphora (a fixed name, no id)
  | 'other';

export interface NamespaceClassification {
  kind: NamespaceKind;
  /** The id after the prefix, only when it is a well-formed (lowercase) UUID. */
  uuid: string | null;
}

export interface NamedNamespace {
  name: string;
  /** Path of the bind mount, e.g. /run/netns/qlbaas-<id>. */
  path: string;
  /** nsfs inode number: equal to the N of `net:[N]` in /proc/PID/ns/net for processes inside it. */
  inode: number;
  /** st_dev of the nsfs mount (the same for every namespace on one kernel). */
  dev: number;
  kind: NamespaceKind;
  uuid: string | null;
}

const PREFIXED_KINDS = ['qlbaas', 'qrouter', 'qdhcp', 'snat', 'fip', 'ovnmeta'] as const;

/**
 * Kind from the name. `<prefix>-<tail>` gets the prefix's kind even when the tail is not a UUID
 * (an agent bug or a hand-made namespace is still most likely that agent's kind, and hiding it as
 * 'other' would lose that); the uuid is given only when the tail is a valid UUID, so callers can
 * trust it as an id to look up. `amphora-haproxy` is an exact name; anything else is 'other'.
 */
export function classifyNamespace(name: string, amphoraNamespace = 'amphora-haproxy'): NamespaceClassification {
  // The amphora namespace's name is configurable (LBTOPO_AMPHORA_NAMESPACE), e.g. for a lab pair.
  if (name === 'amphora-haproxy' || name === amphoraNamespace) return { kind: 'amphora-haproxy', uuid: null };
  for (const prefix of PREFIXED_KINDS) {
    if (name.startsWith(`${prefix}-`)) {
      const tail = name.slice(prefix.length + 1);
      return { kind: prefix, uuid: isUuid(tail) ? tail : null };
    }
  }
  return { kind: 'other', uuid: null };
}

/**
 * Every named namespace under netnsDir, sorted by name. Entries that are not nsfs mounts are
 * skipped: `ip netns add` first creates an empty file and then bind-mounts the namespace on it,
 * and `ip netns del` unmounts before unlinking, so a plain file is a namespace being made or
 * removed (or a leftover of a crash), not a namespace one can enter. An entry that vanishes between
 * readdir and stat is skipped too. A missing directory means no namespace was ever named: [].
 */
export async function listNamespaces(netnsDir: string = DEFAULT_NETNS_DIR, amphoraNamespace?: string): Promise<NamedNamespace[]> {
  let entries: string[];
  try {
    entries = await readdir(netnsDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw toDiscoveryError(err, netnsDir);
  }
  const nsfsDev = await nsfsDevice();
  const names = entries.filter(isValidNamespaceName).sort(compareNames);
  // One synchronous stat per entry, as namespaceInodeNow does: a stat of a mount point under /run
  // does not block, and 200 of them through the thread pool took 50-130 ms of a busy loop (1 ms so).
  const found: NamedNamespace[] = [];
  for (const name of names) {
    const path = join(netnsDir, name);
    let info;
    try {
      info = statSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Gone between readdir and stat, or a mount point whose namespace was torn down.
      if (code === 'ENOENT' || code === 'EINVAL' || code === 'ESTALE') continue;
      throw toDiscoveryError(err, path);
    }
    // A mounted namespace shows the nsfs inode through the bind mount; a plain file shows the
    // inode of the directory's own filesystem (ext4/tmpfs here), whose st_dev differs.
    if (!info.isFile() || info.dev !== nsfsDev) continue;
    found.push({ name, path, inode: info.ino, dev: info.dev, ...classifyNamespace(name, amphoraNamespace) });
  }
  return found;
}

/** Plain code-point order, so the order does not depend on the locale. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The inode of the mounted namespace `name` in netnsDir, now (one stat, synchronous: a stat of a
 * mount point under /run does not block); null when it is missing or not a namespace (a plain
 * file); undefined when it cannot be told (EACCES...), and the caller looks and reports why.
 */
export function namespaceInodeNow(netnsDir: string, name: string): number | null | undefined {
  if (!isValidNamespaceName(name)) return undefined;
  try {
    return namespaceFileInodeNow(join(netnsDir, name));
  } catch {
    return undefined;
  }
}

/**
 * The nsfs inode of a namespace file (one synchronous stat), or null when it is missing or not a
 * mounted namespace (a plain file). Other stat failures (EACCES...) throw.
 */
export function namespaceFileInodeNow(path: string): number | null {
  cachedNsfsDev ??= statSync('/proc/self/ns/net').dev;
  const info = statSync(path, { throwIfNoEntry: false });
  return info && info.isFile() && info.dev === cachedNsfsDev ? info.ino : null;
}

let cachedNsfsDev: number | undefined;

/**
 * st_dev of nsfs. nsfs is one kernel-internal superblock, so every namespace file (whether reached
 * through /proc/PID/ns/* or a bind mount) has this dev; here it is 4. Found once from our own
 * /proc/self/ns/net, which is always readable by ourselves.
 */
export async function nsfsDevice(): Promise<number> {
  if (cachedNsfsDev === undefined) {
    try {
      cachedNsfsDev = (await stat('/proc/self/ns/net')).dev;
    } catch (err) {
      throw toDiscoveryError(err, '/proc/self/ns/net');
    }
  }
  return cachedNsfsDev;
}
