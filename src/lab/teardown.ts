// Undoing a lab from its manifest alone: after a clean down(), after a crash of its maker at any
// point of the build, and as many times as asked (every step skips what is already gone).
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tryRun } from './exec.ts';
import { readManifest, type LabManifest, type LabProcessRecord } from './manifest.ts';
import { ovsPaths, stopOvs, DATAPATH_DEVICES } from './ovs.ts';
import {
  NETNS_DIR,
  identify,
  isAlive,
  processCmdline,
  processesInNamespaces,
  readPidFile,
  signalIdentity,
  waitForExit,
  type ProcessIdentity,
} from './proc.ts';

export interface TeardownOptions {
  /**
   * Also delete br-int and ovs-netdev from the root namespace. Only when the caller holds the
   * machine lock (or the lock is this lab's): with another lab up, those devices are its own.
   */
  removeSharedDevices: boolean;
}

/** The live process a record stands for, if it still runs and is provably the lab's. */
function recordedProcess(record: LabProcessRecord, labDir: string): ProcessIdentity | null {
  if (record.pid !== null && record.startTime !== null) {
    const identity = { pid: record.pid, startTime: record.startTime };
    return isAlive(identity) ? identity : null;
  }
  // Crashed between start and record: trust the pid file only if the process names a lab path.
  if (record.pidFile) {
    const pid = readPidFile(record.pidFile);
    if (pid !== null && processCmdline(pid).some((arg) => arg.includes(labDir))) return identify(pid);
  }
  return null;
}

async function killAll(identities: readonly ProcessIdentity[]): Promise<void> {
  for (const identity of identities) signalIdentity(identity, 'SIGKILL');
  await Promise.all(identities.map((identity) => waitForExit(identity, 5000)));
}

/** Root-namespace devices that are tun/tap (what the netdev datapath makes); never anything else. */
function existingTapDevices(names: readonly string[]): string[] {
  return names.filter((name) => existsSync(`/sys/class/net/${name}/tun_flags`));
}

export async function teardownLab(dir: string, options: TeardownOptions): Promise<void> {
  const manifest = readManifest(dir);
  if (manifest) await undoManifest(manifest, options);
  else if (options.removeSharedDevices) await deleteRootDevices(DATAPATH_DEVICES);
  rmSync(dir, { recursive: true, force: true });
}

async function undoManifest(manifest: LabManifest, options: TeardownOptions): Promise<void> {
  const lab = manifest.dir;
  // 1. Processes the lab started (haproxy, member servers), then anything else living in a lab
  //    namespace: every lab namespace is the lab's own, so whatever runs there is too.
  const labProcesses = manifest.processes
    .filter((record) => record.role === 'haproxy' || record.role === 'haproxy-extra' || record.role === 'member-http' || record.role === 'keepalived')
    .map((record) => recordedProcess(record, lab))
    .filter((identity): identity is ProcessIdentity => identity !== null);
  await killAll(labProcesses);
  await killAll([...processesInNamespaces(manifest.namespaces).values()].flat());

  // 2. OVS: `exit --cleanup` removes every port's tap (also those inside namespaces), br-int and ovs-netdev.
  const paths = ovsPaths(manifest.ovsDir);
  const daemon = (role: 'ovsdb-server' | 'ovs-vswitchd'): ProcessIdentity | null => {
    const record = manifest.processes.find((candidate) => candidate.role === role);
    return record ? recordedProcess(record, lab) : null;
  };
  await stopOvs(paths, daemon('ovs-vswitchd'), daemon('ovsdb-server'));

  // 3. Namespaces.
  const namespaces = manifest.namespaces.filter((name) => existsSync(join(NETNS_DIR, name)));
  if (namespaces.length > 0) {
    await tryRun(['ip', '-force', '-batch', '-'], { input: namespaces.map((name) => `netns del ${name}\n`).join('') });
    // `ip netns del` refuses nothing, but be sure: a leftover one is retried alone.
    for (const name of namespaces.filter((candidate) => existsSync(join(NETNS_DIR, candidate)))) {
      await tryRun(['ip', 'netns', 'del', name]);
    }
  }

  // 4. Taps the netdev datapath leaves in the root namespace when vswitchd did not clean up (it crashed or was killed).
  await deleteRootDevices([...manifest.ovsPorts, ...(options.removeSharedDevices ? manifest.rootDevices : [])]);
}

async function deleteRootDevices(names: readonly string[]): Promise<void> {
  const devices = existingTapDevices(names);
  if (devices.length === 0) return;
  await tryRun(['ip', '-force', '-batch', '-'], { input: devices.map((name) => `link del dev ${name}\n`).join('') });
}

/** Lab dirs (those with a manifest) under a base dir. */
export function labDirsUnder(baseDir: string): string[] {
  if (!existsSync(baseDir)) return [];
  return readdirSync(baseDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(baseDir, entry.name));
}

