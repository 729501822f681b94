// Parser for the haproxy configs that neutron-lbaas (v1 `conf`, v2 `haproxy.conf`) and the Octavia
// amphora agent (`haproxy.cfg`) write. It reads what topology needs (who listens where, which
// pool each listener feeds, which members sit in each pool and how they are checked) and keeps
// everything else as text, so an unexpected keyword never makes a config unreadable. Only a
// text that is not a haproxy config at all is refused.
import { isIP } from 'node:net';
import { z } from 'zod';
import { DiscoveryError } from './errors.ts';
import { isUuid } from './names.ts';

// ------------------------------------------------------------------------------------------------
// Types

export interface HaproxyStatsSocket {
  /** The socket address as written: a path, or `ipv4@host:port` and friends. */
  path: string;
  mode?: string;
  level?: string;
}

export interface HaproxyGlobal {
  statsSockets: HaproxyStatsSocket[];
  pidfile: string | null;
  user: string | null;
  group: string | null;
  maxconn: number | null;
  daemon: boolean;
  /** Every other global line, as written (trimmed). */
  extra: string[];
}

export type HaproxyAddressFamily = 'ipv4' | 'ipv6' | 'unix' | 'name' | 'other';

export interface HaproxyBind {
  /** Wildcards (`:80`, `*:80`) are reported as haproxy reads them: `0.0.0.0` (or `::` with `ipv6@`). */
  address: string;
  /** null when there is no single port (unix socket, port range, no port at all). */
  port: number | null;
  family: HaproxyAddressFamily;
  /** The address token as written, e.g. `[::]:80`. */
  raw: string;
  /** The bind options as tokens, e.g. `['ssl', 'crt', '/path/cert.pem']`. */
  options: string[];
}

export interface HaproxyUseBackend {
  backend: string;
  /** The `if …` / `unless …` part as written, or null when unconditional. */
  condition: string | null;
}

export type HaproxyProxyKind = 'frontend' | 'backend' | 'listen';

export interface HaproxyFrontend {
  name: string;
  /** `listen` sections appear both as a frontend and as a backend with the same name. */
  kind: 'frontend' | 'listen';
  /** 1-based line of the section header. */
  line: number;
  binds: HaproxyBind[];
  /** As written, else inherited from the preceding `defaults`; null means haproxy's built-in `tcp`. */
  mode: string | null;
  defaultBackend: string | null;
  useBackends: HaproxyUseBackend[];
  maxconn: number | null;
  disabled: boolean;
  /** The text after each `option` keyword, e.g. `forwardfor`, `httplog`. */
  options: string[];
  /** `timeout <name> <value>` in milliseconds (null when the value does not parse). */
  timeouts: Record<string, number | null>;
  extra: string[];
}

export type HaproxyHealthCheckType =
  | 'http'
  | 'ssl-hello'
  | 'tcp-check'
  | 'connect' // no check option: servers with `check` get a plain TCP connect
  | 'mysql'
  | 'pgsql'
  | 'redis'
  | 'smtp'
  | 'ldap'
  | 'spop'
  | 'external';

export interface HaproxyHealthCheck {
  type: HaproxyHealthCheckType;
  /** From `option httpchk` (or `http-check send meth`); haproxy's default is OPTIONS. */
  method: string | null;
  path: string | null;
  /** The version part of `option httpchk`, e.g. `HTTP/1.0\r\n` (escapes kept as written). */
  httpVersion: string | null;
  /** The text after `http-check expect`, e.g. `rstatus 200|201`. */
  expect: string | null;
  /** `timeout check`, in milliseconds. */
  timeoutCheck: number | null;
}

export interface HaproxyServer {
  /** The server name, which neutron-lbaas and Octavia set to the member id. */
  id: string;
  address: string;
  port: number | null;
  family: HaproxyAddressFamily;
  /** null when not written (haproxy then uses 1). */
  weight: number | null;
  check: boolean;
  /** Milliseconds; null when not written (haproxy then uses 2000). */
  inter: number | null;
  /** Counts; null when not written (haproxy then uses fall 3, rise 2). */
  fall: number | null;
  rise: number | null;
  backup: boolean;
  disabled: boolean;
  cookie: string | null;
  /** Server options we do not model, as tokens, e.g. `['send-proxy', 'addr', '10.0.0.5']`. */
  extra: string[];
  line: number;
}

export interface HaproxyBackend {
  name: string;
  kind: 'backend' | 'listen';
  line: number;
  /** The backend name, or for Octavia's `<pool_id>:<listener_id>` the part before ':'. */
  poolId: string;
  /** Octavia's part after ':', else null. */
  listenerId: string | null;
  mode: string | null;
  /** The `balance` arguments as written, e.g. `roundrobin`, `uri whole`. */
  balance: string | null;
  healthCheck: HaproxyHealthCheck | null;
  servers: HaproxyServer[];
  disabled: boolean;
  options: string[];
  timeouts: Record<string, number | null>;
  extra: string[];
}

