// Settings from LBTOPO_* environment variables and the same names as flags (--listen, --db, ...),
// validated up front so a typo fails at start with a message naming the setting, not later.
import { hostname } from 'node:os';
import { z } from 'zod';
import { isValidOvsdbTarget } from './host/ovs.ts';
import { isValidNamespaceName } from './host/names.ts';
import type { OvsdbSslFiles } from './host/ovs.ts';

/** `cloud`: the control-plane lists (Neutron ports, Octavia objects), when a cloud is configured. */
export const PROBE_NAMES = ['lbaas', 'netns', 'proc', 'ip', 'ovs', 'stats', 'amphora', 'rule', 'cloud'] as const;
export type ProbeName = (typeof PROBE_NAMES)[number];
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface Config {
  listen: { host: string; port: number };
  db: string;
  netnsDir: string;
  lbaasDir: string;
  octaviaDir: string;
  ovsdb: string;
  /** Key, certificate and CA files for an ssl: OVSDB target (null unless all three are set). */
  ovsdbSsl: OvsdbSslFiles | null;
  /** Default freshness of a cached observation. */
  ttlMs: number;
  /** Per-probe freshness (LBTOPO_TTL_IP=2s, ...); falls back to ttlMs. */
  probeTtlMs: Record<ProbeName, number>;
  token: string | null;
  commandTimeoutMs: number;
  commandConcurrency: number;
  /** The clouds.yaml cloud to compare with (LBTOPO_CLOUD, else OS_CLOUD); null: OS_* variables if set, else no cloud. */
  cloud: string | null;
  /** Deadline of each control-plane call (authentication and paging included). */
  cloudTimeoutMs: number;
  /** How long the host and the API must disagree on a status before OPERATING_STATUS_DRIFT (two heartbeats). */
  cloudStatusGraceMs: number;
  /** The namespace an amphora runs haproxy and keepalived in (Octavia: amphora-haproxy). */
  amphoraNamespace: string;
  /** The amphora agent's config (amphora id, topology, health-manager targets, cert paths). */
  amphoraAgentConfig: string;
  /** CERT_EXPIRING fires when a certificate expires within this many days. */
  certWarningDays: number;
  /** This host's name in the fleet (LBTOPO_HOST, default the hostname); also its PostgreSQL login role. */
  host: string;
  /** PostgreSQL URL the host pushes its facts to (and `fleet serve` reads); null: no fleet. */
  fleetDb: string | null;
  /** Heartbeat push interval; a host silent for three intervals is stale. */
  fleetIntervalMs: number;
  /** The URL Prometheus scrapes this host's /metrics at (pushed for the fleet's http_sd); null: from LBTOPO_LISTEN. */
  fleetScrapeUrl: string | null;
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** OTLP/HTTP traces endpoint (e.g. http://127.0.0.1:4318/v1/traces); null: no tracing, nothing loaded. */
  otlpEndpoint: string | null;
  /** service.name on exported spans. */
  otlpServiceName: string;
  /** Change events (netlink, OVSDB monitor, directory watches) outdate cached observations at once. */
  events: boolean;
  /** Read namespaces over rtnetlink in-process when the addon loads (else always `ip -batch`). */
  netlink: boolean;
  /** Read OVS over JSON-RPC on the OVSDB socket (else always ovs-vsctl). */
  ovsdbJsonRpc: boolean;
  /** Background refresh interval keeping what checks and scrapes need warm; 0 = off. */
  refreshMs: number;
  /**
   * The state dirs set explicitly (env or flag): one of these missing is a failed look, never
   * "0 pools". The defaults may be absent (a host runs neutron-lbaas or Octavia, rarely both).
   */
  stateDirsGiven: { lbaas: boolean; octavia: boolean };
  /** `processes` lists: 'lbaas' (processes in named namespaces, haproxy, keepalived) or 'all'. */
  processVisibility: 'lbaas' | 'all';
  /** Commands that may wait for a slot before new ones are refused. */
  commandQueue: number;
  /** Query and request limits (src/graphql/limits.ts). */
  limits: QueryLimits;
  /** The HTTP edge (src/http/edge.ts). */
  edge: EdgePolicy;
}

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxFields: number;
  maxCost: number;
  maxTokens: number;
  /** A request's whole time; stale data is served for probes still running shortly before it. */
  requestDeadlineMs: number;
  /** The largest POST body read (413 beyond it), before anything parses it (src/http/replay.ts). */
  maxBodyBytes: number;
}

