// OVSDB over its own socket (RFC 7047 JSON-RPC): one `transact` reads Bridge, Port and Interface
// in a single consistent snapshot, and `monitor` pushes row changes, with no ovs-vsctl spawn.
// ovs-vsctl (readOvsSnapshot) stays as the fallback when the socket cannot be spoken to, and as the
// test oracle.
//
// Framing (RFC 7047 §3.1 via JSON-RPC 1.0 over a stream): messages are JSON objects written one
// after another with no delimiter, so an incremental splitter tracks string/escape state and
// bracket depth, byte by byte (every structural character is ASCII, so UTF-8 needs no care until
// the message is whole), with a cap on one message's size.
//
// Targets: unix:/path, tcp:host[:port] and ssl:host[:port] (port 6640 when omitted, as OVS does).
// ssl needs a private key, its certificate and the CA certificate (LBTOPO_OVSDB_SSL_*): like
// OVS's own clients, the server's certificate must be signed by that CA, and its name is not
// checked against the host (OVS certificates carry no host names); the server checks ours.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { DiscoveryError, type DiscoveryErrorKind } from './errors.ts';
import type { CommandGateway } from './exec.ts';
import {
  buildOvsSnapshot, isValidOvsdbTarget, ovsdbValue, OVS_SNAPSHOT_COLUMNS, readOvsSnapshot,
  type OvsdbRow, type OvsdbSslFiles, type OvsSnapshot,
} from './ovs.ts';

export const OVSDB_DEFAULT_PORT = 6640;
/** One message larger than this is refused (a 1000-port snapshot is about 1.5 MB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const DATABASE = 'Open_vSwitch';
const SNAPSHOT_TABLES = ['Bridge', 'Port', 'Interface'] as const;

/**
 * Where in a conversation a failure happened. 'target' and 'connect' mean the socket could not be
 * spoken to at all (the only failures a fallback to ovs-vsctl may hide); 'call' (no answer in
 * time, an error answer), 'reply' (bytes that are not OVSDB JSON-RPC) and 'closed' (the server
 * hung up) mean a server answered, or started to, and got it wrong.
 */
export type OvsdbFailurePhase = 'target' | 'connect' | 'call' | 'reply' | 'closed';

/** A DiscoveryError that also says in which phase the conversation failed. */
export class OvsdbRpcError extends DiscoveryError {
  readonly phase: OvsdbFailurePhase;
  constructor(kind: DiscoveryErrorKind, phase: OvsdbFailurePhase, source: readonly string[] | string, detail: string) {
    super(kind, source, detail);
    this.phase = phase;
  }
}

/** The source named in errors: `ovsdb-jsonrpc <target> [method]`. */
function sourceOf(target: string, method?: string): string[] {
  return method ? ['ovsdb-jsonrpc', target, method] : ['ovsdb-jsonrpc', target];
}

// --- targets ---------------------------------------------------------------------------------

export type OvsdbTarget =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp' | 'ssl'; host: string; port: number };

/** Parses and validates an OVSDB target; anything else is an 'invalid' error before any socket opens. */
export function parseOvsdbTarget(target: string): OvsdbTarget {
  const refuse = (why: string): never => {
    throw new OvsdbRpcError('invalid', 'target', sourceOf(String(target)), `refused OVSDB target ${JSON.stringify(target)}: ${why}`);
  };
  if (typeof target !== 'string' || !isValidOvsdbTarget(target)) refuse('not unix:/path, tcp:host:port or ssl:host:port');
  if (target.startsWith('unix:')) return { kind: 'unix', path: target.slice('unix:'.length) };
  const kind = target.startsWith('tcp:') ? 'tcp' : 'ssl';
  const rest = target.slice(4);
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else {
    const parts = rest.split(':');
    if (parts.length > 2) refuse('an IPv6 address needs brackets, as in tcp:[::1]:6640');
    host = parts[0]!;
    portText = parts[1];
    if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) refuse('the host is not a name or an address');
  }
  const port = portText === undefined ? OVSDB_DEFAULT_PORT : Number(portText);
  if (portText !== undefined && !/^\d{1,5}$/.test(portText)) refuse('the port is not a number');
  if (!Number.isInteger(port) || port < 1 || port > 65535) refuse('the port is not in 1-65535');
  return { kind, host, port };
}