export interface HaproxyDefaults {
  name: string | null;
  line: number;
  mode: string | null;
  options: string[];
  timeouts: Record<string, number | null>;
  extra: string[];
}

export interface HaproxyPeer {
  name: string;
  address: string;
  port: number | null;
}

export interface HaproxyPeers {
  name: string;
  line: number;
  peers: HaproxyPeer[];
  extra: string[];
}

export interface HaproxyUnknownLine {
  /** The section header the line sits in (e.g. `backend abc`), or `(none)` before any section. */
  section: string;
  line: number;
  text: string;
}

export interface HaproxyConfig {
  /** From `# Configuration for <lb_id>` (v2) or `# Configuration for loadbalancer <lb_id>` (Octavia). */
  loadBalancerId: string | null;
  global: HaproxyGlobal;
  defaults: HaproxyDefaults[];
  frontends: HaproxyFrontend[];
  backends: HaproxyBackend[];
  peers: HaproxyPeers[];
  /**
   * Lines whose keyword we do not recognise, lines in sections we do not model (userlist,
   * resolvers, …) and lines before any section. A line in a modelled section also stays in
   * that section's `extra`, so `extra` is complete and `unknown` is the "did not understand" list.
   */
  unknown: HaproxyUnknownLine[];
}

export interface ParseHaproxyConfigOptions {
  /** The file the text came from; named in the error when the text is not a haproxy config. */
  source?: string;
}

// ------------------------------------------------------------------------------------------------
// Validation of the result: a bug in the parser must not leak a malformed object to callers.

const nullableInt = z.number().int().nullable();
const timeouts = z.record(z.string(), z.number().nonnegative().nullable());
const family = z.enum(['ipv4', 'ipv6', 'unix', 'name', 'other']);
const port = z.number().int().min(0).max(65535).nullable();

const HaproxyConfigSchema: z.ZodType<HaproxyConfig> = z.object({
  loadBalancerId: z.string().nullable(),
  global: z.object({
    statsSockets: z.array(
      z.object({ path: z.string().min(1), mode: z.string().optional(), level: z.string().optional() }),
    ),
    pidfile: z.string().nullable(),
    user: z.string().nullable(),
    group: z.string().nullable(),
    maxconn: nullableInt,
    daemon: z.boolean(),
    extra: z.array(z.string()),
  }),
  defaults: z.array(
    z.object({
      name: z.string().nullable(),
      line: z.number().int().positive(),
      mode: z.string().nullable(),
      options: z.array(z.string()),
      timeouts,
      extra: z.array(z.string()),
    }),
  ),
  frontends: z.array(
    z.object({
      name: z.string().min(1),
      kind: z.enum(['frontend', 'listen']),
      line: z.number().int().positive(),
      binds: z.array(
        z.object({ address: z.string(), port, family, raw: z.string(), options: z.array(z.string()) }),
      ),
      mode: z.string().nullable(),
      defaultBackend: z.string().nullable(),
      useBackends: z.array(z.object({ backend: z.string(), condition: z.string().nullable() })),
      maxconn: nullableInt,
      disabled: z.boolean(),
      options: z.array(z.string()),
      timeouts,
      extra: z.array(z.string()),
    }),
  ),
  backends: z.array(
    z.object({
      name: z.string().min(1),
      kind: z.enum(['backend', 'listen']),
      line: z.number().int().positive(),
      poolId: z.string(),
      listenerId: z.string().nullable(),
      mode: z.string().nullable(),
      balance: z.string().nullable(),
      healthCheck: z
        .object({
          type: z.enum([
            'http',
            'ssl-hello',
            'tcp-check',
            'connect',
            'mysql',
            'pgsql',
            'redis',
            'smtp',
            'ldap',
            'spop',
            'external',
          ]),
          method: z.string().nullable(),
          path: z.string().nullable(),
          httpVersion: z.string().nullable(),
          expect: z.string().nullable(),
          timeoutCheck: z.number().nonnegative().nullable(),
        })
        .nullable(),
      servers: z.array(
        z.object({
          id: z.string().min(1),
          address: z.string(),
          port,
          family,
          weight: nullableInt,
          check: z.boolean(),
          inter: z.number().nonnegative().nullable(),
          fall: nullableInt,
          rise: nullableInt,
          backup: z.boolean(),
          disabled: z.boolean(),
          cookie: z.string().nullable(),
          extra: z.array(z.string()),
          line: z.number().int().positive(),
        }),
      ),
      disabled: z.boolean(),
      options: z.array(z.string()),
      timeouts,
      extra: z.array(z.string()),
    }),
  ),
  peers: z.array(
    z.object({
      name: z.string(),
      line: z.number().int().positive(),
      peers: z.array(z.object({ name: z.string(), address: z.string(), port })),
      extra: z.array(z.string()),
    }),
  ),
  unknown: z.array(z.object({ section: z.string(), line: z.number().int().positive(), text: z.string() })),
});

