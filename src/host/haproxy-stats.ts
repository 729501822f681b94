// Reads haproxy's runtime state over its stats socket: `show info` (the process) and `show stat`
// (every frontend, backend and server with its health). Both neutron-lbaas and Octavia open the
// socket at `level user`, which is enough for these two commands but hides server addresses
// (`addr` comes back empty; it is only filled at level operator/admin).
import net from 'node:net';
import { z } from 'zod';
import { DiscoveryError } from './errors.ts';

// ------------------------------------------------------------------------------------------------
// Types

export type StatRowType = 'frontend' | 'backend' | 'server' | 'listener';

export interface StatRow {
  /** Proxy name: the frontend (listener/VIP id) or backend (pool id, Octavia `<pool>:<listener>`). */
  pxname: string;
  /** `FRONTEND`, `BACKEND`, or the server name (member id). */
  svname: string;
  type: StatRowType;
  /** UP, DOWN, NOLB, MAINT, `MAINT (via …)`, `no check`, OPEN (frontends), … */
  status: string | null;
  weight: number | null;
  /** Server rows: whether this server is an active (`act`=1) or a backup (`bck`=1) server. */
  active: boolean | null;
  backup: boolean | null;
  /** Backend rows: how many active / backup servers are up (`act` / `bck`). */
  activeServers: number | null;
  backupServers: number | null;
  scur: number | null;
  smax: number | null;
  stot: number | null;
  bin: number | null;
  bout: number | null;
  econ: number | null;
  eresp: number | null;
  chkfail: number | null;
  chkdown: number | null;
  /** Seconds since the last UP<->DOWN transition. */
  lastchg: number | null;
  /** Total seconds down. */
  downtime: number | null;
  /** L4OK, L4CON, L7OK, L7STS, … without the `* ` prefix haproxy adds while a check runs. */
  checkStatus: string | null;
  checkInProgress: boolean;
  checkCode: number | null;
  /** Milliseconds. */
  checkDuration: number | null;
  checkDesc: string | null;
  /** The last check's content or error text, e.g. `Connection refused`. */
  lastChk: string | null;
  addr: string | null;
  pid: number | null;
  iid: number | null;
  sid: number | null;
  /** Every column by header name, empty cells as null: columns vary by haproxy version. */
  columns: Record<string, string | null>;
}

export interface HaproxyInfo {
  /** Every `Key: value` line, as written. */
  fields: Record<string, string>;
  name: string | null;
  version: string | null;
  pid: number | null;
  uptimeSec: number | null;
  currConns: number | null;
  maxconn: number | null;
}

export type HaproxyStatsFailure = 'missing' | 'refused' | 'timeout' | 'garbage' | 'error';

export type HaproxyStatsResult =
  | { reachable: true; info: HaproxyInfo; rows: StatRow[]; durationMs: number }
  | { reachable: false; error: string; reason: HaproxyStatsFailure; durationMs: number };

export interface QueryHaproxyStatsOptions {
  /** For the whole exchange, connect included (default 2000). */
  timeoutMs?: number;
}

// ------------------------------------------------------------------------------------------------
// show stat (CSV)

const STAT_TYPES: Record<string, StatRowType> = { '0': 'frontend', '1': 'backend', '2': 'server', '3': 'listener' };

/** An empty cell is "not applicable" (haproxy leaves columns blank that do not apply to a row). */
const emptyToNull = (value: unknown) => (value === '' || value === undefined ? null : value);
const textCell = z.preprocess(emptyToNull, z.string().nullable());
const intCell = z.preprocess(
  emptyToNull,
  z
    .string()
    .regex(/^-?\d+$/, 'expected an integer')
    .transform(Number)
    .nullable(),
);

// Validates the cells by column name, so a garbled row is refused with the column it broke in.
const StatCellsSchema = z.object({
  pxname: z.string().min(1),
  svname: z.string().min(1),
  type: z.preprocess(emptyToNull, z.enum(['0', '1', '2', '3']).nullable()),
  status: textCell,
  weight: intCell,
  act: intCell,
  bck: intCell,
  scur: intCell,
  smax: intCell,
  stot: intCell,
  bin: intCell,
  bout: intCell,
  econ: intCell,
  eresp: intCell,
  chkfail: intCell,
  chkdown: intCell,
  lastchg: intCell,
  downtime: intCell,
  check_status: textCell,
  check_code: intCell,
  check_duration: intCell,
  check_desc: textCell,
  last_chk: textCell,
  addr: textCell,
  pid: intCell,
  iid: intCell,
  sid: intCell,
});

/** Splits one CSV line; haproxy quotes a field (doubling inner quotes) only when it must. */
function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        cell += ch;
      }
    } else if (ch === '"' && cell === '') {
      quoted = true;
    } else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else {
      cell += ch;
    }
  }
  cells.push(cell);
  return cells;
}

/**
 * Parses `show stat` CSV by header name (the first line, `# pxname,svname,…`). Every row ends
 * with a trailing comma, as does the header. Throws a DiscoveryError of kind 'parse' when the
 * text is not that CSV.
 */
