// The netlink worker: enters namespaces and decodes their dumps off the main thread, so the main
// thread never sits in another namespace (while it does, /proc/self/net of the whole process
// shows that namespace) and never spends its time decoding. src/host/netlink.ts starts it and
// sends it requests; it answers each with a result or a serialized error.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { DiscoveryError } from './errors.ts';
import { loadNetlinkAddon } from './netlink-addon.ts';
import type { NativeError, NetlinkDumpResult } from './netlink-addon.ts';
import { decodeNamespaceNetwork, dumpsInterrupted, iprouteNamesFrom } from './netlink-decode.ts';
import type { IprouteNames } from './netlink-decode.ts';
import type { NetlinkWorkerReply, NetlinkWorkerRequest, SerializedNetlinkError } from './netlink.ts';

/** A dump that the kernel marks NLM_F_DUMP_INTR (a change during the dump) is read again, this many times in all. */
const DUMP_ATTEMPTS = 3;
const NAMES_TTL_MS = 5000;

// iproute2 6.1 reads CONFDIR=/etc/iproute2; newer releases fall back to /usr/share/iproute2
// for a file /etc lacks. Read the same, so table/protocol/scope names match what ip prints.
const NAME_DIRS = ['/usr/share/iproute2', '/etc/iproute2'];

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function namesFiles(base: string): string[] {
  const texts: string[] = [];
  const etc = readText(join('/etc/iproute2', base));
  const main = etc ?? readText(join('/usr/share/iproute2', base));
  if (main !== null) texts.push(main);
  for (const dir of NAME_DIRS) {
    let entries: string[] = [];
    try {
      entries = readdirSync(join(dir, `${base}.d`)).filter((f) => f.endsWith('.conf') && f.length > 5 && !f.startsWith('.')).sort();
    } catch {
      continue;
    }
    for (const file of entries) {
      const text = readText(join(dir, `${base}.d`, file));
      if (text !== null) texts.push(text);
    }
  }
  return texts;
}

let names: { value: IprouteNames; readAt: number } | undefined;
function iprouteNames(): IprouteNames {
  const now = Date.now();
  if (!names || now - names.readAt > NAMES_TTL_MS) {
    names = {
      value: iprouteNamesFrom({ tables: namesFiles('rt_tables'), protocols: namesFiles('rt_protos'), scopes: namesFiles('rt_scopes') }),
      readAt: now,
    };
  }
  return names.value;
}

function serialize(err: unknown): SerializedNetlinkError {
  if (err instanceof DiscoveryError) return { message: err.message, failure: err.kind === 'parse' ? 'parse' : err.kind === 'gone' ? 'gone' : 'failed' };
  const e = err as NativeError;
  const out: SerializedNetlinkError = { message: e instanceof Error ? e.message : String(err) };
  if (typeof e?.syscall === 'string') out.syscall = e.syscall;
  if (typeof e?.errno === 'number') out.errno = e.errno;
  return out;
}

function handle(request: NetlinkWorkerRequest): NetlinkWorkerReply {
  const load = loadNetlinkAddon();
  if (!load.addon) return { id: request.id, ok: false, error: { message: load.reason, failure: 'unavailable' } };
  const { addon } = load;
  try {
    if (request.op === 'read') {
      let raw: NetlinkDumpResult | undefined;
      for (let attempt = 1; attempt <= DUMP_ATTEMPTS; attempt++) {
        raw = addon.dumpNamespace(request.nsfsPath);
        if (!dumpsInterrupted(raw)) break;
        if (attempt === DUMP_ATTEMPTS) {
          return { id: request.id, ok: false, error: { message: `every one of ${DUMP_ATTEMPTS} dumps was interrupted by changes (NLM_F_DUMP_INTR)`, failure: 'failed' } };
        }
      }
      const dumps = raw!;
      if (request.expectedInode !== undefined && dumps.ino !== request.expectedInode) {
        return { id: request.id, ok: false, error: { message: `${request.nsfsPath} is another namespace now (inode ${dumps.ino}, listed as ${request.expectedInode})`, failure: 'gone' } };
      }
      // As JSON: it costs this thread what a structured clone would, and spares the main thread
      // serializing it again for the store (netlink.ts, src/host/known-json.ts).
      const network = decodeNamespaceNetwork(dumps, request.namespace, iprouteNames());
      return { id: request.id, ok: true, networkJson: JSON.stringify(network), inode: dumps.ino };
    }
    const socket = addon.openEventSocket(request.nsfsPath, request.receiveBufferBytes);
    if (request.expectedInode !== undefined && socket.ino !== request.expectedInode) {
      addon.closeEventSocket(socket.fd);
      return { id: request.id, ok: false, error: { message: `${request.nsfsPath} is another namespace now (inode ${socket.ino}, listed as ${request.expectedInode})`, failure: 'gone' } };
    }
    return { id: request.id, ok: true, fd: socket.fd, inode: socket.ino };
  } catch (err) {
    return { id: request.id, ok: false, error: serialize(err) };
  }
}

parentPort?.on('message', (request: NetlinkWorkerRequest) => {
  parentPort!.postMessage(handle(request));
});
