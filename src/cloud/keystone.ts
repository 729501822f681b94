// Keystone v3: one token (password, application credential or token auth), kept until shortly
// before it expires, and the service catalog that came with it. Concurrent callers share one
// authentication; a service answering 401 makes the next call authenticate again.
import { z } from 'zod';
import type { CloudAuth, CloudScope, CloudSettings } from './clouds-config.ts';
import { CloudError, requestJson } from './http.ts';

const Endpoint = z.looseObject({ interface: z.string(), url: z.string(), region_id: z.string().nullish(), region: z.string().nullish() });
const TokenBody = z.looseObject({
  token: z.looseObject({
    expires_at: z.string(),
    catalog: z.array(z.looseObject({ type: z.string(), name: z.string().nullish(), endpoints: z.array(Endpoint) })).optional(),
    project: z.looseObject({ id: z.string(), name: z.string().nullish() }).nullish(),
    user: z.looseObject({ id: z.string(), name: z.string().nullish() }).nullish(),
  }),
});
type Catalog = NonNullable<z.infer<typeof TokenBody>['token']['catalog']>;

export interface Token {
  value: string;
  expiresAt: number;
  catalog: Catalog;
  projectId: string | null;
}

/** A token is renewed this long before it expires, so a request never starts with a dying one. */
export const TOKEN_RENEW_MARGIN_MS = 60_000;

function v3Url(authUrl: string): string {
  const base = authUrl.replace(/\/+$/, '');
  return /\/v3$/.test(base) ? base : `${base}/v3`;
}

function scopeBody(scope: CloudScope): Record<string, unknown> | undefined {
  if (scope.kind === 'unscoped') return undefined;
  if (scope.kind === 'domain') return { domain: scope.id ? { id: scope.id } : { name: scope.name } };
  const domain = scope.domainId ? { id: scope.domainId } : scope.domainName ? { name: scope.domainName } : undefined;
  return { project: scope.id ? { id: scope.id } : { name: scope.name, ...(domain ? { domain } : {}) } };
}

function userBody(a: { username: string | null; userId: string | null; userDomainId: string | null; userDomainName: string | null }): Record<string, unknown> {
  if (a.userId) return { id: a.userId };
  return { name: a.username, domain: a.userDomainId ? { id: a.userDomainId } : { name: a.userDomainName } };
}

/** The POST /v3/auth/tokens body for each auth type. */
export function authRequestBody(auth: CloudAuth): Record<string, unknown> {
  switch (auth.type) {
    case 'password': {
      const scope = scopeBody(auth.scope);
      return { auth: { identity: { methods: ['password'], password: { user: { ...userBody(auth), password: auth.password } } }, ...(scope ? { scope } : {}) } };
    }
    case 'applicationcredential': {
      // An application credential carries its own project scope: a scope in the request is refused.
      const credential = auth.id ? { id: auth.id, secret: auth.secret } : { name: auth.name, secret: auth.secret, user: userBody(auth) };
      return { auth: { identity: { methods: ['application_credential'], application_credential: credential } } };
    }
    case 'token': {
      const scope = scopeBody(auth.scope);
      return { auth: { identity: { methods: ['token'], token: { id: auth.token } }, ...(scope ? { scope } : {}) } };
    }
  }
}

export class KeystoneSession {
  private token: Token | null = null;
  private pending: Promise<Token> | null = null;
  /** Authentications made (tests check that the token is reused). */
  authCount = 0;
  readonly settings: CloudSettings;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(settings: CloudSettings, timeoutMs: number, now: () => number = Date.now) {
    this.settings = settings;
    this.timeoutMs = timeoutMs;
    this.now = now;
  }

  /** A valid token, authenticating when there is none or it expires within the margin. */
  async getToken(): Promise<Token> {
    if (this.token && this.token.expiresAt - TOKEN_RENEW_MARGIN_MS > this.now()) return this.token;
    if (!this.pending) {
      this.pending = this.authenticate().finally(() => {
        this.pending = null;
      });
    }
    return this.pending;
  }

  /** Forgets the token (a service said 401): the next call authenticates again. */
  invalidate(token: Token): void {
    if (this.token === token) this.token = null;
  }

  private async authenticate(): Promise<Token> {
    const s = this.settings;
    const url = `${v3Url(s.auth.authUrl)}/auth/tokens`;
    this.authCount++;
    let response;
    try {
      response = await requestJson({ method: 'POST', url, body: authRequestBody(s.auth), timeoutMs: this.timeoutMs, tls: { ca: s.ca ?? undefined, insecure: s.insecure } });
    } catch (err) {
      if (err instanceof CloudError && err.kind === 'auth') throw new CloudError('auth', `cloud ${s.name}: Keystone refused the ${s.auth.type} credentials (${err.message})`, err.status);
      throw err;
    }
    const subject = response.headers['x-subject-token'];
    const parsed = TokenBody.safeParse(response.body);
    if (typeof subject !== 'string' || !parsed.success) throw new CloudError('parse', `cloud ${s.name}: ${url} answered without a token (${parsed.success ? 'no X-Subject-Token' : parsed.error.issues[0]?.message})`);
    const expiresAt = Date.parse(parsed.data.token.expires_at);
    if (Number.isNaN(expiresAt)) throw new CloudError('parse', `cloud ${s.name}: token expires_at ${JSON.stringify(parsed.data.token.expires_at)} is not a date`);
    const token: Token = { value: subject, expiresAt, catalog: parsed.data.token.catalog ?? [], projectId: parsed.data.token.project?.id ?? null };
    this.token = token;
    return token;
  }

  /** The URL of a service (network, load-balancer) for the cloud's interface and region. */
  endpointOf(token: Token, serviceType: string): string {
    const override = this.settings.endpointOverrides[serviceType];
    if (override) return override.replace(/\/+$/, '');
    const service = token.catalog.find((e) => e.type === serviceType);
    const wanted = this.settings.interface;
    const region = this.settings.region;
    const endpoint = service?.endpoints.find((e) => e.interface === wanted && (region === null || e.region_id === region || e.region === region));
    if (!endpoint) {
      const have = token.catalog.map((e) => `${e.type}(${e.endpoints.map((x) => `${x.interface}@${x.region_id ?? x.region ?? '-'}`).join(',')})`).join(' ');
      throw new CloudError('catalog', `cloud ${this.settings.name}: the catalog has no ${wanted} ${serviceType} endpoint${region ? ` in region ${region}` : ''} (catalog: ${have || 'empty'})`);
    }
    return endpoint.url.replace(/\/+$/, '');
  }
}
