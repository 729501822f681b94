// Settings from LBTOPO_* environment variables and the same names as flags (--listen, --db, ...),
// validated up front so a typo fails at start with a message naming the setting, not later.
import { z } from 'zod';
import { isValidOvsdbTarget } from './host/ovs.ts';
import { isValidNamespaceName } from './host/names.ts';
import type { OvsdbSslFiles } from './host/ovs.ts';

export const PROBE_NAMES = ['lbaas', 'netns', 'proc', 'ip', 'ovs', 'stats', 'amphora', 'rule'] as const;
export type ProbeName = (typeof PROBE_NAMES)[number];

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
  /** The namespace an amphora runs haproxy and keepalived in (Octavia: amphora-haproxy). */
  amphoraNamespace: string;
  /** The amphora agent's config (amphora id, topology, health-manager targets, cert paths). */
  amphoraAgentConfig: string;
  /** CERT_EXPIRING fires when a certificate expires within this many days. */
  certWarningDays: number;
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
  { env: 'LBTOPO_AMPHORA_NAMESPACE', flag: 'amphora-namespace', default: 'amphora-haproxy', help: 'namespace an Octavia amphora runs haproxy and keepalived in' },
  { env: 'LBTOPO_AMPHORA_AGENT_CONF', flag: 'amphora-agent-conf', default: '/etc/octavia/amphora-agent.conf', help: 'the amphora agent config (amphora id, topology, health-manager targets, certs)' },
  { env: 'LBTOPO_CERT_WARNING_DAYS', flag: 'cert-warning-days', default: '14', help: 'CERT_EXPIRING when an amphora certificate expires within this many days' },
  { env: 'LBTOPO_NETLINK', flag: 'netlink', default: 'on', help: 'read namespaces over rtnetlink in-process when the addon loads, else ip -batch (on or off)' },
  { env: 'LBTOPO_OVSDB_JSONRPC', flag: 'ovsdb-jsonrpc', default: 'on', help: 'read OVS over JSON-RPC on the OVSDB socket, else ovs-vsctl (on or off)' },
  { env: 'LBTOPO_EVENTS', flag: 'events', default: 'on', help: 'serve: let netlink, OVSDB monitor and directory-watch events outdate the cache at once (on or off)' },
  { env: 'LBTOPO_REFRESH', flag: 'refresh', default: 'auto', help: 'serve: background refresh interval keeping checks and scrapes warm (auto = half the shortest TTL, 0 = off)' },
  { env: 'LBTOPO_PROCESSES', flag: 'processes', default: 'lbaas', help: 'which processes the API shows: lbaas (in named namespaces, haproxy, keepalived) or all; secret-looking argv values are redacted either way' },
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

const absolutePathOrRelative = (setting: string) =>
  z.string().min(1, `${setting} must not be empty`).refine((s) => !/[\0\n]/.test(s), `${setting} contains a control character`);

function parseListen(text: string): { host: string; port: number } | null {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m[2]);
  if (port > 65535) return null;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
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
    LBTOPO_AMPHORA_NAMESPACE: z.string().refine(isValidNamespaceName, { error: (issue) => `LBTOPO_AMPHORA_NAMESPACE: ${JSON.stringify(issue.input)} is not a namespace name` }),
    LBTOPO_AMPHORA_AGENT_CONF: absolutePathOrRelative('LBTOPO_AMPHORA_AGENT_CONF'),
    LBTOPO_CERT_WARNING_DAYS: z.coerce.number({ error: 'LBTOPO_CERT_WARNING_DAYS must be a number of days' }).int('LBTOPO_CERT_WARNING_DAYS must be a whole number of days').min(0).max(3650),
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
    amphoraNamespace: v.LBTOPO_AMPHORA_NAMESPACE,
    amphoraAgentConfig: v.LBTOPO_AMPHORA_AGENT_CONF,
    certWarningDays: v.LBTOPO_CERT_WARNING_DAYS,
    events: v.LBTOPO_EVENTS === 'on',
    netlink: v.LBTOPO_NETLINK === 'on',
    ovsdbJsonRpc: v.LBTOPO_OVSDB_JSONRPC === 'on',
    refreshMs: v.LBTOPO_REFRESH === -1 ? Math.max(1000, Math.floor(Math.min(...Object.values(probeTtlMs)) / 2)) : v.LBTOPO_REFRESH,
    stateDirsGiven: {
      lbaas: (flags['lbaas-dir'] ?? env.LBTOPO_LBAAS_DIR) !== undefined,
      octavia: (flags['octavia-dir'] ?? env.LBTOPO_OCTAVIA_DIR) !== undefined,
    },
    processVisibility: v.LBTOPO_PROCESSES,
  };
  if (!isLoopback(config.listen.host) && !config.token) {
    throw new ConfigError(
      `refusing to listen on ${config.listen.host}:${config.listen.port} without LBTOPO_TOKEN: ` +
        'anywhere but loopback needs a bearer token (set LBTOPO_TOKEN or --token)',
    );
  }
  return config;
}