// ------------------------------------------------------------------------------------------------
// Keyword tables

/** Sections haproxy knows besides global/defaults/frontend/backend/listen/peers: kept in `unknown`. */
const OTHER_SECTIONS = new Set([
  'userlist',
  'resolvers',
  'mailers',
  'cache',
  'program',
  'http-errors',
  'ring',
  'log-forward',
  'fcgi-app',
  'crt-store',
  'traces',
  'namespace_list',
  'dynamic-update',
]);

// Keywords that are valid haproxy but that we keep as text only. Anything else is reported in
// `unknown` too, which is how removed keywords (reqadd, appsession, …) and typos show up.
const GLOBAL_KEYWORDS = new Set([
  'daemon', 'user', 'group', 'uid', 'gid', 'pidfile', 'maxconn', 'stats', 'log', 'log-send-hostname',
  'log-tag', 'nbproc', 'nbthread', 'cpu-map', 'chroot', 'ca-base', 'crt-base', 'master-worker',
  'external-check', 'node', 'description', 'ulimit-n', 'spread-checks', 'hard-stop-after', 'setenv',
  'presetenv', 'unsetenv', 'resetenv', 'server-state-file', 'server-state-base', 'localpeer',
  'maxsslconn', 'maxconnrate', 'maxsessrate', 'maxsslrate', 'maxcomprate', 'maxcompcpuusage',
  'maxpipes', 'maxzlibmem', 'quiet', 'insecure-fork-wanted', 'insecure-setuid-wanted',
  'expose-experimental-directives', 'noepoll', 'nopoll', 'nosplice', 'nogetaddrinfo', 'noreuseport',
  'numa-cpu-mapping', 'set-dumpable', 'strict-limits', 'default-path', 'busy-polling', 'unix-bind',
  'issuers-chain-path', 'pp2-never-send-local', 'thread-groups', 'thread-group', 'setcap', 'zero-warning',
  'mworker-max-reloads', 'anonkey', 'cluster-secret', 'grace', 'h2-workaround-bogus-websocket-clients',
  'fd-hard-limit', 'httpclient.resolvers.disabled', 'httpclient.resolvers.id', 'httpclient.ssl.verify',
  'httpclient.ssl.ca-file', 'httpclient.retries', 'httpclient.timeout.connect',
]);
const GLOBAL_KEYWORD_PREFIXES = ['tune.', 'ssl-', 'lua-', 'profiling.', 'h1-', 'log-', '51degrees-', 'wurfl-', 'deviceatlas-', 'ocsp-update.', 'limited-quic', 'cluster-'];

const PROXY_KEYWORDS = new Set([
  'acl', 'backlog', 'balance', 'bind', 'capture', 'clitcpka-cnt', 'clitcpka-idle', 'clitcpka-intvl',
  'compression', 'cookie', 'declare', 'default-server', 'default_backend', 'description', 'disabled',
  'dispatch', 'email-alert', 'enabled', 'errorfile', 'errorfiles', 'errorloc', 'errorloc302',
  'errorloc303', 'error-log-format', 'external-check', 'filter', 'force-persist', 'fullconn', 'grace',
  'hash-type', 'hash-balance-factor', 'http-after-response', 'http-check', 'http-error', 'http-request',
  'http-response', 'http-reuse', 'http-send-name-header', 'id', 'ignore-persist',
  'load-server-state-from-file', 'log', 'log-format', 'log-format-sd', 'log-tag', 'max-keep-alive-queue',
  'max-session-srv-conns', 'maxconn', 'mode', 'monitor', 'monitor-uri', 'monitor-net', 'option', 'no',
  'persist', 'rate-limit', 'redirect', 'retries', 'retry-on', 'server', 'server-state-file-name',
  'server-template', 'source', 'srvtcpka-cnt', 'srvtcpka-idle', 'srvtcpka-intvl', 'stats', 'stick',
  'stick-table', 'tcp-check', 'tcp-request', 'tcp-response', 'timeout', 'unique-id-format',
  'unique-id-header', 'use_backend', 'use-server', 'use-fcgi-app', 'guid',
]);

const PEERS_KEYWORDS = new Set(['peer', 'bind', 'server', 'default-server', 'default-bind', 'disabled', 'enabled', 'log', 'shards', 'table', 'timeout']);

/** `option` names that choose how servers are health checked; the last one written wins in haproxy. */
const CHECK_OPTIONS: Record<string, HaproxyHealthCheckType> = {
  httpchk: 'http',
  'ssl-hello-chk': 'ssl-hello',
  'tcp-check': 'tcp-check',
  'mysql-check': 'mysql',
  'pgsql-check': 'pgsql',
  'redis-check': 'redis',
  smtpchk: 'smtp',
  'ldap-check': 'ldap',
  'spop-check': 'spop',
  'external-check': 'external',
};

