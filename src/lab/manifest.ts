// The lab's manifest: everything the lab made or is about to make. It is saved BEFORE each thing is
// made, so that labDown(dir) can undo a lab from this file alone after its maker crashed at any
// point. Saves are synchronous (write a temp file, rename over) so the file is never half written
// and saves never interleave.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabPool, PoolFault } from './types.ts';
import type { AmphoraFault, LabAmphoraPair } from './amphora-pair.ts';

export type LabProcessRole =
  | 'ovsdb-server'
  | 'ovs-vswitchd'
  | 'haproxy'
  | 'haproxy-extra'
  | 'member-http'
  | 'keepalived'
  | 'lock-holder';

export interface LabProcessRecord {
  role: LabProcessRole;
  /** What the process is for (a pool id, a namespace, the lab). */
  label: string;
  /** Known once the process runs; until then the pid file (if any) tells. */
  pid: number | null;
  /** /proc/PID/stat start time, so a reused pid is never signalled. */
  startTime: number | null;
  pidFile?: string;
  namespace?: string;
}

export interface LabFaultRecord {
  /** The pool id, or amphora-<n> for a fault of the amphora pair. */
  poolId: string;
  fault: PoolFault | AmphoraFault;
  at: string;
}

export interface LabManifest {
  version: 1;
  id: string;
  dir: string;
  createdAt: string;
  /** The process that built the lab. */
  ownerPid: number;
  outliveProcess: boolean;
  ovsDir: string;
  ovsdbSocket: string;
  bridge: string;
  lbaasDir: string;
  octaviaDir: string;
  /** Every network namespace the lab made (or was about to make). */
  namespaces: string[];
  /** Every OVS port the lab added to its bridge; a netdev-datapath tap can outlive vswitchd in the root ns. */
  ovsPorts: string[];
  /** Other devices the lab may leave in the root namespace. */
  rootDevices: string[];
  processes: LabProcessRecord[];
  /** Files and dirs the lab made (all under `dir`, which is removed as a whole). */
  files: string[];
  pools: LabPool[];
  orphanNamespaces: string[];
  orphanOvsPorts: string[];
  faults: LabFaultRecord[];
  /** The ACTIVE_STANDBY amphora pair, when the lab has one. */
  amphoraPair?: LabAmphoraPair | null;
}

export const MANIFEST_NAME = 'manifest.json';

export function manifestPath(dir: string): string {
  return join(dir, MANIFEST_NAME);
}

export function saveManifest(manifest: LabManifest): void {
  const path = manifestPath(manifest.dir);
  const temp = `${path}.tmp`;
  writeFileSync(temp, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(temp, path);
}

export function readManifest(dir: string): LabManifest | null {
  try {
    const parsed = JSON.parse(readFileSync(manifestPath(dir), 'utf8')) as LabManifest;
    return parsed && parsed.version === 1 ? parsed : null;
  } catch {
    return null;
  }
}

/** Adds names to a list in place, once each (the manifest lists are sets kept in order). */
export function addUnique(list: string[], ...items: string[]): void {
  for (const item of items) if (!list.includes(item)) list.push(item);
}