export function parseStatCsv(text: string, source = 'show stat'): StatRow[] {
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  const headerIndex = lines.findIndex((line) => line.trim() !== '');
  const headerLine = headerIndex === -1 ? undefined : lines[headerIndex];
  if (headerLine === undefined) throw new DiscoveryError('parse', source, 'empty output, expected a CSV header');
  if (!headerLine.startsWith('# ')) {
    throw new DiscoveryError('parse', source, `expected a "# pxname,svname,…" header, got ${JSON.stringify(headerLine.slice(0, 60))}`);
  }
  const header = splitCsvLine(headerLine.slice(2));
  if (header.at(-1) === '') header.pop();
  if (!header.includes('pxname') || !header.includes('svname')) {
    throw new DiscoveryError('parse', source, 'the CSV header has no pxname/svname column');
  }

  const rows: StatRow[] = [];
  for (let index = headerIndex + 1; index < lines.length; index++) {
    const line = lines[index] as string;
    if (line.trim() === '') continue;
    const cells = splitCsvLine(line);
    // The trailing comma gives one empty cell past the last column.
    if (cells.length === header.length + 1 && cells.at(-1) === '') cells.pop();
    if (cells.length !== header.length) {
      throw new DiscoveryError('parse', source, `line ${index + 1} has ${cells.length} fields, the header has ${header.length}`);
    }
    const columns: Record<string, string | null> = {};
    header.forEach((name, column) => {
      const value = cells[column] ?? '';
      columns[name] = value === '' ? null : value;
    });
    const byName: Record<string, string> = {};
    header.forEach((name, column) => {
      byName[name] = cells[column] ?? '';
    });
    const checked = StatCellsSchema.safeParse(byName);
    if (!checked.success) {
      throw new DiscoveryError('parse', source, `line ${index + 1}: ${z.prettifyError(checked.error)}`);
    }
    rows.push(toStatRow(checked.data, columns));
  }
  return rows;
}

function toStatRow(cells: z.infer<typeof StatCellsSchema>, columns: Record<string, string | null>): StatRow {
  // Very old haproxy has no `type` column; the svname markers say the same thing.
  const type: StatRowType =
    cells.type !== null
      ? (STAT_TYPES[cells.type] ?? 'server')
      : cells.svname === 'FRONTEND'
        ? 'frontend'
        : cells.svname === 'BACKEND'
          ? 'backend'
          : 'server';
  const isServer = type === 'server';
  const isBackend = type === 'backend';
  const checkInProgress = cells.check_status?.startsWith('* ') ?? false;
  return {
    pxname: cells.pxname,
    svname: cells.svname,
    type,
    status: cells.status,
    weight: cells.weight,
    active: isServer && cells.act !== null ? cells.act === 1 : null,
    backup: isServer && cells.bck !== null ? cells.bck === 1 : null,
    activeServers: isBackend ? cells.act : null,
    backupServers: isBackend ? cells.bck : null,
    scur: cells.scur,
    smax: cells.smax,
    stot: cells.stot,
    bin: cells.bin,
    bout: cells.bout,
    econ: cells.econ,
    eresp: cells.eresp,
    chkfail: cells.chkfail,
    chkdown: cells.chkdown,
    lastchg: cells.lastchg,
    downtime: cells.downtime,
    checkStatus: checkInProgress ? (cells.check_status?.slice(2) ?? null) : cells.check_status,
    checkInProgress,
    checkCode: cells.check_code,
    checkDuration: cells.check_duration,
    checkDesc: cells.check_desc,
    lastChk: cells.last_chk,
    addr: cells.addr,
    pid: cells.pid,
    iid: cells.iid,
    sid: cells.sid,
    columns,
  };
}

// ------------------------------------------------------------------------------------------------
// show info

// Keys are words with spaces, dots and dashes (`Unstoppable Jobs`, `Ulimit-n`); this refuses
// the "Unknown command, but maybe…" help text, whose lines also contain colons.
const INFO_LINE = /^([A-Za-z][A-Za-z0-9_. -]*):(?: (.*))?$/;
const infoInt = z.preprocess(emptyToNull, z.string().regex(/^\d+$/).transform(Number).nullable());
const InfoFieldsSchema = z.object({
  Name: z.string().optional(),
  Version: z.string().optional(),
  Pid: infoInt,
  Uptime_sec: infoInt,
  CurrConns: infoInt,
  Maxconn: infoInt,
});

/** Parses `show info` (`Key: value` lines). Throws a DiscoveryError of kind 'parse' otherwise. */
export function parseShowInfo(text: string, source = 'show info'): HaproxyInfo {
  const fields: Record<string, string> = {};
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const match = INFO_LINE.exec(line);
    if (!match) throw new DiscoveryError('parse', source, `line ${index + 1} is not "Key: value": ${JSON.stringify(line.slice(0, 60))}`);
    fields[(match[1] as string).trim()] = match[2] ?? '';
  }
  if (fields['Name'] === undefined && fields['Version'] === undefined) {
    throw new DiscoveryError('parse', source, 'no Name or Version line: not haproxy show info output');
  }
  const checked = InfoFieldsSchema.safeParse(fields);
  if (!checked.success) throw new DiscoveryError('parse', source, z.prettifyError(checked.error));
  return {
    fields,
    name: checked.data.Name ?? null,
    version: checked.data.Version ?? null,
    pid: checked.data.Pid,
    uptimeSec: checked.data.Uptime_sec,
    currConns: checked.data.CurrConns,
    maxconn: checked.data.Maxconn,
  };
}