/** Server keywords that take one argument, so that argument is never mistaken for a keyword. */
const SERVER_KEYWORDS_WITH_ARG = new Set([
  'addr', 'port', 'maxconn', 'minconn', 'maxqueue', 'ca-file', 'crt', 'crl-file', 'verify', 'sni',
  'slowstart', 'fastinter', 'downinter', 'on-error', 'on-marked-down', 'on-marked-up', 'agent-port',
  'agent-inter', 'agent-addr', 'agent-send', 'observe', 'error-limit', 'source', 'id', 'init-addr',
  'resolvers', 'resolve-prefer', 'resolve-net', 'resolve-opts', 'alpn', 'npn', 'proto', 'pool-low-conn',
  'pool-max-conn', 'pool-purge-delay', 'max-reuse', 'check-sni', 'check-alpn', 'check-proto', 'ciphers',
  'ciphersuites', 'ssl-min-ver', 'ssl-max-ver', 'redir', 'track', 'namespace', 'curves', 'sigalgs',
  'client-sigalgs', 'proxy-v2-options', 'tcp-ut', 'socks4', 'log-proto', 'ws', 'guid', 'hash-key',
  'shard', 'set-proxy-v2-tlv-fmt', 'usesrc', 'interface',
]);

// ------------------------------------------------------------------------------------------------
// Small parsers, exported because the stats and state modules reuse them

/** haproxy time values: a bare number is milliseconds; units us, ms, s, m, h, d. */
export function parseHaproxyTimeMs(text: string): number | null {
  const match = /^(\d+)(us|ms|s|m|h|d)?$/.exec(text);
  if (!match) return null;
  const value = Number(match[1]);
  switch (match[2]) {
    case 'us':
      return value / 1000;
    case undefined:
    case 'ms':
      return value;
    case 's':
      return value * 1000;
    case 'm':
      return value * 60_000;
    case 'h':
      return value * 3_600_000;
    case 'd':
      return value * 86_400_000;
    default:
      return null;
  }
}

function parseCount(text: string | undefined): number | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

function parsePort(text: string): number | null {
  if (!/^\d+$/.test(text)) return null;
  const value = Number(text);
  return value <= 65535 ? value : null;
}

const FAMILY_PREFIX = /^(ipv4|ipv6|unix|abns|abnsz|fd|sockpair|tcp|tcp4|tcp6|udp|udp4|udp6|quic4|quic6|uxst|uxdg|rhttp|mptcp|mptcp4|mptcp6)@(.*)$/;

/**
 * Splits a haproxy address as haproxy does: an optional `family@` prefix, `[v6]:port`, or else
 * the last ':' is the port separator (so an unbracketed IPv6 address needs a port, as Octavia
 * always writes one). An empty host or `*` means every IPv4 address.
 */
export function parseHaproxyAddress(token: string): {
  address: string;
  port: number | null;
  family: HaproxyAddressFamily;
} {
  let rest = token;
  let forced: HaproxyAddressFamily | null = null;
  const prefixed = FAMILY_PREFIX.exec(token);
  if (prefixed) {
    const prefix = prefixed[1] ?? '';
    rest = prefixed[2] ?? '';
    if (/^(ipv4|tcp4|udp4|quic4|mptcp4)$/.test(prefix)) forced = 'ipv4';
    else if (/^(ipv6|tcp6|udp6|quic6|mptcp6)$/.test(prefix)) forced = 'ipv6';
    else if (/^(unix|abns|abnsz|uxst|uxdg)$/.test(prefix)) return { address: rest, port: null, family: 'unix' };
    else if (/^(fd|sockpair|rhttp)$/.test(prefix)) return { address: rest, port: null, family: 'other' };
  }
  if (rest.startsWith('/')) return { address: rest, port: null, family: 'unix' };

  let host: string;
  let portText: string | null;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2] ?? null;
  } else {
    const colon = rest.lastIndexOf(':');
    host = colon === -1 ? rest : rest.slice(0, colon);
    portText = colon === -1 ? null : rest.slice(colon + 1);
  }
  if (host === '' || host === '*') host = forced === 'ipv6' ? '::' : '0.0.0.0';
  const ipVersion = isIP(host);
  const family: HaproxyAddressFamily =
    ipVersion === 4 ? 'ipv4' : ipVersion === 6 ? 'ipv6' : forced ?? (/^[A-Za-z0-9.-]+$/.test(host) ? 'name' : 'other');
  return { address: host, port: portText === null ? null : parsePort(portText), family };
}