export interface EdgePolicy {
  /** Origins allowed besides the server's own (exact, e.g. https://dash.example:8443); '*' = any. */
  corsOrigins: string[];
  /** Host header names allowed (lower-case, without port); '*' = any. */
  allowedHosts: string[];
}

/** Every setting: env name, flag name, default, meaning. The README table is made from this. */
export const SETTINGS = [
  { env: 'LBTOPO_LISTEN', flag: 'listen', default: '127.0.0.1:4000', help: 'address:port the server listens on' },
  { env: 'LBTOPO_DB', flag: 'db', default: './data/topology.sqlite', help: 'SQLite file of the observation cache' },
  { env: 'LBTOPO_NETNS_DIR', flag: 'netns-dir', default: '/run/netns', help: 'where named network namespaces are mounted' },
  { env: 'LBTOPO_LBAAS_DIR', flag: 'lbaas-dir', default: '/var/lib/neutron/lbaas', help: 'neutron-lbaas state path (v1 pools, v2/ load balancers)' },
  { env: 'LBTOPO_OCTAVIA_DIR', flag: 'octavia-dir', default: '/var/lib/octavia', help: 'Octavia amphora haproxy base path' },
  { env: 'LBTOPO_OVSDB', flag: 'ovsdb', default: 'unix:/var/run/openvswitch/db.sock', help: 'OVSDB target (unix:/path, tcp:host:port, ssl:host:port), spoken to over JSON-RPC, ovs-vsctl --db as fallback' },
  { env: 'LBTOPO_OVSDB_SSL_KEY', flag: 'ovsdb-ssl-key', default: '', help: 'private key (PEM) for an ssl: OVSDB target' },
  { env: 'LBTOPO_OVSDB_SSL_CERT', flag: 'ovsdb-ssl-cert', default: '', help: 'certificate (PEM) of that key, signed by a CA the server trusts' },
  { env: 'LBTOPO_OVSDB_SSL_CA', flag: 'ovsdb-ssl-ca', default: '', help: 'CA certificate (PEM) the server certificate must be signed by' },
  { env: 'LBTOPO_TTL', flag: 'ttl', default: '10s', help: 'how long an observation is served without looking again' },
  { env: 'LBTOPO_TOKEN', flag: 'token', default: '', help: 'bearer token; required to listen anywhere but loopback' },
  { env: 'LBTOPO_COMMAND_TIMEOUT', flag: 'command-timeout', default: '5s', help: 'timeout of each host command' },
  { env: 'LBTOPO_COMMAND_CONCURRENCY', flag: 'command-concurrency', default: '4', help: 'host commands run at once' },
  { env: 'LBTOPO_CLOUD', flag: 'cloud', default: '', help: 'clouds.yaml cloud to compare with (OS_CLOUD when unset; OS_* variables without either; none: no cloud)' },
  { env: 'LBTOPO_CLOUD_TIMEOUT', flag: 'cloud-timeout', default: '3s', help: 'deadline of each Keystone, Neutron or Octavia call' },
  { env: 'LBTOPO_CLOUD_STATUS_GRACE', flag: 'cloud-status-grace', default: '20s', help: 'how long host and API must disagree on a status before OPERATING_STATUS_DRIFT' },
  { env: 'LBTOPO_HOST', flag: 'host', default: '', help: "this host's name in the fleet and its PostgreSQL role, and as Neutron knows it (binding:host_id) (empty: the hostname)" },
  { env: 'LBTOPO_AMPHORA_NAMESPACE', flag: 'amphora-namespace', default: 'amphora-haproxy', help: 'namespace an Octavia amphora runs haproxy and keepalived in' },
  { env: 'LBTOPO_AMPHORA_AGENT_CONF', flag: 'amphora-agent-conf', default: '/etc/octavia/amphora-agent.conf', help: 'the amphora agent config (amphora id, topology, health-manager targets, certs)' },
  { env: 'LBTOPO_CERT_WARNING_DAYS', flag: 'cert-warning-days', default: '14', help: 'CERT_EXPIRING when an amphora certificate expires within this many days' },
  { env: 'LBTOPO_FLEET_DB', flag: 'fleet-db', default: '', help: 'PostgreSQL URL to push facts to (serve) or read them from (fleet serve); sslmode, sslcert, sslkey, sslrootcert in the URL' },
  { env: 'LBTOPO_FLEET_INTERVAL', flag: 'fleet-interval', default: '30s', help: 'heartbeat push interval; three without a push make a host stale' },
  { env: 'LBTOPO_FLEET_SCRAPE_URL', flag: 'fleet-scrape-url', default: '', help: "where Prometheus scrapes this host's /metrics, for the fleet's http_sd (empty: from LBTOPO_LISTEN)" },
  { env: 'LBTOPO_LOG_FORMAT', flag: 'log-format', default: 'json', help: 'log lines on stderr: json (one object per line) or text' },
  { env: 'LBTOPO_LOG_LEVEL', flag: 'log-level', default: 'info', help: 'least severe log level written: debug, info, warn, error' },
  { env: 'LBTOPO_OTLP_ENDPOINT', flag: 'otlp-endpoint', default: '', help: 'OpenTelemetry traces (request, root fields, probe looks) to this OTLP/HTTP JSON endpoint, e.g. http://127.0.0.1:4318/v1/traces (empty: off)' },
  { env: 'LBTOPO_OTLP_SERVICE_NAME', flag: 'otlp-service-name', default: 'lbaas-topology', help: 'service.name of the exported spans' },
  { env: 'LBTOPO_NETLINK', flag: 'netlink', default: 'on', help: 'read namespaces over rtnetlink in-process when the addon loads, else ip -batch (on or off)' },
  { env: 'LBTOPO_OVSDB_JSONRPC', flag: 'ovsdb-jsonrpc', default: 'on', help: 'read OVS over JSON-RPC on the OVSDB socket, else ovs-vsctl (on or off)' },
  { env: 'LBTOPO_EVENTS', flag: 'events', default: 'on', help: 'serve: let netlink, OVSDB monitor and directory-watch events outdate the cache at once (on or off)' },
  { env: 'LBTOPO_REFRESH', flag: 'refresh', default: 'auto', help: 'serve: background refresh interval keeping checks and scrapes warm (auto = a quarter of the shortest TTL, 0 = off)' },
  { env: 'LBTOPO_PROCESSES', flag: 'processes', default: 'lbaas', help: 'which processes the API shows: lbaas (in named namespaces, haproxy, keepalived) or all; secret-looking argv values are redacted either way' },
  { env: 'LBTOPO_COMMAND_QUEUE', flag: 'command-queue', default: '4096', help: 'host commands that may wait for a slot; more are refused (probe fails as overloaded)' },
  { env: 'LBTOPO_REQUEST_DEADLINE', flag: 'request-deadline', default: '30s', help: "a request's whole time; near it, probes still running are served stale (named in probeFailures)" },
  { env: 'LBTOPO_QUERY_MAX_DEPTH', flag: 'query-max-depth', default: '10', help: 'deepest field nesting a query may have' },
  { env: 'LBTOPO_QUERY_MAX_ALIASES', flag: 'query-max-aliases', default: '30', help: 'aliased fields a query may have' },
  { env: 'LBTOPO_QUERY_MAX_FIELDS', flag: 'query-max-fields', default: '500', help: 'fields a query may select, fragments expanded' },
  { env: 'LBTOPO_QUERY_MAX_COST', flag: 'query-max-cost', default: '50000', help: 'static cost a query may have (each field 1, times 100 under a root list, 10 under a nested list)' },
  { env: 'LBTOPO_QUERY_MAX_TOKENS', flag: 'query-max-tokens', default: '5000', help: 'GraphQL tokens a document may have (parsing stops beyond)' },
  { env: 'LBTOPO_MAX_BODY_BYTES', flag: 'max-body-bytes', default: '1048576', help: 'serve: bytes a POST body may have; beyond it the answer is 413 and the connection closes, before anything parses it' },
  { env: 'LBTOPO_CORS_ORIGINS', flag: 'cors-origins', default: '', help: 'comma-separated origins allowed besides the same origin (* = any)' },
  { env: 'LBTOPO_ALLOWED_HOSTS', flag: 'allowed-hosts', default: '', help: 'comma-separated Host header names allowed besides the listen address, localhost, 127.0.0.1, [::1] (* = any)' },
] as const;

