// Which cloud to ask and how to authenticate, read the way openstacksdk reads it:
//   - clouds.yaml from OS_CLIENT_CONFIG_FILE, else ./clouds.yaml, ~/.config/openstack/clouds.yaml,
//     /etc/openstack/clouds.yaml (the first that exists), with secure.yaml (same places,
//     OS_CLIENT_SECURE_FILE first) merged over it, so secrets can live apart;
//   - the cloud named by LBTOPO_CLOUD, else OS_CLOUD; with neither, the OS_* variables (openstacksdk
//     calls that cloud "envvars");
//   - auth_type password (the default), v3applicationcredential, token; region_name, interface
//     (public by default), cacert and verify, and <service>_endpoint_override.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CloudError } from './http.ts';

export type CloudAuth =
  | {
      type: 'password';
      authUrl: string;
      username: string | null;
      userId: string | null;
      password: string;
      userDomainId: string | null;
      userDomainName: string | null;
      scope: CloudScope;
    }
  | { type: 'applicationcredential'; authUrl: string; id: string | null; name: string | null; secret: string; username: string | null; userId: string | null; userDomainId: string | null; userDomainName: string | null }
  | { type: 'token'; authUrl: string; token: string; scope: CloudScope };

export type CloudScope =
  | { kind: 'project'; id: string | null; name: string | null; domainId: string | null; domainName: string | null }
  | { kind: 'domain'; id: string | null; name: string | null }
  | { kind: 'unscoped' };

export interface CloudSettings {
  /** The cloud's name in clouds.yaml, or "envvars". */
  name: string;
  /** Where it came from (the file, or "OS_* variables"), for messages. */
  source: string;
  auth: CloudAuth;
  region: string | null;
  /** public, internal or admin. */
  interface: 'public' | 'internal' | 'admin';
  /** PEM text of the CA file. */
  ca: string | null;
  insecure: boolean;
  /** Service type -> URL that replaces the catalog's. */
  endpointOverrides: Record<string, string>;
}

export function configSearchPath(env: NodeJS.ProcessEnv, cwd: string, home: string): { clouds: string[]; secure: string[] } {
  const places = (file: string) => [join(cwd, file), join(home, '.config', 'openstack', file), join('/etc/openstack', file)];
  return {
    clouds: [...(env.OS_CLIENT_CONFIG_FILE ? [env.OS_CLIENT_CONFIG_FILE] : []), ...places('clouds.yaml')],
    secure: [...(env.OS_CLIENT_SECURE_FILE ? [env.OS_CLIENT_SECURE_FILE] : []), ...places('secure.yaml')],
  };
}

const CloudEntry = z.looseObject({
  auth_type: z.string().optional(),
  auth: z.record(z.string(), z.unknown()).optional(),
  region_name: z.string().optional(),
  interface: z.string().optional(),
  endpoint_type: z.string().optional(),
  cacert: z.string().optional(),
  verify: z.union([z.boolean(), z.string()]).optional(),
});