/**
 * Splits a config line into words the way haproxy does: blanks separate words, a backslash
 * escapes a blank, '#', a quote or itself, quotes group, and an unquoted '#' starts a comment.
 * Other escapes (`\r`, `\n`) stay as written because they only matter to haproxy itself.
 */
export function tokenizeHaproxyLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quote !== null) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i];
      else word += ch;
      continue;
    }
    if (ch === '\\' && i + 1 < line.length) {
      const next = line[i + 1] as string;
      if (' \t#\\"\''.includes(next)) {
        word += next;
        i++;
      } else {
        word += ch;
      }
      inWord = true;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
      continue;
    }
    if (ch === '#') break;
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    word += ch;
    inWord = true;
  }
  if (inWord) words.push(word);
  return words;
}

// ------------------------------------------------------------------------------------------------
// The parser

/** What a frontend, backend or listen section holds while it is being read. */
interface ProxyDraft {
  kind: HaproxyProxyKind;
  name: string;
  line: number;
  mode: string | null;
  binds: HaproxyBind[];
  defaultBackend: string | null;
  useBackends: HaproxyUseBackend[];
  maxconn: number | null;
  disabled: boolean;
  options: string[];
  timeouts: Record<string, number | null>;
  balance: string | null;
  checkType: HaproxyHealthCheckType | null;
  checkMethod: string | null;
  checkPath: string | null;
  checkVersion: string | null;
  checkExpect: string | null;
  servers: HaproxyServer[];
  extra: string[];
}

type Section =
  | { type: 'none' }
  | { type: 'global' }
  | { type: 'defaults'; draft: HaproxyDefaults }
  | { type: 'proxy'; draft: ProxyDraft }
  | { type: 'peers'; draft: HaproxyPeers }
  | { type: 'other'; header: string };

const LB_ID_COMMENT = /^#\s*Configuration for (?:loadbalancer\s+)?(\S+)\s*$/;

function sectionLabel(section: Section): string {
  switch (section.type) {
    case 'none':
      return '(none)';
    case 'global':
      return 'global';
    case 'defaults':
      return section.draft.name ? `defaults ${section.draft.name}` : 'defaults';
    case 'proxy':
      return `${section.draft.kind} ${section.draft.name}`;
    case 'peers':
      return `peers ${section.draft.name}`;
    case 'other':
      return section.header;
  }
}

function refuse(source: string | undefined, detail: string): DiscoveryError {
  return new DiscoveryError('parse', source ?? 'haproxy config', `not a haproxy config: ${detail}`);
}

/**
 * Parses a haproxy config. Throws a DiscoveryError of kind 'parse' (naming `options.source`)
 * when the text is binary or holds no haproxy section at all; anything else is kept.
 */
