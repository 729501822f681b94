// Open vSwitch in user space for one lab (lab-recipe.md): a private ovsdb-server with its own
// db.sock, an ovs-vswitchd on it, and br-int with the netdev datapath (no kernel module needed).
// OVS_RUNDIR/OVS_LOGDIR/OVS_DBDIR point at the lab's ovs/ dir so vswitchd puts its per-bridge
// sockets (br-int.mgmt, br-int.snoop) there instead of /var/run/openvswitch, which a system OVS
// would own.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, tryRun, waitFor, type LabCommandResult } from './exec.ts';
import { identify, readPidFile, stopProcess, waitForExit, type ProcessIdentity } from './proc.ts';

export const OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
export const BRIDGE = 'br-int';
/** Devices the netdev datapath makes in the root namespace. */
export const DATAPATH_DEVICES = ['ovs-netdev', BRIDGE];

export interface OvsPaths {
  dir: string;
  db: string;
  socket: string;
  ovsdbPidFile: string;
  vswitchdPidFile: string;
  ovsdbControl: string;
  vswitchdControl: string;
}

export function ovsPaths(dir: string): OvsPaths {
  return {
    dir,
    db: join(dir, 'conf.db'),
    socket: join(dir, 'db.sock'),
    ovsdbPidFile: join(dir, 'ovsdb-server.pid'),
    vswitchdPidFile: join(dir, 'vswitchd.pid'),
    ovsdbControl: join(dir, 'ovsdb.ctl'),
    vswitchdControl: join(dir, 'vswitchd.ctl'),
  };
}

export function ovsEnv(paths: OvsPaths): Record<string, string> {
  return { OVS_RUNDIR: paths.dir, OVS_LOGDIR: paths.dir, OVS_DBDIR: paths.dir };
}

/** ovs-vsctl against the lab's own database; one call may carry many `--`-separated commands. */
export function vsctl(paths: OvsPaths, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<LabCommandResult> {
  return run(['ovs-vsctl', `--db=unix:${paths.socket}`, '--timeout=60', ...args], {
    env: ovsEnv(paths),
    timeoutMs: options.timeoutMs ?? 90_000,
  });
}

export interface StartedOvs {
  ovsdb: ProcessIdentity;
  vswitchd: ProcessIdentity;
}

/**
 * Starts ovsdb-server, then ovs-vswitchd, then makes br-int. `beforeStart` is called with each
 * daemon's pid file before it starts (the manifest records it), `started` with its identity after.
 */
export async function startOvs(
  paths: OvsPaths,
  hooks: { beforeStart(role: 'ovsdb-server' | 'ovs-vswitchd', pidFile: string): void; started(role: 'ovsdb-server' | 'ovs-vswitchd', identity: ProcessIdentity): void },
): Promise<StartedOvs> {
  mkdirSync(paths.dir, { recursive: true });
  const env = ovsEnv(paths);
  await run(['ovsdb-tool', 'create', paths.db, OVS_SCHEMA], { env });
  hooks.beforeStart('ovsdb-server', paths.ovsdbPidFile);
  await run(
    [
      'ovsdb-server',
      paths.db,
      `--remote=punix:${paths.socket}`,
      `--pidfile=${paths.ovsdbPidFile}`,
      '--detach',
      `--log-file=${join(paths.dir, 'ovsdb.log')}`,
      `--unixctl=${paths.ovsdbControl}`,
    ],
    { env },
  );
  const ovsdb = daemonIdentity(paths.ovsdbPidFile, 'ovsdb-server');
  hooks.started('ovsdb-server', ovsdb);
  await run(['ovs-vsctl', `--db=unix:${paths.socket}`, '--no-wait', 'init'], { env });
  hooks.beforeStart('ovs-vswitchd', paths.vswitchdPidFile);
  await run(
    [
      'ovs-vswitchd',
      `unix:${paths.socket}`,
      `--pidfile=${paths.vswitchdPidFile}`,
      '--detach',
      `--log-file=${join(paths.dir, 'vswitchd.log')}`,
      `--unixctl=${paths.vswitchdControl}`,
    ],
    { env },
  );
  const vswitchd = daemonIdentity(paths.vswitchdPidFile, 'ovs-vswitchd');
  hooks.started('ovs-vswitchd', vswitchd);
  await vsctl(paths, ['add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, 'datapath_type=netdev']);
  return { ovsdb, vswitchd };
}

function daemonIdentity(pidFile: string, what: string): ProcessIdentity {
  // --detach returns only after the daemon wrote its pid file.
  const pid = readPidFile(pidFile);
  const identity = pid === null ? null : identify(pid);
  if (!identity) throw new Error(`${what} did not start (no live pid in ${pidFile})`);
  return identity;
}

/** Waits until each named device exists in the root namespace (an internal port's tap comes a moment after add-port). */
export async function waitForRootDevices(names: readonly string[], timeoutMs = 15_000): Promise<void> {
  await waitFor(`devices ${names.slice(0, 3).join(', ')}${names.length > 3 ? '…' : ''} in the root namespace`, timeoutMs, () =>
    names.every((name) => existsSync(`/sys/class/net/${name}`)) ? true : undefined,
  );
}

/**
 * Stops vswitchd with `exit --cleanup`, which deletes every port's device, br-int and ovs-netdev
 * (a plain SIGTERM leaves all the netdev taps behind, even inside namespaces), then ovsdb-server.
 * Identities come from the manifest so a reused pid is never signalled.
 */
export async function stopOvs(paths: OvsPaths, vswitchd: ProcessIdentity | null, ovsdb: ProcessIdentity | null): Promise<void> {
  if (vswitchd) {
    if (existsSync(paths.vswitchdControl)) {
      await tryRun(['ovs-appctl', '-t', paths.vswitchdControl, 'exit', '--cleanup'], { timeoutMs: 30_000, env: ovsEnv(paths) });
    }
    if (!(await waitForExit(vswitchd, 15_000))) await stopProcess(vswitchd, 'SIGKILL');
  }
  if (ovsdb) await stopProcess(ovsdb, 'SIGTERM', 5000);
}

/** One OVSDB table from `--format=json` output, as objects keyed by heading. */
export function parseOvsTable(line: string): Array<Record<string, unknown>> {
  const table = JSON.parse(line) as { data: unknown[][]; headings: string[] };
  return table.data.map((row) => Object.fromEntries(table.headings.map((heading, i) => [heading, row[i]])));
}

export function readOvsLogTail(paths: OvsPaths, lines = 20): string {
  try {
    return readFileSync(join(paths.dir, 'vswitchd.log'), 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