// --- framing ---------------------------------------------------------------------------------

const SPACE = 0x20, TAB = 0x09, LF = 0x0a, CR = 0x0d;
const QUOTE = 0x22, BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d;

/**
 * Splits a byte stream into JSON-RPC messages (JSON objects, nothing between them but
 * whitespace). Feed it chunks as they arrive; it returns each whole message, parsed. Anything
 * that is not a JSON object, a message over the cap, invalid UTF-8 or JSON is an OvsdbRpcError
 * 'parse'; after one the splitter is spent (the stream has lost its framing).
 */
export class JsonMessageSplitter {
  readonly maxMessageBytes: number;
  private readonly source: readonly string[];
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private pieces: Buffer[] = [];
  private pendingBytes = 0;
  private inMessage = false;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private failed: OvsdbRpcError | null = null;

  constructor(options: { maxMessageBytes?: number; source?: readonly string[] } = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.source = options.source ?? ['ovsdb-jsonrpc'];
  }

  /** Bytes of a message begun but not yet ended (0 between messages). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  push(chunk: Uint8Array): unknown[] {
    if (this.failed) throw this.failed;
    const messages: unknown[] = [];
    let start = this.inMessage ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (!this.inMessage) {
        if (c === SPACE || c === TAB || c === LF || c === CR) continue;
        if (c !== OPEN_BRACE) return this.fail(`expected a JSON object, got ${describeByte(c)}`);
        this.inMessage = true;
        this.depth = 1;
        start = i;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
        continue;
      }
      if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (--this.depth === 0) {
          const size = this.pendingBytes + (i + 1 - start);
          if (size > this.maxMessageBytes) return this.fail(this.oversize(size));
          this.pieces.push(Buffer.from(chunk.buffer, chunk.byteOffset + start, i + 1 - start));
          messages.push(this.parse(this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces)));
          this.pieces = [];
          this.pendingBytes = 0;
          this.inMessage = false;
          start = -1;
        }
      }
    }
    if (this.inMessage) {
      const tail = chunk.length - start;
      if (this.pendingBytes + tail > this.maxMessageBytes) return this.fail(this.oversize(this.pendingBytes + tail));
      // Copied: the socket may reuse the chunk's memory once we return.
      this.pieces.push(Buffer.from(chunk.subarray(start)));
      this.pendingBytes += tail;
    }
    return messages;
  }

  private parse(bytes: Buffer): unknown {
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      return this.fail('a message is not valid UTF-8');
    }
    try {
      return JSON.parse(text);
    } catch (err) {
      return this.fail(`a message is not JSON (${(err as Error).message})`);
    }
  }

  private oversize(size: number): string {
    return `a message exceeds ${this.maxMessageBytes} bytes (at least ${size} so far)`;
  }

  private fail(detail: string): never {
    this.failed = new OvsdbRpcError('parse', 'reply', this.source, detail);
    this.pieces = [];
    throw this.failed;
  }
}

function describeByte(c: number): string {
  return c >= 0x20 && c < 0x7f ? JSON.stringify(String.fromCharCode(c)) : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

// --- connection ------------------------------------------------------------------------------

export interface OvsdbConnectOptions {
  /** Connect (and TLS handshake) deadline, default 2000 ms. */
  connectTimeoutMs?: number;
  /** Default deadline of each call, default 5000 ms. */
  callTimeoutMs?: number;
  maxMessageBytes?: number;
  /** Required for ssl: targets. */
  ssl?: OvsdbSslFiles | null;
  signal?: AbortSignal;
}

type Notification = (method: string, params: unknown) => void;

interface PendingCall {
  method: string;
  resolve(result: unknown): void;
  reject(err: OvsdbRpcError): void;
  timer: NodeJS.Timeout;
}

const message = z.object({
  id: z.unknown().optional(),
  method: z.string().optional(),
  params: z.unknown().optional(),
  result: z.unknown().optional(),
  error: z.unknown().optional(),
}).loose();

/** One JSON-RPC conversation with an OVSDB server. */
export class OvsdbConnection {
  readonly target: string;
  private readonly socket: Socket;
  private readonly splitter: JsonMessageSplitter;
  private readonly callTimeoutMs: number;
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private closedWith: OvsdbRpcError | null = null;
  private readonly notificationHandlers = new Set<Notification>();
  private readonly closeHandlers = new Set<(err: OvsdbRpcError) => void>();
  /** Time of the last byte received (performance.now()). */
  lastReceivedAt = performance.now();