export function parseHaproxyConfig(text: string, options: ParseHaproxyConfigOptions = {}): HaproxyConfig {
  const { source } = options;
  // A NUL or a run of replacement characters means a binary file (or a wrong encoding): no
  // haproxy would load it, and reading section keywords out of it would be a guess.
  if (text.includes('\u0000')) throw refuse(source, 'binary content (NUL bytes)');
  if ((text.match(/\uFFFD/g)?.length ?? 0) > 3) throw refuse(source, 'binary content (invalid UTF-8)');

  const lines = text.replace(/^\uFEFF/, '').split('\n');
  const global: HaproxyGlobal = {
    statsSockets: [],
    pidfile: null,
    user: null,
    group: null,
    maxconn: null,
    daemon: false,
    extra: [],
  };
  const defaults: HaproxyDefaults[] = [];
  const proxies: ProxyDraft[] = [];
  const peers: HaproxyPeers[] = [];
  const unknown: HaproxyUnknownLine[] = [];
  const firstLine = lines[0]?.trim() ?? '';
  const idMatch = LB_ID_COMMENT.exec(firstLine);
  const loadBalancerId = idMatch?.[1] && isUuid(idMatch[1]) ? idMatch[1] : null;

  let section: Section = { type: 'none' };
  let sectionsSeen = 0;
  let lastDefaults: HaproxyDefaults | null = null;
  const namedDefaults = new Map<string, HaproxyDefaults>();

  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1;
    const raw = (lines[index] ?? '').trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const words = tokenizeHaproxyLine(raw);
    const keyword = words[0];
    if (keyword === undefined) continue;

    const header = readSectionHeader(words);
    if (header) {
      sectionsSeen++;
      const [type, name, from, legacyAddress] = header;
      if (type === 'global') {
        section = { type: 'global' };
      } else if (type === 'defaults') {
        const inherited = from ? namedDefaults.get(from) : undefined;
        const draft: HaproxyDefaults = {
          name: name ?? null,
          line: lineNumber,
          mode: inherited?.mode ?? null,
          options: [],
          timeouts: {},
          extra: [],
        };
        defaults.push(draft);
        if (name) namedDefaults.set(name, draft);
        lastDefaults = draft;
        section = { type: 'defaults', draft };
      } else if (type === 'frontend' || type === 'backend' || type === 'listen') {
        const base = from ? (namedDefaults.get(from) ?? lastDefaults) : lastDefaults;
        const draft = newProxyDraft(type, name ?? '', lineNumber, base?.mode ?? null);
        if (legacyAddress !== undefined) readProxyLine(draft, ['bind', legacyAddress], `bind ${legacyAddress}`, lineNumber);
        proxies.push(draft);
        section = { type: 'proxy', draft };
      } else if (type === 'peers') {
        const draft: HaproxyPeers = { name: name ?? '', line: lineNumber, peers: [], extra: [] };
        peers.push(draft);
        section = { type: 'peers', draft };
      } else {
        section = { type: 'other', header: raw };
        unknown.push({ section: raw, line: lineNumber, text: raw });
      }
      continue;
    }

    let recognised: boolean;
    switch (section.type) {
      case 'none':
      case 'other':
        recognised = false;
        break;
      case 'global':
        recognised = readGlobalLine(global, words, raw);
        break;
      case 'defaults':
        recognised = readDefaultsLine(section.draft, words, raw);
        break;
      case 'proxy':
        recognised = readProxyLine(section.draft, words, raw, lineNumber);
        break;
      case 'peers':
        recognised = readPeersLine(section.draft, words, raw);
        break;
    }
    if (!recognised) unknown.push({ section: sectionLabel(section), line: lineNumber, text: raw });
  }

  if (sectionsSeen === 0) {
    const sample = lines.find((l) => l.trim() !== '')?.trim().slice(0, 40) ?? '';
    throw refuse(source, text.trim() === '' ? 'empty' : `no haproxy section found (starts with ${JSON.stringify(sample)})`);
  }

  const frontends: HaproxyFrontend[] = [];
  const backends: HaproxyBackend[] = [];
  for (const draft of proxies) {
    if (draft.kind !== 'backend') frontends.push(toFrontend(draft));
    if (draft.kind !== 'frontend') backends.push(toBackend(draft));
  }

  const config: HaproxyConfig = { loadBalancerId, global, defaults, frontends, backends, peers, unknown };
  const checked = HaproxyConfigSchema.safeParse(config);
  if (!checked.success) {
    throw new DiscoveryError('parse', source ?? 'haproxy config', `parsed config failed validation: ${z.prettifyError(checked.error)}`);
  }
  return checked.data;
}

type SectionHeader = [type: string, name: string | undefined, from: string | undefined, legacyAddress?: string];

/**
 * Recognises a section header. Names are required where haproxy requires them and `global`
 * takes none, so stray words such as Python's `global x` are not mistaken for a section.
 */
function readSectionHeader(words: string[]): SectionHeader | null {
  const [keyword, name, fromWord, fromName] = words;
  if (keyword === undefined) return null;
  if (keyword === 'global') return words.length === 1 ? ['global', undefined, undefined] : null;
  if (keyword === 'defaults' && words.length <= 4) {
    if (name === 'from') return ['defaults', undefined, fromWord];
    return ['defaults', name, fromWord === 'from' ? fromName : undefined];
  }
  if (keyword === 'frontend' || keyword === 'backend' || keyword === 'listen') {
    if (name === undefined) return null;
    if (words.length === 2) return [keyword, name, undefined];
    // haproxy < 2.0 allowed `listen <name> <address>`; keep the name, the address becomes a bind.
    if (fromWord === 'from' && fromName !== undefined && words.length === 4) return [keyword, name, fromName];
    if (keyword === 'listen' && words.length === 3) return [keyword, name, undefined, fromWord];
    return null;
  }
  if (keyword === 'peers') return words.length === 2 && name !== undefined ? ['peers', name, undefined] : null;
  if (OTHER_SECTIONS.has(keyword) && words.length <= 3) return [keyword, name, undefined];
  return null;
}

function newProxyDraft(kind: HaproxyProxyKind, name: string, line: number, mode: string | null): ProxyDraft {
  return {
    kind,
    name,
    line,
    mode,
    binds: [],
    defaultBackend: null,
    useBackends: [],
    maxconn: null,
    disabled: false,
    options: [],
    timeouts: {},
    balance: null,
    checkType: null,
    checkMethod: null,
    checkPath: null,
    checkVersion: null,
    checkExpect: null,
    servers: [],
    extra: [],
  };
}

function isGlobalKeyword(keyword: string): boolean {
  return GLOBAL_KEYWORDS.has(keyword) || GLOBAL_KEYWORD_PREFIXES.some((prefix) => keyword.startsWith(prefix));
}