function readYaml(file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CloudError('config', `${file}: not readable YAML (${(err as Error).message})`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new CloudError('config', `${file}: the top level is not a mapping`);
  return doc as Record<string, unknown>;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = b && v && typeof b === 'object' && typeof v === 'object' && !Array.isArray(b) && !Array.isArray(v) ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);

function normalizeInterface(value: string | null, source: string): CloudSettings['interface'] {
  if (value === null) return 'public';
  const v = value.replace(/URL$/, '');
  if (v === 'public' || v === 'internal' || v === 'admin') return v;
  throw new CloudError('config', `${source}: interface ${JSON.stringify(value)} is not public, internal or admin`);
}

function scopeOf(a: Record<string, unknown>): CloudScope {
  const projectId = str(a.project_id) ?? str(a.tenant_id);
  const projectName = str(a.project_name) ?? str(a.tenant_name);
  if (projectId || projectName) {
    return {
      kind: 'project',
      id: projectId,
      name: projectName,
      domainId: str(a.project_domain_id) ?? str(a.default_domain_id) ?? (str(a.project_domain_name) || str(a.default_domain_name) ? null : projectId ? null : 'default'),
      domainName: str(a.project_domain_name) ?? str(a.default_domain_name),
    };
  }
  if (str(a.domain_id) || str(a.domain_name)) return { kind: 'domain', id: str(a.domain_id), name: str(a.domain_name) };
  return { kind: 'unscoped' };
}

/** Builds the auth from a clouds.yaml `auth` mapping (keys as openstacksdk spells them). */
export function authOf(authType: string, a: Record<string, unknown>, source: string): CloudAuth {
  const authUrl = str(a.auth_url);
  if (!authUrl) throw new CloudError('config', `${source}: auth.auth_url is missing`);
  const userDomainId = str(a.user_domain_id) ?? str(a.default_domain_id);
  const userDomainName = str(a.user_domain_name) ?? str(a.default_domain_name);
  switch (authType.toLowerCase()) {
    case 'password':
    case 'v3password': {
      const password = str(a.password);
      const username = str(a.username);
      const userId = str(a.user_id);
      if (!password) throw new CloudError('config', `${source}: auth.password is missing`);
      if (!username && !userId) throw new CloudError('config', `${source}: auth.username (or user_id) is missing`);
      // A user named without a domain is in the default domain, as keystoneauth assumes.
      return { type: 'password', authUrl, username, userId, password, userDomainId: userDomainId ?? (userDomainName || userId ? null : 'default'), userDomainName, scope: scopeOf(a) };
    }
    case 'v3applicationcredential':
    case 'applicationcredential': {
      const secret = str(a.application_credential_secret);
      const id = str(a.application_credential_id);
      const name = str(a.application_credential_name);
      if (!secret) throw new CloudError('config', `${source}: auth.application_credential_secret is missing`);
      if (!id && !name) throw new CloudError('config', `${source}: auth.application_credential_id (or _name with the user) is missing`);
      const username = str(a.username);
      const userId = str(a.user_id);
      if (!id && !username && !userId) throw new CloudError('config', `${source}: an application credential given by name needs auth.username or user_id`);
      return { type: 'applicationcredential', authUrl, id, name, secret, username, userId, userDomainId: userDomainId ?? (userDomainName || userId ? null : 'default'), userDomainName };
    }
    case 'token':
    case 'v3token': {
      const token = str(a.token);
      if (!token) throw new CloudError('config', `${source}: auth.token is missing`);
      return { type: 'token', authUrl, token, scope: scopeOf(a) };
    }
    default:
      throw new CloudError('config', `${source}: auth_type ${JSON.stringify(authType)} is not supported (password, v3applicationcredential or token)`);
  }
}

function endpointOverrides(entry: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry)) {
    const m = /^(.+)_endpoint_override$/.exec(k);
    if (m && typeof v === 'string') out[m[1]!.replace(/_/g, '-')] = v;
  }
  return out;
}

function readCa(file: string | null, source: string): string | null {
  if (!file) return null;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CloudError('config', `${source}: cacert ${file} cannot be read (${(err as Error).message})`);
  }
}

function settingsFromEntry(name: string, source: string, raw: unknown): CloudSettings {
  const parsed = CloudEntry.safeParse(raw);
  if (!parsed.success) throw new CloudError('config', `${source}: cloud ${name} is not a mapping of settings (${parsed.error.issues[0]?.message})`);
  const entry = parsed.data;
  const verify = entry.verify === undefined ? true : entry.verify === true || entry.verify === 'true' || entry.verify === 'True';
  return {
    name,
    source,
    auth: authOf(entry.auth_type ?? 'password', entry.auth ?? {}, `${source} cloud ${name}`),
    region: entry.region_name ?? null,
    interface: normalizeInterface(entry.interface ?? entry.endpoint_type ?? null, `${source} cloud ${name}`),
    ca: readCa(entry.cacert ?? null, `${source} cloud ${name}`),
    insecure: !verify,
    endpointOverrides: endpointOverrides(entry),
  };
}

