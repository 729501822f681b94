// The HTTP edge, before GraphQL sees a request: what a browser page on another site, or a name
// rebound to 127.0.0.1, must not be able to do.
//   - Host: only names this server answers to (the listen address, localhost, 127.0.0.1, [::1],
//     plus LBTOPO_ALLOWED_HOSTS). A DNS-rebinding page reaches us under its own name: 421.
//   - Origin: a request a browser marks with another site's Origin is refused (403) unless that
//     origin is in LBTOPO_CORS_ORIGINS; same-origin pages (GraphiQL) pass. CORS headers go only to
//     allowed origins, never with credentials (the token is a header, not a cookie).
//   - POST bodies only as application/json (415 otherwise): form-encoded, multipart and text/plain
//     are what a page can send without a preflight, so none of them can reach `refresh`.
// GET never runs a mutation (yoga refuses with 405), and the bearer token (server.ts) guards
// every path but /health, GraphiQL included.
import { timingSafeEqual } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';

export type EdgeRefusal = 'host' | 'origin' | 'content-type';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** `[::1]:4000` -> `[::1]`, `Example.COM.:80` -> `example.com`; null when it is no host. */
export function hostNameOf(hostHeader: string): string | null {
  try {
    const name = new URL(`http://${hostHeader.trim()}`).hostname.toLowerCase();
    return name.endsWith('.') ? name.slice(0, -1) : name;
  } catch {
    return null;
  }
}

export function allowedHostNames(config: Config): Set<string> {
  const listen = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  return new Set([listen.toLowerCase(), ...LOOPBACK_NAMES, ...config.edge.allowedHosts]);
}

function json(fetchAPI: { Response: typeof Response }, status: number, message: string, code: string, headers: Record<string, string> = {}): Response {
  return new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

/** The authority the request was sent to: its Host header, else (in-process yoga.fetch) its URL. */
function authorityOf(request: Request, url: URL): string {
  return request.headers.get('host') ?? url.host;
}

function originAllowed(origin: string, request: Request, url: URL, config: Config): boolean {
  const list = config.edge.corsOrigins;
  if (list.includes('*') || list.includes(origin)) return true;
  try {
    const o = new URL(origin);
    return o.protocol === 'http:' && o.host.toLowerCase() === authorityOf(request, url).toLowerCase();
  } catch {
    return false; // "null" (sandboxed frames, file://) and garbage
  }
}

export function useHttpEdge(config: Config, refused: (reason: EdgeRefusal) => void = () => {}): Plugin {
  const hosts = allowedHostNames(config);
  const anyHost = hosts.has('*');
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      const host = request.headers.get('host');
      // No Host header: an in-process call (yoga.fetch from the CLI and tests); HTTP/1.1 requires one.
      if (host !== null && !anyHost) {
        const name = hostNameOf(host);
        if (name === null || !hosts.has(name)) {
          refused('host');
          endResponse(json(fetchAPI, 421, `this server does not answer to the host ${JSON.stringify(host.slice(0, 100))}: add it to LBTOPO_ALLOWED_HOSTS if it is really this server`, 'HOST_NOT_ALLOWED'));
          return;
        }
      }
      const origin = request.headers.get('origin');
      if (origin !== null && !originAllowed(origin, request, url, config)) {
        refused('origin');
        endResponse(json(fetchAPI, 403, `requests from the origin ${JSON.stringify(origin.slice(0, 200))} are not allowed: only the same origin and LBTOPO_CORS_ORIGINS`, 'ORIGIN_NOT_ALLOWED'));
        return;
      }
      if (request.method === 'POST') {
        const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/json') {
          refused('content-type');
          endResponse(json(fetchAPI, 415, `POST bodies must be application/json${type ? `, not ${JSON.stringify(type.slice(0, 100))}` : ' (no content-type was given)'}`, 'UNSUPPORTED_MEDIA_TYPE', { accept: 'application/json' }));
        }
      }
    },
  };
}

/** yoga's `cors` option: headers only for allowed cross-origin requests, never credentials. */
export function corsPolicy(config: Config) {
  return (request: Request) => {
    const origin = request.headers.get('origin');
    const list = config.edge.corsOrigins;
    if (origin === null || !(list.includes('*') || list.includes(origin))) return false as const;
    return { origin: [origin], credentials: false, methods: ['GET', 'POST'], allowedHeaders: ['authorization', 'content-type', 'accept'], maxAge: 600 };
  };
}

/**
 * yoga renders GraphiQL before any plugin of ours sees the request, so the token check must be
 * in the GraphiQL option itself: without the right token there is no page (false), and the
 * request goes on to the token check, which answers 401.
 */
export function graphiqlBehindToken<T>(token: string | null, options: () => T): (request: Request) => T | false {
  const expected = token ? Buffer.from(`Bearer ${token}`) : null;
  return (request) => {
    if (!expected) return options();
    const given = Buffer.from(request.headers.get('authorization') ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected) ? options() : false;
  };
}