function readGlobalLine(global: HaproxyGlobal, words: string[], raw: string): boolean {
  const [keyword, first] = words;
  switch (keyword) {
    case 'daemon':
      global.daemon = true;
      return true;
    case 'user':
      if (first !== undefined) global.user = first;
      return true;
    case 'group':
      if (first !== undefined) global.group = first;
      return true;
    case 'pidfile':
      if (first !== undefined) global.pidfile = first;
      return true;
    case 'maxconn':
      global.maxconn = parseCount(first);
      return true;
    case 'stats':
      if (first === 'socket' && words[2] !== undefined) {
        global.statsSockets.push(readStatsSocket(words.slice(2)));
        return true;
      }
      break;
  }
  global.extra.push(raw);
  return keyword !== undefined && isGlobalKeyword(keyword);
}

function readStatsSocket(words: string[]): HaproxyStatsSocket {
  const socket: HaproxyStatsSocket = { path: words[0] ?? '' };
  for (let i = 1; i < words.length; i++) {
    const value = words[i + 1];
    if (words[i] === 'mode' && value !== undefined) {
      socket.mode = value;
      i++;
    } else if (words[i] === 'level' && value !== undefined) {
      socket.level = value;
      i++;
    }
  }
  return socket;
}

function readTimeout(timeouts: Record<string, number | null>, words: string[]): boolean {
  const [, name, value] = words;
  if (name === undefined || value === undefined) return false;
  timeouts[name] = parseHaproxyTimeMs(value);
  return true;
}

function readDefaultsLine(draft: HaproxyDefaults, words: string[], raw: string): boolean {
  const [keyword, first] = words;
  if (keyword === 'mode' && first !== undefined) {
    draft.mode = first;
    return true;
  }
  if (keyword === 'option' && words.length > 1) {
    draft.options.push(words.slice(1).join(' '));
    return true;
  }
  if (keyword === 'timeout' && readTimeout(draft.timeouts, words)) return true;
  draft.extra.push(raw);
  return keyword !== undefined && PROXY_KEYWORDS.has(keyword);
}

function readProxyLine(draft: ProxyDraft, words: string[], raw: string, lineNumber: number): boolean {
  const [keyword, first] = words;
  if (keyword === undefined) return false;
  const acceptsFrontend = draft.kind !== 'backend';
  const acceptsBackend = draft.kind !== 'frontend';
  // A frontend-only keyword in a backend (or the reverse) is kept but reported as unknown.
  let misplaced = false;
  switch (keyword) {
    case 'mode':
      if (first === undefined) break;
      draft.mode = first;
      return true;
    case 'disabled':
      draft.disabled = true;
      return true;
    case 'enabled':
      draft.disabled = false;
      return true;
    case 'maxconn':
      if ((misplaced = !acceptsFrontend)) break;
      draft.maxconn = parseCount(first);
      return true;
    case 'bind':
      if ((misplaced = !acceptsFrontend) || first === undefined) break;
      // `bind :80,:443 ssl …` binds several addresses with the same options.
      for (const address of first.split(',')) {
        if (address === '') continue;
        draft.binds.push({ ...parseHaproxyAddress(address), raw: address, options: words.slice(2) });
      }
      return true;
    case 'default_backend':
      if ((misplaced = !acceptsFrontend) || first === undefined) break;
      draft.defaultBackend = first;
      return true;
    case 'use_backend':
      if ((misplaced = !acceptsFrontend) || first === undefined) break;
      draft.useBackends.push({ backend: first, condition: words.length > 2 ? words.slice(2).join(' ') : null });
      return true;
    case 'balance':
      if ((misplaced = !acceptsBackend) || first === undefined) break;
      draft.balance = words.slice(1).join(' ');
      return true;
    case 'timeout':
      if (readTimeout(draft.timeouts, words)) return true;
      break;
    case 'option': {
      if (first === undefined) break;
      draft.options.push(words.slice(1).join(' '));
      const checkType = CHECK_OPTIONS[first];
      if (checkType !== undefined && acceptsBackend) {
        draft.checkType = checkType;
        if (checkType === 'http') readHttpchk(draft, words.slice(2));
      }
      return true;
    }
    case 'http-check':
      if ((misplaced = !acceptsBackend)) break;
      if (first === 'expect' && words.length > 2 && draft.checkExpect === null) {
        draft.checkExpect = words.slice(2).join(' ');
        return true;
      }
      if (first === 'send') readHttpCheckSend(draft, words.slice(2));
      break;
    case 'server': {
      if ((misplaced = !acceptsBackend)) break;
      const server = readServer(words, lineNumber);
      if (!server) break;
      draft.servers.push(server);
      return true;
    }
  }
  draft.extra.push(raw);
  return PROXY_KEYWORDS.has(keyword) && !misplaced;
}

