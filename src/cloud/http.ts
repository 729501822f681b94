// One JSON request to a control-plane API, with a hard deadline. node:http(s) rather than fetch:
// a clouds.yaml `cacert` needs a per-request CA, which Node's built-in fetch cannot take without
// the undici package (NODE_EXTRA_CA_CERTS is read only at start). Every failure becomes a
// CloudError naming the URL, so a probe's error says which API did not answer and how.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';

export type CloudErrorKind =
  | 'unreachable' // connection refused, DNS, TLS
  | 'timeout' // no complete answer before the deadline
  | 'auth' // 401/403, or Keystone refused the credentials
  | 'http' // any other non-2xx status
  | 'parse' // the body was not the JSON we expected
  | 'config' // clouds.yaml / OS_* settings unusable
  | 'catalog'; // the catalog has no endpoint for the service

export class CloudError extends Error {
  override readonly name = 'CloudError';
  readonly kind: CloudErrorKind;
  readonly status: number | null;
  constructor(kind: CloudErrorKind, message: string, status: number | null = null) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

export interface TlsOptions {
  /** PEM text of the CA bundle (clouds.yaml cacert / OS_CACERT). */
  ca?: string | undefined;
  /** clouds.yaml verify: false / OS_INSECURE. */
  insecure?: boolean | undefined;
}

export interface JsonRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  tls?: TlsOptions;
}

export interface JsonResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** Largest body read: a list of every load-balancer port of a big cloud fits; a runaway does not. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Sends one request; resolves with the parsed JSON of a 2xx answer, rejects with a CloudError. */
export function requestJson(req: JsonRequest): Promise<JsonResponse> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return Promise.reject(new CloudError('config', `not a URL: ${JSON.stringify(req.url)}`));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new CloudError('config', `${req.url}: only http and https are supported`));
  const payload = req.body === undefined ? null : Buffer.from(JSON.stringify(req.body));
  const what = `${req.method} ${url.origin}${url.pathname}`;
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      fn();
    };
    const r = send(
      url,
      {
        method: req.method,
        headers: {
          accept: 'application/json',
          'user-agent': 'lbaas-topology',
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...req.headers,
        },
        ...(url.protocol === 'https:' ? { ca: req.tls?.ca, rejectUnauthorized: !req.tls?.insecure } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) {
            r.destroy();
            finish(() => reject(new CloudError('parse', `${what}: answer larger than ${MAX_BODY_BYTES} bytes`)));
            return;
          }
          chunks.push(c);
        });
        res.on('error', (err) => finish(() => reject(new CloudError('unreachable', `${what}: ${err.message}`))));
        res.on('end', () =>
          finish(() => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            if (status < 200 || status >= 300) {
              const kind = status === 401 || status === 403 ? 'auth' : 'http';
              reject(new CloudError(kind, `${what}: HTTP ${status} ${summarize(text)}`, status));
              return;
            }
            let body: unknown = null;
            if (text.trim() !== '') {
              try {
                body = JSON.parse(text);
              } catch {
                reject(new CloudError('parse', `${what}: HTTP ${status} but the body is not JSON: ${summarize(text)}`, status));
                return;
              }
            }
            resolve({ status, headers: res.headers, body });
          }),
        );
      },
    );
    const deadline = setTimeout(() => {
      r.destroy();
      finish(() => reject(new CloudError('timeout', `${what}: no answer within ${req.timeoutMs} ms`)));
    }, req.timeoutMs);
    r.on('error', (err) => finish(() => reject(new CloudError('unreachable', `${what}: ${err.message}`))));
    if (payload) r.write(payload);
    r.end();
  });
}

function summarize(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}...` : flat;
}