  private constructor(target: string, socket: Socket, options: OvsdbConnectOptions) {
    this.target = target;
    this.socket = socket;
    this.callTimeoutMs = options.callTimeoutMs ?? 5000;
    this.splitter = new JsonMessageSplitter({ maxMessageBytes: options.maxMessageBytes, source: sourceOf(target) });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.shutdown(new OvsdbRpcError('failed', 'closed', sourceOf(target), `connection error: ${err.message}`)));
    socket.on('close', () => this.shutdown(this.closedError()));
  }

  /** Opens a connection to the target within the connect deadline. */
  static async open(target: string, options: OvsdbConnectOptions = {}): Promise<OvsdbConnection> {
    const parsed = parseOvsdbTarget(target);
    const source = sourceOf(target);
    const timeoutMs = options.connectTimeoutMs ?? 2000;
    if (options.signal?.aborted) throw new OvsdbRpcError('failed', 'connect', source, 'aborted before connecting');
    let ssl: { key: Buffer; cert: Buffer; ca: Buffer } | null = null;
    if (parsed.kind === 'ssl') {
      if (!options.ssl) throw new OvsdbRpcError('invalid', 'target', source, 'an ssl: target needs LBTOPO_OVSDB_SSL_KEY, LBTOPO_OVSDB_SSL_CERT and LBTOPO_OVSDB_SSL_CA');
      try {
        const files = options.ssl;
        const [key, cert, ca] = await Promise.all([readFile(files.key), readFile(files.cert), readFile(files.ca)]);
        ssl = { key, cert, ca };
      } catch (err) {
        throw new OvsdbRpcError('io', 'connect', source, `cannot read the SSL key, certificate or CA: ${(err as Error).message}`);
      }
    }
    const socket = await new Promise<Socket>((resolve, reject) => {
      let settled = false;
      const readyEvent = parsed.kind === 'ssl' ? 'secureConnect' : 'connect';
      const s: Socket = parsed.kind === 'unix'
        ? netConnect({ path: parsed.path })
        : parsed.kind === 'tcp'
          ? netConnect({ host: parsed.host, port: parsed.port })
          : tlsConnect({
            host: parsed.host, port: parsed.port, key: ssl!.key, cert: ssl!.cert, ca: ssl!.ca,
            // OVS checks the peer's certificate against the CA only; its certificates name no host.
            checkServerIdentity: () => undefined,
          });
      const finish = (err: OvsdbRpcError | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        s.removeListener('error', onError);
        if (err) {
          // A late error from a socket we gave up on must not become an uncaught 'error' event.
          s.on('error', () => {});
          s.destroy();
          reject(err);
        } else resolve(s);
      };
      const onError = (err: NodeJS.ErrnoException) => {
        const kind: DiscoveryErrorKind = err.code === 'ENOENT' ? 'not-found' : 'failed';
        finish(new OvsdbRpcError(kind, 'connect', source, `cannot connect: ${err.message}`));
      };
      const onAbort = () => finish(new OvsdbRpcError('failed', 'connect', source, 'aborted while connecting'));
      const timer = setTimeout(() => finish(new OvsdbRpcError('timeout', 'connect', source, `no connection within ${timeoutMs} ms`)), timeoutMs);
      s.once(readyEvent, () => finish(null));
      s.once('error', onError);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
    socket.setNoDelay?.(true);
    const connection = new OvsdbConnection(target, socket, options);
    if (options.signal) {
      const onAbort = () => connection.close(new OvsdbRpcError('failed', 'call', source, 'aborted'));
      options.signal.addEventListener('abort', onAbort, { once: true });
      connection.onClose(() => options.signal!.removeEventListener('abort', onAbort));
    }
    return connection;
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  /** Sends a request and resolves with its result; rejects on an error answer, the deadline or a drop. */
  call(method: string, params: unknown[], options: { timeoutMs?: number } = {}): Promise<unknown> {
    const source = sourceOf(this.target, method);
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.callTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new OvsdbRpcError('timeout', 'call', source, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { method, resolve, reject, timer });
      this.send({ method, params, id });
    });
  }

  /** Calls handler(method, params) for each notification (`update`, ...). */
  onNotification(handler: Notification): () => void {
    this.notificationHandlers.add(handler);
    return () => this.notificationHandlers.delete(handler);
  }

  /** Called once when the connection ends, with why. */
  onClose(handler: (err: OvsdbRpcError) => void): void {
    if (this.closedWith) handler(this.closedWith);
    else this.closeHandlers.add(handler);
  }

  close(reason?: OvsdbRpcError): void {
    this.shutdown(reason ?? new OvsdbRpcError('failed', 'closed', sourceOf(this.target), 'connection closed by the client'));
  }

  private send(value: unknown): void {
    if (!this.closedWith) this.socket.write(JSON.stringify(value));
  }

  private onData(chunk: Buffer): void {
    if (this.closedWith) return;
    this.lastReceivedAt = performance.now();
    let messages: unknown[];
    try {
      messages = this.splitter.push(chunk);
    } catch (err) {
      this.shutdown(err as OvsdbRpcError);
      return;
    }
    for (const m of messages) {
      if (this.closedWith) return;
      this.dispatch(m);
    }
  }

  private dispatch(raw: unknown): void {
    const parsed = message.safeParse(raw);
    if (!parsed.success) {
      this.shutdown(new OvsdbRpcError('parse', 'reply', sourceOf(this.target), 'a message is not a JSON-RPC object'));
      return;
    }
    const m = parsed.data;
    if (typeof m.method === 'string') {
      if (m.id !== undefined && m.id !== null) {
        // A request from the server: echo is the keepalive (RFC 7047 §4.1.11); nothing else is asked of clients.
        if (m.method === 'echo') this.send({ result: m.params ?? [], error: null, id: m.id });
        else this.send({ result: null, error: 'unknown method', id: m.id });
        return;
      }
      for (const handler of this.notificationHandlers) handler(m.method, m.params);
      return;
    }
    if (typeof m.id !== 'number') return; // An answer to nothing we asked (our ids are numbers).
    const call = this.pending.get(m.id);
    if (!call) return; // An answer that came after its deadline.
    this.pending.delete(m.id);
    clearTimeout(call.timer);
    if (m.error !== undefined && m.error !== null) {
      call.reject(new OvsdbRpcError('failed', 'call', sourceOf(this.target, call.method), `the server answered with an error: ${short(m.error)}`));
    } else if (!('result' in m)) {
      call.reject(new OvsdbRpcError('parse', 'reply', sourceOf(this.target, call.method), 'an answer with neither result nor error'));
    } else call.resolve(m.result);
  }

  private closedError(): OvsdbRpcError {
    const buffered = this.splitter.bufferedBytes;
    const detail = buffered > 0
      ? `the server closed the connection in the middle of a message (${buffered} bytes of it received)`
      : this.pending.size > 0 ? 'the server closed the connection before answering' : 'the server closed the connection';
    return new OvsdbRpcError('failed', 'closed', sourceOf(this.target), detail);
  }

  private shutdown(err: OvsdbRpcError): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.socket.destroy();
    for (const [id, call] of this.pending) {
      this.pending.delete(id);
      clearTimeout(call.timer);
      // Name the method that was waiting, keeping the kind and phase of what ended the conversation.
      call.reject(err.source.length === 3 ? err : new OvsdbRpcError(err.kind, err.phase, sourceOf(this.target, call.method), detailOf(err)));
    }
    this.notificationHandlers.clear();
    for (const handler of this.closeHandlers) handler(err);
    this.closeHandlers.clear();
  }
}

