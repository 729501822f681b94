// Open vSwitch: one ovs-vsctl call lists Bridge, Port and Interface in a single transaction (a
// consistent snapshot), printed as one JSON table per line in OVSDB notation (RFC 7047 5.1):
// a set of exactly one element is the bare atom, other sets are ["set",[...]], maps are
// ["map",[[k,v],...]] and uuids are ["uuid","..."]. We decode that exactly, then join
// bridge -> port -> interface.
import { z } from 'zod';
import type { CommandGateway } from './exec.ts';
import { DiscoveryError } from './errors.ts';

export interface OvsInterface {
  uuid: string;
  name: string;
  type: string; // '' is a system port, 'internal', 'patch', 'vxlan', ...
  ofport: number | null; // null = not assigned yet; -1 = an error adding the interface
  error: string | null;
  externalIds: Record<string, string>;
  macInUse: string | null;
  linkState: string | null;
  adminState: string | null;
}

export interface OvsPort {
  uuid: string;
  name: string;
  bridge: string | null; // null if no bridge lists the port (should not happen in a consistent db)
  tag: number | null;
  trunks: number[];
  vlanMode: string | null;
  otherConfig: Record<string, string>;
  externalIds: Record<string, string>;
  interfaces: OvsInterface[];
}

export interface OvsBridge {
  uuid: string;
  name: string;
  datapathType: string;
  ports: string[]; // port names
}

export interface OvsSnapshot {
  bridges: OvsBridge[];
  ports: OvsPort[];
}

const BRIDGE_COLUMNS = ['_uuid', 'name', 'ports', 'datapath_type'];
const PORT_COLUMNS = ['_uuid', 'name', 'interfaces', 'tag', 'trunks', 'vlan_mode', 'other_config', 'external_ids'];
const INTERFACE_COLUMNS = [
  '_uuid', 'name', 'type', 'ofport', 'error', 'external_ids', 'mac_in_use', 'link_state', 'admin_state',
];
/** The columns a snapshot reads from each table (ovs-vsctl --columns and the JSON-RPC select use the same). */
export const OVS_SNAPSHOT_COLUMNS: Readonly<Record<'Bridge' | 'Port' | 'Interface', readonly string[]>> = {
  Bridge: BRIDGE_COLUMNS,
  Port: PORT_COLUMNS,
  Interface: INTERFACE_COLUMNS,
};

/** The argv of the single ovs-vsctl call (exported so tests and records can name it). */
export function ovsDumpCommand(ovsdb: string, timeoutSec = 5, ssl: OvsdbSslFiles | null = null): string[] {
  // ovs-vsctl needs the key, certificate and CA for an ssl: target just as the JSON-RPC client does.
  const sslArgs = ssl ? [`--private-key=${ssl.key}`, `--certificate=${ssl.cert}`, `--ca-cert=${ssl.ca}`] : [];
  return [
    'ovs-vsctl', `--db=${ovsdb}`, `--timeout=${timeoutSec}`, ...sslArgs, '--format=json',
    '--', `--columns=${BRIDGE_COLUMNS.join(',')}`, 'list', 'Bridge',
    '--', `--columns=${PORT_COLUMNS.join(',')}`, 'list', 'Port',
    '--', `--columns=${INTERFACE_COLUMNS.join(',')}`, 'list', 'Interface',
  ];
}

