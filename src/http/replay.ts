// The server's front door, in node:http before yoga, and the replay of reused answers.
//
// A reused answer (src/cache/answers.ts) skips the resolvers, but the request still pays yoga's
// Fetch layer: a Request and a Response object, the plugins, the body read through a stream. At
// 32 clients polling `pools(where: {haproxy: MISSING})` that was ~0.4 ms of the main thread per
// request, most of the server's time (a CPU profile of the 200-pool lab). So the front keeps the
// bytes yoga sent for a request answered by a reused answer and sends them again for the same
// request while that answer is still the one the cache would reuse:
//
//   - the same request: method, URL, every header (raw, in order) and the body, byte for byte.
//     The edge's checks (Host, Origin, content type), the bearer token, CORS and the Accept
//     negotiation are functions of exactly those, so they would decide the same again;
//   - the same answer: AnswerCache.lookup(key) returns the very entry the kept bytes were made
//     from (its looks all still served the same observation, not outdated by any event, within
//     REUSE_MS of the last check), and the cache file's health is what it was (it is said in
//     the extensions);
//   - never with OTLP tracing on (a replay makes no spans), never for anything but a 200 to a
//     POST of an answer that was itself reused (so its extensions read as a reuse's do).
//
// A replay is still logged and counted: onReplay listeners (the request log, the HTTP metrics)
// get what the kept request noted. Every POST body is read here with a cap (413 beyond it, the
// socket closed) and handed to yoga as read, so nothing reads a body without a limit.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { ProbeTraceEntry } from '../cache/runner.ts';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** As many responses as the answer cache keeps answers, and at most this many bytes of them. */
const MAX_KEPT = 64;
const MAX_KEPT_BYTES = 32 * 1024 * 1024;

/** What the request log and the metrics need of a replayed request, as the kept one noted it. */
export interface ReplayedRequest {
  method: string;
  path: string;
  status: number;
  durationMs: number;
  operation: { name: string | null; type: string };
  /** extensions.code of each error in the answer ('other' when none). */
  errorCodes: string[];
  /** The looks, all served from the cache (a reused answer's trace). */
  probes: ProbeTraceEntry[];
}

/** The answer a kept response was made from, as the answer cache can tell it still stands. */
export interface ReplayValidity {
  /** True while the answer cache would reuse the same answer (it counts the reuse). */
  stillReused(): boolean;
}

interface Kept {
  validity: ReplayValidity;
  storeSignature: string;
  status: number;
  /** Names and values in one flat list, as writeHead takes them, Content-Length last. */
  headers: string[];
  body: Buffer;
  note: Omit<ReplayedRequest, 'durationMs'>;
}

export class ResponseReplay {
  private readonly kept = new Map<string, Kept>();
  private keptBytes = 0;
  private readonly fingerprints = new WeakMap<IncomingMessage, string>();
  private readonly listeners = new Set<(r: ReplayedRequest) => void>();
  private readonly storeSignature: () => string;
  replays = 0;

  /** storeSignature: changes whenever the cache file's health (said in every answer) does. */
  constructor(storeSignature: () => string) {
    this.storeSignature = storeSignature;
  }

  onReplay(listener: (r: ReplayedRequest) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The fingerprint the front gave this request (null: not one that may be replayed). */
  fingerprintOf(req: IncomingMessage | undefined): string | null {
    return (req && this.fingerprints.get(req)) ?? null;
  }

  /** Marks a request as replayable, under the fingerprint of its method, URL, raw headers and body. */
  remember(req: IncomingMessage, body: Buffer): string {
    const hash = createHash('sha256');
    hash.update(`${req.method} ${req.url}\n`);
    for (const h of req.rawHeaders) hash.update(`${h}\n`);
    hash.update(body);
    const fingerprint = hash.digest('base64');
    this.fingerprints.set(req, fingerprint);
    return fingerprint;
  }

  /** Keeps what yoga sent for a request answered by a reused answer. */
  keep(fingerprint: string, kept: Omit<Kept, 'storeSignature' | 'headers'> & { headers: Array<[string, string]> }): void {
    if (kept.body.length > MAX_KEPT_BYTES) return;
    this.drop(fingerprint);
    const headers = [...kept.headers.flat(), 'content-length', String(kept.body.length)];
    this.kept.set(fingerprint, { ...kept, headers, storeSignature: this.storeSignature() });
    this.keptBytes += kept.body.length;
    // Oldest first.
    while (this.kept.size > MAX_KEPT || this.keptBytes > MAX_KEPT_BYTES) this.drop(this.kept.keys().next().value!);
  }

  private drop(fingerprint: string): void {
    const kept = this.kept.get(fingerprint);
    if (!kept) return;
    this.kept.delete(fingerprint);
    this.keptBytes -= kept.body.length;
  }

  /** Sends the kept response for this fingerprint if it would still be yoga's; false when yoga must answer. */
  tryReplay(fingerprint: string, res: ServerResponse, startedAt: number): boolean {
    const kept = this.kept.get(fingerprint);
    if (!kept) return false;
    if (kept.storeSignature !== this.storeSignature() || !kept.validity.stillReused()) {
      this.drop(fingerprint);
      return false;
    }
    res.writeHead(kept.status, kept.headers);
    res.end(kept.body);
    this.replays++;
    const replayed: ReplayedRequest = { ...kept.note, durationMs: performance.now() - startedAt };
    for (const l of this.listeners) {
      try {
        l(replayed);
      } catch {
        // A listener's fault must not undo an answer already sent.
      }
    }
    return true;
  }

}

function tooLarge(req: IncomingMessage, res: ServerResponse, maxBytes: number): void {
  const body = JSON.stringify({ errors: [{ message: `the request body exceeds ${maxBytes} bytes (LBTOPO_MAX_BODY_BYTES)`, extensions: { code: 'REQUEST_TOO_LARGE' } }] });
  // The rest of the body is not read: the connection ends once this answer is out.
  req.pause();
  res.writeHead(413, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
  res.end(body, () => req.destroy());
}

/**
 * The request listener in front of yoga: every POST body read with a cap, and, with a replay,
 * a POST to /graphql answered from it when it can be.
 */
export function frontListener(yoga: RequestListener, options: { maxBodyBytes?: number; replay?: ResponseReplay | null } = {}): RequestListener {
  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const replay = options.replay ?? null;
  return (req, res) => {
    if (req.method !== 'POST') {
      yoga(req, res);
      return;
    }
    const startedAt = performance.now();
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      tooLarge(req, res, maxBytes);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > maxBytes) {
        refused = true;
        chunks.length = 0;
        tooLarge(req, res, maxBytes);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => { refused = true; });
    req.on('end', () => {
      if (refused) return;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (replay && (req.url === '/graphql' || req.url?.startsWith('/graphql?'))) {
        const fingerprint = replay.remember(req, body);
        if (replay.tryReplay(fingerprint, res, startedAt)) return;
      }
      // yoga takes a body already read from `req.body` (as behind a body parser): a string or a
      // Uint8Array. An empty one is left to the (ended) stream, which reads as empty.
      if (body.length > 0) (req as IncomingMessage & { body?: Uint8Array }).body = body;
      yoga(req, res);
    });
  };
}