/** The detail of a DiscoveryError: its message without the `source: ` prefix. */
function detailOf(err: DiscoveryError): string {
  return err.message.slice(err.source.join(' ').length + 2);
}

function short(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return (text ?? String(value)).slice(0, 300);
}

// --- the snapshot ----------------------------------------------------------------------------

/** The `transact` params of one snapshot: three selects, one consistent read. */
export function snapshotTransactParams(): unknown[] {
  return [
    DATABASE,
    ...SNAPSHOT_TABLES.map((table) => ({ op: 'select', table, where: [], columns: [...OVS_SNAPSHOT_COLUMNS[table]] })),
  ];
}

// The shape of ovs.ts's `ovsdbValue` zod schema, checked by hand: zod took ~10 ms for the rows
// of 200 ports (twice the transact itself); this takes well under 1 ms. The test compares both.
function isAtom(v: unknown): boolean {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean' ||
    (Array.isArray(v) && v.length === 2 && v[0] === 'uuid' && typeof v[1] === 'string');
}

/** Whether v is an OVSDB value as ovs.ts's decoders accept it: an atom, ["set",[atom…]] or ["map",[[atom,atom]…]]. */
export function isOvsdbValue(v: unknown): boolean {
  if (isAtom(v)) return true;
  if (!Array.isArray(v) || v.length !== 2 || !Array.isArray(v[1])) return false;
  if (v[0] === 'set') return (v[1] as unknown[]).every(isAtom);
  if (v[0] === 'map') return (v[1] as unknown[]).every((pair) => Array.isArray(pair) && pair.length === 2 && isAtom(pair[0]) && isAtom(pair[1]));
  return false;
}