/** LBTOPO_OVSDB is passed to ovs-vsctl as --db, so it must be a plain unix:/tcp:/ssl: target. */
export function isValidOvsdbTarget(target: string): boolean {
  return /^(unix:\/[^\s;|&$`'"]+|(tcp|ssl):[A-Za-z0-9.:[\]-]+)$/.test(target);
}

/** Files of the private key, certificate and CA certificate for an ssl: OVSDB target. */
export interface OvsdbSslFiles {
  key: string;
  cert: string;
  ca: string;
}

export async function readOvsSnapshot(
  gateway: CommandGateway,
  ovsdb: string,
  options: { signal?: AbortSignal; ssl?: OvsdbSslFiles | null } = {},
): Promise<OvsSnapshot> {
  if (!isValidOvsdbTarget(ovsdb)) throw new DiscoveryError('invalid', 'ovs-vsctl', `refused OVSDB target ${JSON.stringify(ovsdb)}`);
  const argv = ovsDumpCommand(ovsdb, 5, ovsdb.startsWith('ssl:') ? (options.ssl ?? null) : null);
  const { stdout } = await gateway.run(argv, { signal: options.signal });
  return parseOvsDump(stdout, argv);
}

// --- OVSDB JSON notation -------------------------------------------------------------------

const atom = z.union([z.string(), z.number(), z.boolean(), z.tuple([z.literal('uuid'), z.string()])]);
type Atom = z.infer<typeof atom>;
export const ovsdbValue = z.union([
  atom,
  z.tuple([z.literal('set'), z.array(atom)]),
  z.tuple([z.literal('map'), z.array(z.tuple([atom, atom]))]),
]);
export type OvsdbValue = z.infer<typeof ovsdbValue>;
/** One row of a table: column name -> OVSDB value. */
export type OvsdbRow = Record<string, OvsdbValue>;
const table = z.object({ headings: z.array(z.string()), data: z.array(z.array(ovsdbValue)) });

function isTagged(v: OvsdbValue, tag: 'set' | 'map' | 'uuid'): boolean {
  return Array.isArray(v) && v[0] === tag;
}

/** The elements of a set column: a bare atom is a one-element set. */
export function decodeSet(v: OvsdbValue): Atom[] {
  if (isTagged(v, 'set')) return (v as ['set', Atom[]])[1];
  if (isTagged(v, 'map')) throw new Error('expected a set, got a map');
  return [v as Atom];
}

export function decodeMap(v: OvsdbValue): Record<string, string> {
  if (!isTagged(v, 'map')) throw new Error('expected a map');
  const out: Record<string, string> = {};
  for (const [k, val] of (v as ['map', Array<[Atom, Atom]>])[1]) out[atomToString(k)] = atomToString(val);
  return out;
}

function atomToString(a: Atom): string {
  return Array.isArray(a) ? a[1] : String(a);
}

/** An optional scalar column (min 0, max 1): the atom, or null for the empty set. */
function optional(v: OvsdbValue): Atom | null {
  const set = decodeSet(v);
  if (set.length > 1) throw new Error('expected at most one element');
  return set[0] ?? null;
}
function optionalNumber(v: OvsdbValue): number | null {
  const a = optional(v);
  if (a === null) return null;
  if (typeof a !== 'number') throw new Error(`expected a number, got ${JSON.stringify(a)}`);
  return a;
}
function optionalString(v: OvsdbValue): string | null {
  const a = optional(v);
  return a === null ? null : atomToString(a);
}
function uuidOf(v: OvsdbValue): string {
  if (!isTagged(v, 'uuid')) throw new Error('expected a uuid');
  return (v as ['uuid', string])[1];
}
function stringOf(v: OvsdbValue): string {
  if (typeof v !== 'string') throw new Error(`expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function rowsOf(line: string, expected: string[]): Array<Record<string, OvsdbValue>> {
  const parsed = table.parse(JSON.parse(line));
  for (const col of expected) {
    if (!parsed.headings.includes(col)) throw new Error(`column ${col} missing`);
  }
  return parsed.data.map((row) => {
    if (row.length !== parsed.headings.length) throw new Error('row length differs from headings');
    return Object.fromEntries(parsed.headings.map((h, i) => [h, row[i] as OvsdbValue]));
  });
}

/** Parses the three JSON lines of ovsDumpCommand. Any shape error is a DiscoveryError 'parse'. */
export function parseOvsDump(stdout: string, argv: readonly string[] = ['ovs-vsctl']): OvsSnapshot {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 3) {
    throw new DiscoveryError('parse', argv, `expected 3 JSON tables (Bridge, Port, Interface), got ${lines.length} lines`);
  }
  try {
    return buildOvsSnapshot(rowsOf(lines[0]!, BRIDGE_COLUMNS), rowsOf(lines[1]!, PORT_COLUMNS), rowsOf(lines[2]!, INTERFACE_COLUMNS));
  } catch (err) {
    const detail = err instanceof z.ZodError ? z.prettifyError(err) : err instanceof Error ? err.message : String(err);
    throw new DiscoveryError('parse', argv, `unexpected OVSDB JSON: ${detail.split('\n')[0]}`);
  }
}

/**
 * Joins the rows of Bridge, Port and Interface (from ovs-vsctl's tables or a JSON-RPC select) into
 * a snapshot: ports and bridges sorted by name, a bridge's port names sorted, a port's interfaces
 * in the order of its set. Throws a plain Error on any shape error; callers name the source.
 */
export function buildOvsSnapshot(
  bridgeRows: readonly OvsdbRow[],
  portRows: readonly OvsdbRow[],
  ifaceRows: readonly OvsdbRow[],
): OvsSnapshot {
  requireColumns(bridgeRows, BRIDGE_COLUMNS, 'Bridge');
  requireColumns(portRows, PORT_COLUMNS, 'Port');
  requireColumns(ifaceRows, INTERFACE_COLUMNS, 'Interface');

  const interfaces = new Map<string, OvsInterface>();
  for (const r of ifaceRows) {
    const iface: OvsInterface = {
      uuid: uuidOf(r._uuid!),
      name: stringOf(r.name!),
      type: stringOf(r.type!),
      ofport: optionalNumber(r.ofport!),
      error: optionalString(r.error!),
      externalIds: decodeMap(r.external_ids!),
      macInUse: optionalString(r.mac_in_use!),
      linkState: optionalString(r.link_state!),
      adminState: optionalString(r.admin_state!),
    };
    interfaces.set(iface.uuid, iface);
  }

  const bridges: OvsBridge[] = [];
  const bridgeOfPort = new Map<string, string>();
  const portUuidsOfBridge = new Map<string, string[]>();
  for (const r of bridgeRows) {
    const name = stringOf(r.name!);
    const portUuids = decodeSet(r.ports!).map((a) => uuidOf(a));
    for (const p of portUuids) bridgeOfPort.set(p, name);
    portUuidsOfBridge.set(name, portUuids);
    bridges.push({ uuid: uuidOf(r._uuid!), name, datapathType: stringOf(r.datapath_type!), ports: [] });
  }

  const ports: OvsPort[] = portRows.map((r) => {
    const uuid = uuidOf(r._uuid!);
    return {
      uuid,
      name: stringOf(r.name!),
      bridge: bridgeOfPort.get(uuid) ?? null,
      tag: optionalNumber(r.tag!),
      trunks: decodeSet(r.trunks!).map((a) => {
        if (typeof a !== 'number') throw new Error('trunk is not a number');
        return a;
      }),
      vlanMode: optionalString(r.vlan_mode!),
      otherConfig: decodeMap(r.other_config!),
      externalIds: decodeMap(r.external_ids!),
      interfaces: decodeSet(r.interfaces!).map((a) => {
        const iface = interfaces.get(uuidOf(a));
        if (!iface) throw new Error(`port ${stringOf(r.name!)} names an interface that is not listed`);
        return iface;
      }),
    };
  });
  const portName = new Map(ports.map((p) => [p.uuid, p.name]));
  for (const b of bridges) {
    b.ports = (portUuidsOfBridge.get(b.name) ?? []).map((u) => portName.get(u) ?? u).sort();
  }
  bridges.sort((a, b) => a.name.localeCompare(b.name));
  ports.sort((a, b) => a.name.localeCompare(b.name));
  return { bridges, ports };
}

// A missing column would otherwise decode as the string "undefined" in optionalString.
function requireColumns(rows: readonly OvsdbRow[], expected: readonly string[], table: string): void {
  for (const row of rows) {
    for (const col of expected) {
      if (!Object.hasOwn(row, col)) throw new Error(`${table} row without column ${col}`);
    }
  }
}