/** The OS_* variables as an `auth` mapping and cloud entry, as openstacksdk's envvars cloud. */
function entryFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> | null {
  if (!env.OS_AUTH_URL) return null;
  const auth: Record<string, unknown> = {};
  const map: Record<string, string> = {
    OS_AUTH_URL: 'auth_url',
    OS_USERNAME: 'username',
    OS_USER_ID: 'user_id',
    OS_PASSWORD: 'password',
    OS_PROJECT_NAME: 'project_name',
    OS_TENANT_NAME: 'project_name',
    OS_PROJECT_ID: 'project_id',
    OS_TENANT_ID: 'project_id',
    OS_USER_DOMAIN_NAME: 'user_domain_name',
    OS_USER_DOMAIN_ID: 'user_domain_id',
    OS_PROJECT_DOMAIN_NAME: 'project_domain_name',
    OS_PROJECT_DOMAIN_ID: 'project_domain_id',
    OS_DOMAIN_NAME: 'domain_name',
    OS_DOMAIN_ID: 'domain_id',
    OS_DEFAULT_DOMAIN: 'default_domain_id',
    OS_DEFAULT_DOMAIN_ID: 'default_domain_id',
    OS_DEFAULT_DOMAIN_NAME: 'default_domain_name',
    OS_TOKEN: 'token',
    OS_APPLICATION_CREDENTIAL_ID: 'application_credential_id',
    OS_APPLICATION_CREDENTIAL_NAME: 'application_credential_name',
    OS_APPLICATION_CREDENTIAL_SECRET: 'application_credential_secret',
  };
  for (const [variable, key] of Object.entries(map)) if (env[variable] && auth[key] === undefined) auth[key] = env[variable];
  const authType = env.OS_AUTH_TYPE ?? (env.OS_APPLICATION_CREDENTIAL_SECRET ? 'v3applicationcredential' : env.OS_TOKEN && !env.OS_PASSWORD ? 'token' : 'password');
  const entry: Record<string, unknown> = { auth_type: authType, auth };
  if (env.OS_REGION_NAME) entry.region_name = env.OS_REGION_NAME;
  if (env.OS_INTERFACE ?? env.OS_ENDPOINT_TYPE) entry.interface = env.OS_INTERFACE ?? env.OS_ENDPOINT_TYPE;
  if (env.OS_CACERT) entry.cacert = env.OS_CACERT;
  if (env.OS_INSECURE) entry.verify = !/^(1|true|yes)$/i.test(env.OS_INSECURE);
  return entry;
}

/**
 * The cloud to ask: `name` (LBTOPO_CLOUD, else OS_CLOUD) from clouds.yaml, or with no name the OS_*
 * variables; null when neither is configured (lbtopo then works without a cloud, as before).
 */
export function resolveCloud(name: string | null, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), home = homedir()): CloudSettings | null {
  if (!name) {
    const entry = entryFromEnv(env);
    return entry ? settingsFromEntry('envvars', 'OS_* variables', entry) : null;
  }
  const paths = configSearchPath(env, cwd, home);
  const file = paths.clouds.find((p) => existsSync(p));
  if (!file) throw new CloudError('config', `cloud ${name}: no clouds.yaml found (looked in ${paths.clouds.join(', ')})`);
  let doc = readYaml(file);
  const secureFile = paths.secure.find((p) => existsSync(p));
  if (secureFile) doc = deepMerge(doc, readYaml(secureFile));
  const clouds = doc.clouds;
  if (!clouds || typeof clouds !== 'object') throw new CloudError('config', `${file}: no "clouds" mapping`);
  const entry = (clouds as Record<string, unknown>)[name];
  if (entry === undefined) throw new CloudError('config', `${file}: no cloud named ${name} (it has ${Object.keys(clouds).join(', ') || 'none'})`);
  return settingsFromEntry(name, file, entry);
}