function rowsOfSelect(result: unknown, table: string): OvsdbRow[] {
  const rows = (result as { rows?: unknown } | null)?.rows;
  if (typeof result !== 'object' || result === null || !Array.isArray(rows)) throw new Error(`the ${table} select has no rows`);
  for (const row of rows) {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new Error(`a ${table} row is not an object`);
    for (const [column, value] of Object.entries(row)) {
      if (!isOvsdbValue(value)) throw new Error(`${table}.${column} is not an OVSDB value: ${short(value)}`);
    }
  }
  return rows as OvsdbRow[];
}

/** The zod schema of the same shape, for the test that keeps the hand check and ovs.ts's schema in step. */
export const ovsdbValueSchema = ovsdbValue;

/**
 * Decodes a `transact` result of snapshotTransactParams into the snapshot parseOvsDump gives for
 * ovs-vsctl's tables. Any shape error is an OvsdbRpcError 'parse'; an operation that failed is 'failed'.
 */
export function decodeSnapshotResult(result: unknown, target = 'ovsdb'): OvsSnapshot {
  const source = sourceOf(target, 'transact');
  // A failed operation is an error object, and the ones after it are not run (RFC 7047 §4.1.3).
  const failure = Array.isArray(result)
    ? result.find((r): r is { error: unknown; details?: unknown } => typeof r === 'object' && r !== null && 'error' in r && (r as { error: unknown }).error != null)
    : undefined;
  if (failure) {
    const details = failure.details === undefined ? '' : ` (${short(failure.details)})`;
    throw new OvsdbRpcError('failed', 'call', source, `the transaction failed: ${short(failure.error)}${details}`);
  }
  if (!Array.isArray(result) || result.length < SNAPSHOT_TABLES.length) {
    throw new OvsdbRpcError('parse', 'reply', source, `expected ${SNAPSHOT_TABLES.length} operation results, got ${short(result)}`);
  }
  try {
    const [bridges, ports, interfaces] = SNAPSHOT_TABLES.map((table, i) => rowsOfSelect(result[i], table));
    return buildOvsSnapshot(bridges!, ports!, interfaces!);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new OvsdbRpcError('parse', 'reply', source, `unexpected OVSDB JSON: ${detail.split('\n')[0]}`);
  }
}

/** Reads the snapshot with one `transact` over a connection of its own, closed afterwards. */
export async function readOvsSnapshotJsonRpc(target: string, options: OvsdbConnectOptions = {}): Promise<OvsSnapshot> {
  const connection = await OvsdbConnection.open(target, options);
  try {
    return await readOvsSnapshotOn(connection);
  } finally {
    connection.close();
  }
}

/** Reads the snapshot over an open connection (a warm read). */
export async function readOvsSnapshotOn(connection: OvsdbConnection, options: { timeoutMs?: number } = {}): Promise<OvsSnapshot> {
  const result = await connection.call('transact', snapshotTransactParams(), options);
  return decodeSnapshotResult(result, connection.target);
}

export type OvsSnapshotSource = 'jsonrpc' | 'ovs-vsctl';

export interface PreferRpcResult {
  snapshot: OvsSnapshot;
  /** Which one answered. */
  source: OvsSnapshotSource;
  /** Why JSON-RPC was not used, when ovs-vsctl answered. */
  rpcError: OvsdbRpcError | null;
}

