// An authenticated, read-only GET to a service from the catalog, with the token from Keystone,
// one retry after a 401 (the token was revoked or expired early), and paging followed through
// the `<collection>_links` next links (Neutron and Octavia page when the operator sets a limit).
// The whole call, pages and retry included, keeps to one deadline.
import { z } from 'zod';
import { CloudError, requestJson } from './http.ts';
import type { KeystoneSession } from './keystone.ts';

const pageSchema = z.record(z.string(), z.unknown());

/** More pages than this is a runaway paging loop, not a cloud. */
const MAX_PAGES = 200;

export class ServiceApi {
  readonly keystone: KeystoneSession;
  readonly serviceType: string;
  private readonly timeoutMs: number;
  /** Requests sent (tests count them: one list call per resource type per look). */
  requestCount = 0;
  /** Paths asked, in order (tests read them). */
  readonly requested: string[] = [];

  constructor(keystone: KeystoneSession, serviceType: string, timeoutMs: number) {
    this.keystone = keystone;
    this.serviceType = serviceType;
    this.timeoutMs = timeoutMs;
  }

  /** GET `path` (relative to the service endpoint, query included) and parse it with `schema`. */
  async get<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> {
    const deadline = Date.now() + this.timeoutMs;
    const remaining = () => {
      const ms = deadline - Date.now();
      if (ms <= 0) throw new CloudError('timeout', `cloud ${this.keystone.settings.name}: ${this.serviceType} ${path}: no answer within ${this.timeoutMs} ms`);
      return ms;
    };
    for (let attempt = 0; ; attempt++) {
      const token = await withDeadline(this.keystone.getToken(), remaining(), () => `cloud ${this.keystone.settings.name}: Keystone did not answer within ${this.timeoutMs} ms`);
      const base = this.keystone.endpointOf(token, this.serviceType);
      try {
        this.requestCount++;
        this.requested.push(path);
        const response = await requestJson({
          method: 'GET',
          url: `${base}${path}`,
          headers: { 'x-auth-token': token.value },
          timeoutMs: remaining(),
          tls: { ca: this.keystone.settings.ca ?? undefined, insecure: this.keystone.settings.insecure },
        });
        const parsed = schema.safeParse(response.body);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new CloudError('parse', `cloud ${this.keystone.settings.name}: ${this.serviceType} ${path}: unexpected answer (${issue?.path.join('.')}: ${issue?.message})`);
        }
        return parsed.data;
      } catch (err) {
        if (err instanceof CloudError && err.status === 401 && attempt === 0) {
          this.keystone.invalidate(token);
          continue;
        }
        throw err;
      }
    }
  }

  /** Every item of a collection (`{<key>: [...]}`), following `<key>_links` rel=next. */
  async list<T>(path: string, key: string, schema: z.ZodType<T>): Promise<T[]> {
    const items: T[] = [];
    let next: string | null = path;
    for (let page = 0; next !== null; page++) {
      if (page >= MAX_PAGES) throw new CloudError('parse', `cloud ${this.keystone.settings.name}: ${this.serviceType} ${path}: more than ${MAX_PAGES} pages`);
      const body = (await this.get(next, pageSchema)) as Record<string, unknown>;
      const raw = body[key];
      if (!Array.isArray(raw)) throw new CloudError('parse', `cloud ${this.keystone.settings.name}: ${this.serviceType} ${next}: no "${key}" list in the answer`);
      for (const [i, item] of raw.entries()) {
        const parsed = schema.safeParse(item);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new CloudError('parse', `cloud ${this.keystone.settings.name}: ${this.serviceType} ${next}: ${key}[${i}] unexpected (${issue?.path.join('.')}: ${issue?.message})`);
        }
        items.push(parsed.data);
      }
      next = nextLink(body[`${key}_links`], path);
    }
    return items;
  }
}


/** The path (relative to the service root) of a rel=next link, or null. */
function nextLink(links: unknown, firstPath: string): string | null {
  if (!Array.isArray(links)) return null;
  const next = links.find((l) => l && typeof l === 'object' && (l as { rel?: unknown }).rel === 'next') as { href?: unknown } | undefined;
  if (!next || typeof next.href !== 'string') return null;
  const url = new URL(next.href, 'http://x');
  // Links are absolute URLs that repeat the version prefix of the first path (/v2.0/..., /v2/...).
  const prefix = firstPath.split('/').slice(0, 2).join('/');
  const at = url.pathname.indexOf(prefix);
  return at >= 0 ? `${url.pathname.slice(at)}${url.search}` : null;
}

async function withDeadline<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new CloudError('timeout', message())), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A query string with repeatable keys: [['device_owner', 'a'], ['device_owner', 'b']]. */
export function query(params: ReadonlyArray<readonly [string, string]>): string {
  if (params.length === 0) return '';
  return `?${params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`;
}