/** `option httpchk [<method>] [<uri>] [<version>]`; with a single argument it is the uri. */
function readHttpchk(draft: ProxyDraft, args: string[]): void {
  if (args.length === 0) {
    draft.checkMethod = 'OPTIONS';
    draft.checkPath = '/';
  } else if (args.length === 1) {
    draft.checkMethod = 'OPTIONS';
    draft.checkPath = args[0] ?? null;
  } else {
    draft.checkMethod = args[0] ?? null;
    draft.checkPath = args[1] ?? null;
    draft.checkVersion = args.length > 2 ? args.slice(2).join(' ') : null;
  }
}

/** haproxy >= 2.2: `http-check send meth <m> uri <u> ver <v> …`. */
function readHttpCheckSend(draft: ProxyDraft, args: string[]): void {
  for (let i = 0; i + 1 < args.length; i += 2) {
    const value = args[i + 1] ?? null;
    if (args[i] === 'meth') draft.checkMethod = value;
    else if (args[i] === 'uri') draft.checkPath = value;
    else if (args[i] === 'ver') draft.checkVersion = value;
    else return;
  }
}

function readServer(words: string[], lineNumber: number): HaproxyServer | null {
  const [, id, addressToken] = words;
  if (id === undefined || addressToken === undefined) return null;
  const server: HaproxyServer = {
    id,
    ...parseHaproxyAddress(addressToken),
    weight: null,
    check: false,
    inter: null,
    fall: null,
    rise: null,
    backup: false,
    disabled: false,
    cookie: null,
    extra: [],
    line: lineNumber,
  };
  for (let i = 3; i < words.length; i++) {
    const option = words[i] as string;
    const value = words[i + 1];
    switch (option) {
      case 'check':
        server.check = true;
        continue;
      case 'no-check':
        server.check = false;
        continue;
      case 'backup':
        server.backup = true;
        continue;
      case 'no-backup':
        server.backup = false;
        continue;
      case 'disabled':
        server.disabled = true;
        continue;
      case 'enabled':
        server.disabled = false;
        continue;
      case 'weight':
        server.weight = parseCount(value);
        i++;
        continue;
      case 'inter':
        server.inter = value === undefined ? null : parseHaproxyTimeMs(value);
        i++;
        continue;
      case 'fall':
        server.fall = parseCount(value);
        i++;
        continue;
      case 'rise':
        server.rise = parseCount(value);
        i++;
        continue;
      case 'cookie':
        server.cookie = value ?? null;
        i++;
        continue;
    }
    server.extra.push(option);
    if (SERVER_KEYWORDS_WITH_ARG.has(option) && value !== undefined) {
      server.extra.push(value);
      i++;
    }
  }
  return server;
}

function readPeersLine(draft: HaproxyPeers, words: string[], raw: string): boolean {
  const [keyword, name, address] = words;
  if (keyword === 'peer' && name !== undefined && address !== undefined) {
    const parsed = parseHaproxyAddress(address);
    draft.peers.push({ name, address: parsed.address, port: parsed.port });
    return true;
  }
  draft.extra.push(raw);
  return keyword !== undefined && PEERS_KEYWORDS.has(keyword);
}

function toFrontend(draft: ProxyDraft): HaproxyFrontend {
  return {
    name: draft.name,
    kind: draft.kind === 'listen' ? 'listen' : 'frontend',
    line: draft.line,
    binds: draft.binds,
    mode: draft.mode,
    defaultBackend: draft.defaultBackend,
    useBackends: draft.useBackends,
    maxconn: draft.maxconn,
    disabled: draft.disabled,
    options: draft.options,
    timeouts: draft.timeouts,
    extra: draft.extra,
  };
}

function toBackend(draft: ProxyDraft): HaproxyBackend {
  // Octavia names backends `<pool_id>:<listener_id>`; neutron-lbaas uses the bare pool id.
  const colon = draft.name.indexOf(':');
  const poolId = colon === -1 ? draft.name : draft.name.slice(0, colon);
  const listenerId = colon === -1 ? null : draft.name.slice(colon + 1);
  const anyServerChecked = draft.servers.some((server) => server.check);
  const timeoutCheck = draft.timeouts['check'];
  const hasCheckConfig =
    draft.checkType !== null || draft.checkExpect !== null || timeoutCheck !== undefined || anyServerChecked;
  return {
    name: draft.name,
    kind: draft.kind === 'listen' ? 'listen' : 'backend',
    line: draft.line,
    poolId,
    listenerId,
    mode: draft.mode,
    balance: draft.balance,
    healthCheck: hasCheckConfig
      ? {
          type: draft.checkType ?? 'connect',
          method: draft.checkMethod,
          path: draft.checkPath,
          httpVersion: draft.checkVersion,
          expect: draft.checkExpect,
          timeoutCheck: timeoutCheck ?? null,
        }
      : null,
    servers: draft.servers,
    disabled: draft.disabled,
    options: draft.options,
    timeouts: draft.timeouts,
    extra: draft.extra,
  };
}