/** Whether a JSON-RPC failure means the socket could not be spoken to at all (so ovs-vsctl may try). */
export function isUnreachable(err: unknown): boolean {
  return err instanceof OvsdbRpcError && err.phase === 'connect';
}

/**
 * JSON-RPC first; ovs-vsctl only when the socket cannot be spoken to (missing, refused, not
 * permitted, no connection in time, TLS unreadable). A server that answered wrongly, late or
 * not at all is an error here, not a fallback: ovs-vsctl would wait on the same server and hide it.
 * When both fail, the error is ovs-vsctl's, with JSON-RPC's reason added.
 */
export async function readOvsSnapshotPreferRpc(
  gateway: CommandGateway,
  target: string,
  options: OvsdbConnectOptions = {},
): Promise<PreferRpcResult> {
  try {
    return { snapshot: await readOvsSnapshotJsonRpc(target, options), source: 'jsonrpc', rpcError: null };
  } catch (err) {
    if (!isUnreachable(err) || options.signal?.aborted) throw err;
    const rpcError = err as OvsdbRpcError;
    try {
      const snapshot = await readOvsSnapshot(gateway, target, { signal: options.signal, ssl: options.ssl ?? null });
      return { snapshot, source: 'ovs-vsctl', rpcError };
    } catch (fallbackErr) {
      if (!(fallbackErr instanceof DiscoveryError)) throw fallbackErr;
      throw new DiscoveryError(fallbackErr.kind, fallbackErr.source, `${detailOf(fallbackErr)} (JSON-RPC first: ${rpcError.message})`, {
        exitCode: fallbackErr.exitCode, stderr: fallbackErr.stderr,
      });
    }
  }
}

// --- replica ---------------------------------------------------------------------------------

type SnapshotTable = typeof SNAPSHOT_TABLES[number];
const isSnapshotTable = (table: string): table is SnapshotTable => (SNAPSHOT_TABLES as readonly string[]).includes(table);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Bridge, Port and Interface as a monitor with initial rows reports them (RFC 7047 §4.1.5-4.1.6):
 * the monitor's reply holds every row, each `update` the rows one transaction changed. A change
 * then costs the rows it touched, not a re-read of every port over a new connection (at 1000
 * ports that re-read was most of the time from an OVS change to a warm answer showing it).
 */
export class OvsTableReplica {
  private readonly tables = new Map<SnapshotTable, Map<string, OvsdbRow>>(SNAPSHOT_TABLES.map((t) => [t, new Map()]));
  private built: OvsSnapshot | null = null;

  /** Rows held, per table. */
  get size(): Record<SnapshotTable, number> {
    return Object.fromEntries(SNAPSHOT_TABLES.map((t) => [t, this.tables.get(t)!.size])) as Record<SnapshotTable, number>;
  }

  /**
   * Applies <table-updates> (a monitor reply or an `update`'s second parameter) and returns the
   * tables it touched, sorted. Checked whole before anything is applied: a malformed update throws
   * a plain Error and changes nothing. A "modify" is merged over the row held, so it is right
   * whether the server sends every monitored column in "new" (RFC 7047) or only the changed ones.
   */
  apply(updates: unknown): string[] {
    if (!isPlainObject(updates)) throw new Error(`table-updates is not an object: ${short(updates)}`);
    const staged: Array<{ table: SnapshotTable; uuid: string; row: OvsdbRow | null }> = [];
    for (const [table, rowUpdates] of Object.entries(updates)) {
      if (!isSnapshotTable(table)) continue; // Tables we did not ask for: nothing of ours.
      if (!isPlainObject(rowUpdates)) throw new Error(`the ${table} updates are not an object`);
      const held = this.tables.get(table)!;
      for (const [uuid, update] of Object.entries(rowUpdates)) {
        if (!UUID.test(uuid)) throw new Error(`a ${table} row update names ${JSON.stringify(uuid.slice(0, 60))}, not a uuid`);
        if (!isPlainObject(update)) throw new Error(`the ${table} row update of ${uuid} is not an object`);
        const next = update.new;
        if (next === undefined || next === null) {
          staged.push({ table, uuid, row: null });
          continue;
        }
        if (!isPlainObject(next)) throw new Error(`the new ${table} row ${uuid} is not an object`);
        for (const [column, value] of Object.entries(next)) {
          if (!isOvsdbValue(value)) throw new Error(`${table}.${column} of ${uuid} is not an OVSDB value: ${short(value)}`);
        }
        const row: OvsdbRow = { ...held.get(uuid), ...(next as OvsdbRow), _uuid: ['uuid', uuid] };
        const missing = OVS_SNAPSHOT_COLUMNS[table].find((c) => !Object.hasOwn(row, c));
        if (missing) throw new Error(`the ${table} row ${uuid} has no ${missing} column`);
        staged.push({ table, uuid, row });
      }
    }
    const touched = new Set<string>();
    for (const { table, uuid, row } of staged) {
      const held = this.tables.get(table)!;
      if (row) held.set(uuid, row);
      else held.delete(uuid);
      touched.add(table);
    }
    if (touched.size > 0) this.built = null;
    return [...touched].sort();
  }