/** node:util parseArgs options for every setting flag (--listen, --db, ..., --ttl-<probe>). */
export function settingOptions(): Record<string, { type: 'string' }> {
  return Object.fromEntries([...SETTINGS.map((s) => [s.flag, { type: 'string' as const }]), ...PROBE_NAMES.map((p) => [`ttl-${p}`, { type: 'string' as const }])]);
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** '10s', '500ms', '2m', '1h' or a bare number of seconds -> ms. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

function duration(setting: string) {
  return z.string().transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `${setting}: "${s}" is not a duration (use e.g. 10s, 500ms, 2m)` });
      return z.NEVER;
    }
    return ms;
  });
}

function count(setting: string, min: number, max: number) {
  return z.coerce.number({ error: `${setting} must be a number` }).int(`${setting} must be an integer`).min(min, `${setting} must be at least ${min}`).max(max, `${setting} must be at most ${max}`);
}

function list(setting: string, valid: (item: string) => boolean, what: string) {
  return z.string().transform((s, ctx) => {
    const items = s.split(',').map((i) => i.trim()).filter(Boolean);
    for (const item of items) {
      if (!valid(item)) {
        ctx.addIssue({ code: 'custom', message: `${setting}: ${JSON.stringify(item)} is not ${what}` });
        return z.NEVER;
      }
    }
    return items;
  });
}