// ------------------------------------------------------------------------------------------------
// show info;show stat over the socket

/** Both commands in one connection; haproxy answers each in turn, then closes the connection. */
export const STATS_REQUEST = 'show info;show stat\n';
/** A healthy answer is a few KiB per proxy; anything this large is not haproxy talking. */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/**
 * Splits the answer to `show info;show stat`. haproxy 2.6 ends each command's output with an
 * empty line, but a value could in theory be empty too, so the split is on the CSV header
 * (the first line starting with `# `) rather than on the blank line alone.
 */
export function splitInfoAndStat(output: string): { info: string; stat: string } | null {
  const lines = output.split('\n');
  const headerIndex = lines.findIndex((line) => line.startsWith('# '));
  if (headerIndex === -1) return null;
  const statLines: string[] = [];
  for (const line of lines.slice(headerIndex)) {
    if (line.trim() === '') break;
    statLines.push(line);
  }
  return { info: lines.slice(0, headerIndex).join('\n'), stat: statLines.join('\n') };
}

function failureReason(error: NodeJS.ErrnoException): HaproxyStatsFailure {
  switch (error.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'missing';
    case 'ECONNREFUSED':
      return 'refused';
    default:
      return 'error';
  }
}

/**
 * Asks a haproxy stats socket for `show info;show stat`. Never throws and never leaves an
 * unhandled 'error' event: a missing socket, a refused connect, a peer that never answers
 * (the socket is destroyed after `timeoutMs`) or an answer that does not parse are all results.
 */
export function queryHaproxyStats(socketPath: string, options: QueryHaproxyStatsOptions = {}): Promise<HaproxyStatsResult> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;

  return new Promise<HaproxyStatsResult>((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    let socket: net.Socket;

    const finish = (result: HaproxyStatsResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const fail = (reason: HaproxyStatsFailure, error: string): void =>
      finish({ reachable: false, reason, error: `${socketPath}: ${error}`, durationMs: elapsed() });

    const timer = setTimeout(() => fail('timeout', `no complete answer within ${timeoutMs} ms`), timeoutMs);
    try {
      socket = net.connect({ path: socketPath });
    } catch (error) {
      // Only synchronous argument errors land here (e.g. a path too long for sun_path).
      clearTimeout(timer);
      settled = true;
      resolve({ reachable: false, reason: 'error', error: `${socketPath}: ${(error as Error).message}`, durationMs: elapsed() });
      return;
    }

    socket.on('error', (error: NodeJS.ErrnoException) => fail(failureReason(error), error.message));
    // No half-close: haproxy answers a non-interactive request and then closes by itself.
    socket.on('connect', () => socket.write(STATS_REQUEST));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_RESPONSE_BYTES) {
        fail('garbage', `answer larger than ${MAX_RESPONSE_BYTES} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    socket.on('end', () => {
      const output = Buffer.concat(chunks).toString('utf8');
      if (output.trim() === '') {
        fail('garbage', 'the connection closed without an answer');
        return;
      }
      const parts = splitInfoAndStat(output);
      if (!parts) {
        fail('garbage', `no show stat CSV in the answer: ${JSON.stringify(output.trim().slice(0, 80))}`);
        return;
      }
      try {
        const info = parseShowInfo(parts.info);
        const rows = parseStatCsv(parts.stat);
        finish({ reachable: true, info, rows, durationMs: elapsed() });
      } catch (error) {
        fail('garbage', error instanceof DiscoveryError ? error.message : String(error));
      }
    });
    socket.on('close', () => fail('error', 'the connection closed before the answer ended'));
  });
}

/**
 * What the stats probe stores: the typed fields of the socket's answer. The raw column and
 * `show info` maps (about 120 columns a row) and the duration are dropped: the API reads the
 * typed fields, and stats change on every look, so each look is a new row in the log.
 */
export type StatsObservation =
  | { reachable: true; info: Omit<HaproxyInfo, 'fields'>; rows: Array<Omit<StatRow, 'columns'>> }
  | { reachable: false; error: string; reason: HaproxyStatsFailure };

function compactStats(result: HaproxyStatsResult): StatsObservation {
  if (!result.reachable) return { reachable: false, error: result.error, reason: result.reason };
  const { fields: _fields, ...info } = result.info;
  return { reachable: true, info, rows: result.rows.map(({ columns: _columns, ...row }) => row) };
}

/** queryHaproxyStats, compacted to what the stats probe stores. */
export async function queryCompactStats(socketPath: string, options: QueryHaproxyStatsOptions = {}): Promise<StatsObservation> {
  return compactStats(await queryHaproxyStats(socketPath, options));
}