  /** The rows held, joined as a transact read would give them (built once per change). Throws a plain Error if they do not join. */
  snapshot(): OvsSnapshot {
    this.built ??= buildOvsSnapshot(
      [...this.tables.get('Bridge')!.values()], [...this.tables.get('Port')!.values()], [...this.tables.get('Interface')!.values()],
    );
    return this.built;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// --- monitor ---------------------------------------------------------------------------------

export interface OvsMonitorHandlers {
  /** Rows of these tables changed (inserted, deleted or a read column modified). */
  onChange(tables: string[]): void;
  /**
   * A monitor is in place again after a drop or a failed attempt: changes in between were not
   * seen, so the caller must read the snapshot again.
   */
  onReconnect(): void;
  /** A connection attempt failed or a live connection dropped; the monitor keeps retrying. */
  onError(err: DiscoveryError): void;
}

export interface OvsMonitorOptions extends OvsdbConnectOptions {
  /** First reconnect delay, doubled after each failure up to maxBackoffMs (defaults 100 ms and 5 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * With nothing received for this long, an echo is sent; no answer within callTimeoutMs drops
   * the connection (a peer gone without a FIN). Default 15 s; 0 turns it off.
   */
  idleProbeMs?: number;
}

export interface OvsMonitor {
  /** Ends the monitor: the socket and every timer. */
  close(): void;
  /** Resolves true once the first monitor is in place, false if closed before that. */
  readonly ready: Promise<boolean>;
  /**
   * The tables as the monitor holds them now, and since when (epoch ms of the monitor reply it
   * started from); null while no monitor is in place (connecting, dropped, closed), or if the
   * rows held do not join (then the caller reads the snapshot itself).
   */
  replica(): { snapshot: OvsSnapshot; since: number } | null;
}

/** The `monitor` params: the snapshot's columns, every row at first (the replica), then each change. */
export function monitorParams(monitorId: string): unknown[] {
  const requests = Object.fromEntries(SNAPSHOT_TABLES.map((table) => [table, {
    // _uuid is implicit in every update.
    columns: OVS_SNAPSHOT_COLUMNS[table].filter((c) => c !== '_uuid'),
    select: { initial: true, insert: true, delete: true, modify: true },
  }]));
  return [DATABASE, monitorId, requests];
}

/**
 * Watches Bridge, Port and Interface with `monitor`, keeping a replica of their rows (OvsTableReplica):
 * the reply fills it, each `update` is applied to it, then onChange is called with the tables it
 * touched. An update that cannot be applied drops the connection, and the next monitor starts a
 * fresh replica. A dropped connection is retried with capped exponential backoff, and onReconnect
 * says when the monitor is back. close() stops everything.
 */
export function monitorOvs(target: string, handlers: OvsMonitorHandlers, options: OvsMonitorOptions = {}): OvsMonitor {
  // A bad target, or ssl: without its files, is refused at once rather than retried forever.
  if (parseOvsdbTarget(target).kind === 'ssl' && !options.ssl) {
    throw new OvsdbRpcError('invalid', 'target', sourceOf(target), 'an ssl: target needs LBTOPO_OVSDB_SSL_KEY, LBTOPO_OVSDB_SSL_CERT and LBTOPO_OVSDB_SSL_CA');
  }
  const initialBackoff = options.initialBackoffMs ?? 100;
  const maxBackoff = options.maxBackoffMs ?? 5000;
  const idleProbeMs = options.idleProbeMs ?? 15_000;
  const callTimeoutMs = options.callTimeoutMs ?? 5000;
  const monitorId = 'lbtopo';
  let closed = false;
  // Aborting ends a connect in flight (and its deadline timer) as well as a live connection.
  const abort = new AbortController();
  let connection: OvsdbConnection | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let probeTimer: NodeJS.Timeout | null = null;
  let backoff = initialBackoff;
  let missedSomething = false;
  // The replica of the monitor in place now; null between connections.
  let live: { replica: OvsTableReplica; since: number } | null = null;
  let resolveReady: (established: boolean) => void = () => {};
  const ready = new Promise<boolean>((resolve) => { resolveReady = resolve; });

  const safely = (fn: () => void) => {
    try {
      fn();
    } catch {
      // A throwing handler must not break the monitor's own bookkeeping.
    }
  };

  const scheduleRetry = (err: DiscoveryError) => {
    if (closed) return;
    missedSomething = true;
    safely(() => handlers.onError(err));
    if (closed) return;
    const delay = backoff;
    backoff = Math.min(maxBackoff, backoff * 2);
    retryTimer = setTimeout(() => { retryTimer = null; void attempt(); }, delay);
  };

  const stopProbe = () => {
    if (probeTimer) clearInterval(probeTimer);
    probeTimer = null;
  };

  const attempt = async () => {
    let c: OvsdbConnection;
    try {
      c = await OvsdbConnection.open(target, { ...options, signal: abort.signal });
    } catch (err) {
      if (!closed) scheduleRetry(err as DiscoveryError);
      return;
    }
    if (closed) {
      c.close();
      return;
    }
    connection = c;
    const replica = new OvsTableReplica();
    const unusable = (detail: string) => new OvsdbRpcError('parse', 'reply', sourceOf(target, 'monitor'), detail);
    c.onNotification((method, params) => {
      if (method !== 'update' || !Array.isArray(params) || params[0] !== monitorId) return;
      let tables: string[];
      try {
        tables = replica.apply(params[1]);
      } catch (err) {
        // The replica can no longer follow the server: start again from a fresh monitor.
        c.close(unusable(`an update the replica cannot apply: ${(err as Error).message}`));
        return;
      }
      if (tables.length > 0) safely(() => handlers.onChange(tables));
    });
    c.onClose((err) => {
      stopProbe();
      if (connection === c) {
        connection = null;
        live = null;
      }
      if (!closed) scheduleRetry(err);
    });
    let initial: unknown;
    try {
      initial = await c.call('monitor', monitorParams(monitorId), { timeoutMs: callTimeoutMs });
    } catch (err) {
      // A monitor the server refused is retried like a drop, after the backoff.
      c.close(err as OvsdbRpcError);
      return;
    }
    if (closed || c.closed) return;
    try {
      replica.apply(initial);
    } catch (err) {
      c.close(unusable(`the monitor's initial rows: ${(err as Error).message}`));
      return;
    }
    live = { replica, since: Date.now() };
    backoff = initialBackoff;
    if (idleProbeMs > 0) {
      let probing = false;
      probeTimer = setInterval(() => {
        if (probing || c.closed || performance.now() - c.lastReceivedAt < idleProbeMs) return;
        probing = true;
        c.call('echo', ['lbtopo'], { timeoutMs: callTimeoutMs }).then(
          () => { probing = false; },
          (err: OvsdbRpcError) => c.close(new OvsdbRpcError(err.kind, 'closed', err.source, `the server stopped answering: ${detailOf(err)}`)),
        );
      }, Math.max(50, Math.min(idleProbeMs, 1000)));
    }
    if (missedSomething) {
      missedSomething = false;
      safely(() => handlers.onReconnect());
    }
    resolveReady(true);
  };

  void attempt();
  return {
    ready,
    replica() {
      if (!live) return null;
      try {
        return { snapshot: live.replica.snapshot(), since: live.since };
      } catch {
        return null;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      stopProbe();
      abort.abort();
      connection?.close();
      connection = null;
      live = null;
      resolveReady(false);
    },
  };
}