function isOriginOrStar(item: string): boolean {
  if (item === '*') return true;
  try {
    const u = new URL(item);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === item.replace(/\/$/, '');
  } catch {
    return false;
  }
}

function isHostNameOrStar(item: string): boolean {
  return item === '*' || /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)$/.test(item);
}

const absolutePathOrRelative = (setting: string) =>
  z.string().min(1, `${setting} must not be empty`).refine((s) => !/[\0\n]/.test(s), `${setting} contains a control character`);

function parseListen(text: string): { host: string; port: number } | null {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m[2]);
  if (port > 65535) return null;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** A host name that is also a safe PostgreSQL role name (quoted, but no quotes or spaces inside). */
export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The hostname, cut at the first dot when it is not a valid host name as a whole. */
function defaultHostName(): string {
  const name = hostname();
  if (HOST_NAME.test(name)) return name;
  const short = name.split('.')[0] ?? '';
  return HOST_NAME.test(short) ? short : 'localhost';
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Builds the Config from env (LBTOPO_*) overridden by flags (same names without the prefix,
 * lower-case with dashes). Throws ConfigError listing every problem.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: Record<string, string | undefined> = {}): Config {
  const raw: Record<string, string> = {};
  for (const s of SETTINGS) raw[s.env] = flags[s.flag] ?? env[s.env] ?? s.default;
  for (const p of PROBE_NAMES) {
    const v = flags[`ttl-${p}`] ?? env[`LBTOPO_TTL_${p.toUpperCase()}`];
    if (v !== undefined) raw[`LBTOPO_TTL_${p.toUpperCase()}`] = v;
  }
  const schema = z.object({
    LBTOPO_LISTEN: z.string().transform((s, ctx) => {
      const l = parseListen(s);
      if (!l) {
        ctx.addIssue({ code: 'custom', message: `LBTOPO_LISTEN: "${s}" is not host:port (e.g. 127.0.0.1:4000)` });
        return z.NEVER;
      }
      return l;
    }),
    LBTOPO_DB: absolutePathOrRelative('LBTOPO_DB'),
    LBTOPO_NETNS_DIR: absolutePathOrRelative('LBTOPO_NETNS_DIR'),
    LBTOPO_LBAAS_DIR: absolutePathOrRelative('LBTOPO_LBAAS_DIR'),
    LBTOPO_OCTAVIA_DIR: absolutePathOrRelative('LBTOPO_OCTAVIA_DIR'),
    LBTOPO_OVSDB: z.string().refine(isValidOvsdbTarget, {
      error: (issue) => `LBTOPO_OVSDB: ${JSON.stringify(issue.input)} is not an OVSDB target (unix:/path, tcp:host:port or ssl:host:port)`,
    }),
    LBTOPO_OVSDB_SSL_KEY: z.string().refine((s) => !/[\0\n]/.test(s), 'LBTOPO_OVSDB_SSL_KEY contains a control character'),
    LBTOPO_OVSDB_SSL_CERT: z.string().refine((s) => !/[\0\n]/.test(s), 'LBTOPO_OVSDB_SSL_CERT contains a control character'),
    LBTOPO_OVSDB_SSL_CA: z.string().refine((s) => !/[\0\n]/.test(s), 'LBTOPO_OVSDB_SSL_CA contains a control character'),
    LBTOPO_TTL: duration('LBTOPO_TTL'),
    LBTOPO_TOKEN: z.string(),
    LBTOPO_COMMAND_TIMEOUT: duration('LBTOPO_COMMAND_TIMEOUT').refine((ms) => ms >= 100, 'LBTOPO_COMMAND_TIMEOUT must be at least 100ms'),
    LBTOPO_PROCESSES: z.enum(['lbaas', 'all'], { error: (issue) => `LBTOPO_PROCESSES: ${JSON.stringify(issue.input)} is not lbaas or all` }),
    LBTOPO_COMMAND_CONCURRENCY: z.coerce.number().int('LBTOPO_COMMAND_CONCURRENCY must be an integer').min(1).max(64),
    LBTOPO_CLOUD: z.string().refine((s) => s === '' || /^[A-Za-z0-9_.@-]{1,128}$/.test(s), 'LBTOPO_CLOUD must be a clouds.yaml cloud name (letters, digits, _ . @ -)'),
    LBTOPO_CLOUD_TIMEOUT: duration('LBTOPO_CLOUD_TIMEOUT').refine((ms) => ms >= 100, 'LBTOPO_CLOUD_TIMEOUT must be at least 100ms'),
    LBTOPO_CLOUD_STATUS_GRACE: duration('LBTOPO_CLOUD_STATUS_GRACE'),
    LBTOPO_AMPHORA_NAMESPACE: z.string().refine(isValidNamespaceName, { error: (issue) => `LBTOPO_AMPHORA_NAMESPACE: ${JSON.stringify(issue.input)} is not a namespace name` }),
    LBTOPO_AMPHORA_AGENT_CONF: absolutePathOrRelative('LBTOPO_AMPHORA_AGENT_CONF'),
    LBTOPO_CERT_WARNING_DAYS: z.coerce.number({ error: 'LBTOPO_CERT_WARNING_DAYS must be a number of days' }).int('LBTOPO_CERT_WARNING_DAYS must be a whole number of days').min(0).max(3650),
    LBTOPO_HOST: z.string().refine((h) => h === '' || HOST_NAME.test(h), {
      error: (issue) => `LBTOPO_HOST: ${JSON.stringify(issue.input)} is not a host name (letters, digits, '.', '_', '-'; at most 63; it is also a PostgreSQL role name)`,
    }),
    LBTOPO_FLEET_DB: z.string().refine((u) => u === '' || /^postgres(ql)?:\/\//.test(u), {
      error: (issue) => `LBTOPO_FLEET_DB: ${JSON.stringify(issue.input)} is not a postgresql:// URL`,
    }),
    LBTOPO_FLEET_INTERVAL: duration('LBTOPO_FLEET_INTERVAL').refine((ms) => ms >= 200, 'LBTOPO_FLEET_INTERVAL must be at least 200ms'),
    LBTOPO_FLEET_SCRAPE_URL: z.string().refine((u) => u === '' || /^https?:\/\//.test(u), {
      error: (issue) => `LBTOPO_FLEET_SCRAPE_URL: ${JSON.stringify(issue.input)} is not an http(s):// URL`,
    }),
    LBTOPO_LOG_FORMAT: z.enum(LOG_FORMATS, { error: (i) => `LBTOPO_LOG_FORMAT: ${JSON.stringify(i.input)} is not ${LOG_FORMATS.join(' or ')}` }),
    LBTOPO_LOG_LEVEL: z.enum(LOG_LEVELS, { error: (i) => `LBTOPO_LOG_LEVEL: ${JSON.stringify(i.input)} is not one of ${LOG_LEVELS.join(', ')}` }),
    LBTOPO_OTLP_ENDPOINT: z.string().refine((u) => u === '' || URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), {
      error: (issue) => `LBTOPO_OTLP_ENDPOINT: ${JSON.stringify(issue.input)} is not an http(s):// URL`,
    }),
    LBTOPO_OTLP_SERVICE_NAME: z.string().min(1, 'LBTOPO_OTLP_SERVICE_NAME must not be empty'),
    LBTOPO_NETLINK: z.enum(['on', 'off'], { error: (issue) => `LBTOPO_NETLINK: ${JSON.stringify(issue.input)} is not on or off` }),
    LBTOPO_OVSDB_JSONRPC: z.enum(['on', 'off'], { error: (issue) => `LBTOPO_OVSDB_JSONRPC: ${JSON.stringify(issue.input)} is not on or off` }),
    LBTOPO_EVENTS: z.enum(['on', 'off'], { error: (issue) => `LBTOPO_EVENTS: ${JSON.stringify(issue.input)} is not on or off` }),
    LBTOPO_REFRESH: z.string().transform((s, ctx) => {
      if (s === 'auto') return -1;
      const ms = parseDuration(s);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `LBTOPO_REFRESH: "${s}" is not auto, 0 or a duration (e.g. 5s)` });
        return z.NEVER;
      }
      return ms;
    }),
    LBTOPO_COMMAND_QUEUE: count('LBTOPO_COMMAND_QUEUE', 0, 1_000_000),
    LBTOPO_REQUEST_DEADLINE: duration('LBTOPO_REQUEST_DEADLINE').refine((ms) => ms >= 100, 'LBTOPO_REQUEST_DEADLINE must be at least 100ms'),
    LBTOPO_QUERY_MAX_DEPTH: count('LBTOPO_QUERY_MAX_DEPTH', 1, 1000),
    LBTOPO_QUERY_MAX_ALIASES: count('LBTOPO_QUERY_MAX_ALIASES', 0, 100_000),
    LBTOPO_QUERY_MAX_FIELDS: count('LBTOPO_QUERY_MAX_FIELDS', 1, 1_000_000),
    LBTOPO_QUERY_MAX_COST: count('LBTOPO_QUERY_MAX_COST', 1, 1e12),
    LBTOPO_QUERY_MAX_TOKENS: count('LBTOPO_QUERY_MAX_TOKENS', 10, 10_000_000),
    LBTOPO_MAX_BODY_BYTES: count('LBTOPO_MAX_BODY_BYTES', 1024, 1024 * 1024 * 1024),
    LBTOPO_CORS_ORIGINS: list('LBTOPO_CORS_ORIGINS', isOriginOrStar, 'an origin such as https://dash.example:8443'),
    LBTOPO_ALLOWED_HOSTS: list('LBTOPO_ALLOWED_HOSTS', isHostNameOrStar, 'a host name or address without port'),
    ...Object.fromEntries(PROBE_NAMES.map((p) => [`LBTOPO_TTL_${p.toUpperCase()}`, duration(`LBTOPO_TTL_${p.toUpperCase()}`).optional()])),
  });
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration:\n${parsed.error.issues.map((i) => `  - ${i.message}`).join('\n')}`);
  }
  const v = parsed.data as Record<string, unknown> & z.infer<typeof schema>;
  const probeTtlMs = Object.fromEntries(
    PROBE_NAMES.map((p) => [p, (v[`LBTOPO_TTL_${p.toUpperCase()}`] as number | undefined) ?? v.LBTOPO_TTL]),
  ) as Record<ProbeName, number>;
  const sslFiles = [v.LBTOPO_OVSDB_SSL_KEY, v.LBTOPO_OVSDB_SSL_CERT, v.LBTOPO_OVSDB_SSL_CA];
  const ovsdbSsl = sslFiles.every((f) => f !== '') ? { key: sslFiles[0]!, cert: sslFiles[1]!, ca: sslFiles[2]! } : null;
  if (!ovsdbSsl && (v.LBTOPO_OVSDB.startsWith('ssl:') || sslFiles.some((f) => f !== ''))) {
    throw new ConfigError('invalid configuration:\n  - an ssl: LBTOPO_OVSDB needs all of LBTOPO_OVSDB_SSL_KEY, LBTOPO_OVSDB_SSL_CERT and LBTOPO_OVSDB_SSL_CA (and they serve nothing else)');
  }
  const config: Config = {
    listen: v.LBTOPO_LISTEN,
    db: v.LBTOPO_DB,
    netnsDir: v.LBTOPO_NETNS_DIR,
    lbaasDir: v.LBTOPO_LBAAS_DIR,
    octaviaDir: v.LBTOPO_OCTAVIA_DIR,
    ovsdb: v.LBTOPO_OVSDB,
    ovsdbSsl,
    ttlMs: v.LBTOPO_TTL,
    probeTtlMs,
    token: v.LBTOPO_TOKEN === '' ? null : v.LBTOPO_TOKEN,
    commandTimeoutMs: v.LBTOPO_COMMAND_TIMEOUT,
    commandConcurrency: v.LBTOPO_COMMAND_CONCURRENCY,
    cloud: v.LBTOPO_CLOUD || env.OS_CLOUD || null,
    cloudTimeoutMs: v.LBTOPO_CLOUD_TIMEOUT,
    cloudStatusGraceMs: v.LBTOPO_CLOUD_STATUS_GRACE,
    amphoraNamespace: v.LBTOPO_AMPHORA_NAMESPACE,
    amphoraAgentConfig: v.LBTOPO_AMPHORA_AGENT_CONF,
    certWarningDays: v.LBTOPO_CERT_WARNING_DAYS,
    host: v.LBTOPO_HOST === '' ? defaultHostName() : v.LBTOPO_HOST,
    fleetDb: v.LBTOPO_FLEET_DB === '' ? null : v.LBTOPO_FLEET_DB,
    fleetIntervalMs: v.LBTOPO_FLEET_INTERVAL,
    fleetScrapeUrl: v.LBTOPO_FLEET_SCRAPE_URL === '' ? null : v.LBTOPO_FLEET_SCRAPE_URL,
    logFormat: v.LBTOPO_LOG_FORMAT,
    logLevel: v.LBTOPO_LOG_LEVEL,
    otlpEndpoint: v.LBTOPO_OTLP_ENDPOINT === '' ? null : v.LBTOPO_OTLP_ENDPOINT,
    otlpServiceName: v.LBTOPO_OTLP_SERVICE_NAME,
    events: v.LBTOPO_EVENTS === 'on',
    netlink: v.LBTOPO_NETLINK === 'on',
    ovsdbJsonRpc: v.LBTOPO_OVSDB_JSONRPC === 'on',
    // A quarter: a round refreshes what would expire within 1.5 rounds, so each observation is
    // looked at again when it is 62.5 % of its TTL old (every third round), not every other one.
    refreshMs: v.LBTOPO_REFRESH === -1 ? Math.max(1000, Math.floor(Math.min(...Object.values(probeTtlMs)) / 4)) : v.LBTOPO_REFRESH,
    stateDirsGiven: {
      lbaas: (flags['lbaas-dir'] ?? env.LBTOPO_LBAAS_DIR) !== undefined,
      octavia: (flags['octavia-dir'] ?? env.LBTOPO_OCTAVIA_DIR) !== undefined,
    },
    processVisibility: v.LBTOPO_PROCESSES,
    commandQueue: v.LBTOPO_COMMAND_QUEUE,
    limits: {
      maxDepth: v.LBTOPO_QUERY_MAX_DEPTH,
      maxAliases: v.LBTOPO_QUERY_MAX_ALIASES,
      maxFields: v.LBTOPO_QUERY_MAX_FIELDS,
      maxCost: v.LBTOPO_QUERY_MAX_COST,
      maxTokens: v.LBTOPO_QUERY_MAX_TOKENS,
      requestDeadlineMs: v.LBTOPO_REQUEST_DEADLINE,
      maxBodyBytes: v.LBTOPO_MAX_BODY_BYTES,
    },
    edge: { corsOrigins: v.LBTOPO_CORS_ORIGINS, allowedHosts: v.LBTOPO_ALLOWED_HOSTS.map((h) => h.toLowerCase()) },
  };
  if (!isLoopback(config.listen.host) && !config.token) {
    throw new ConfigError(
      `refusing to listen on ${config.listen.host}:${config.listen.port} without LBTOPO_TOKEN: ` +
        'anywhere but loopback needs a bearer token (set LBTOPO_TOKEN or --token)',
    );
  }
  return config;
}
