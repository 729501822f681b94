// keepalived configuration as an Octavia amphora writes it: the VRRP config of an ACTIVE_STANDBY
// load balancer (<base>/vrrp/octavia-keepalived.conf, from
// octavia/amphorae/drivers/keepalived/jinja/templates/keepalived_base.template) and the LVS
// configs of UDP/SCTP listeners (<base>/lvs/octavia-keepalivedlvs-<listener>.conf, from
// octavia/common/jinja/lvs/templates/macros.j2). Parsed the way keepalived reads it
// (keepalived/core/parser.c): words separated by blanks, `#` and `!` start a comment, `{` and `}`
// open and close a block (on the keyword's line or alone), a double-quoted word keeps its blanks.
// Unknown keywords are kept in the tree and ignored by the extractors: keepalived has hundreds.
import { DiscoveryError } from './errors.ts';

/** One statement: its keyword, the words after it, and its block when it has one. */
export interface KeepalivedNode {
  keyword: string;
  args: string[];
  children: KeepalivedNode[] | null;
  line: number;
}

export interface VrrpScript {
  name: string;
  /** The command keepalived runs (the whole `script` value, quotes removed). */
  script: string | null;
  intervalSeconds: number | null;
  timeoutSeconds: number | null;
  fall: number | null;
  rise: number | null;
  weight: number | null;
}

export interface VirtualAddress {
  /** The address without its prefix. */
  address: string;
  /** The prefix length written after '/', or null (keepalived then adds a host address: /32 or /128). */
  prefixLength: number | null;
  device: string | null;
  raw: string;
}

/** A `virtual_routes` line: `<dst> [src <ip>] [via|gateway <ip>] [dev <if>] [scope <s>] [table <t>] [onlink]`. */
export interface VirtualRoute {
  destination: string;
  source: string | null;
  gateway: string | null;
  device: string | null;
  scope: string | null;
  /** Table id (number) or name; null = main. */
  table: number | string | null;
  onlink: boolean;
  raw: string;
}

/** A `virtual_rules` line: `from <ip>[/<len>] [to <ip>] table <t> [priority <n>]`. */
export interface VirtualRule {
  from: string | null;
  to: string | null;
  table: number | string | null;
  priority: number | null;
  raw: string;
}

export interface VrrpInstance {
  name: string;
  /** The configured initial state: MASTER or BACKUP (Octavia writes the amphora's assigned role). */
  initialState: string | null;
  interface: string | null;
  virtualRouterId: number | null;
  priority: number | null;
  advertIntervalSeconds: number | null;
  nopreempt: boolean;
  unicastSourceIp: string | null;
  unicastPeers: string[];
  virtualIpAddresses: VirtualAddress[];
  virtualIpAddressesExcluded: VirtualAddress[];
  virtualRoutes: VirtualRoute[];
  virtualRules: VirtualRule[];
  trackScripts: string[];
  authType: string | null;
}

export interface LvsCheck {
  /** MISC_CHECK, TCP_CHECK, HTTP_GET, ... */
  type: string;
  /** MISC_CHECK: the command. */
  miscPath: string | null;
  connectTimeoutSeconds: number | null;
}

export interface LvsRealServer {
  address: string;
  port: number | null;
  weight: number | null;
  checks: LvsCheck[];
}

/** An LVS virtual_server (UDP/SCTP listener) and its real servers (members). */
export interface LvsVirtualServer {
  /** The first address (`virtual_server IP PORT`, or the first entry of its virtual_server_group). */
  address: string;
  port: number | null;
  /** `virtual_server group NAME` (Octavia's LVS template): the group; null for `virtual_server IP PORT`. */
  group: string | null;
  /** Every address:port it listens on (a group has one per VIP). */
  addresses: Array<{ address: string; port: number | null }>;
  /** UDP, SCTP, TCP. */
  protocol: string | null;
  lbAlgorithm: string | null;
  lbKind: string | null;
  delayLoopSeconds: number | null;
  realServers: LvsRealServer[];
}

export interface KeepalivedConfig {
  source: string | null;
  vrrpScripts: VrrpScript[];
  vrrpInstances: VrrpInstance[];
  virtualServers: LvsVirtualServer[];
  /** `net_namespace` of global_defs or the top level (Octavia's LVS configs set it). */
  netNamespace: string | null;
  nodes: KeepalivedNode[];
}

const MAX_DEPTH = 16;

/** Words of one line: blanks separate, `"…"` keeps blanks, `#`/`!` outside quotes end the line, braces are words of their own. */
function lineWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#' || c === '!') {
      break;
    } else if (c === '{' || c === '}') {
      words.push(c);
      i++;
    } else if (c === '"') {
      const end = line.indexOf('"', i + 1);
      const stop = end === -1 ? line.length : end;
      words.push(line.slice(i + 1, stop));
      i = stop + 1;
    } else {
      let j = i;
      while (j < line.length && !' \t\r{}"'.includes(line[j]!)) j++;
      words.push(line.slice(i, j));
      i = j;
    }
  }
  return words;
}

/**
 * The statement tree of a keepalived config. Unbalanced braces or nesting deeper than keepalived
 * allows is a DiscoveryError 'parse' naming the file and line: a half-read config must not look
 * like a config without instances.
 */
export function parseKeepalivedTree(text: string, source: string | null = null): KeepalivedNode[] {
  const fail = (line: number, detail: string) => new DiscoveryError('parse', source ?? 'keepalived config', `line ${line}: ${detail}`);
  const root: KeepalivedNode[] = [];
  const stack: KeepalivedNode[][] = [root];
  let last: KeepalivedNode | null = null;
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const lineNo = index + 1;
    let current: KeepalivedNode | null = null;
    for (const word of lineWords(lines[index]!)) {
      const level = stack[stack.length - 1]!;
      if (word === '{') {
        // `{` opens the block of this line's statement, or of the previous line's (brace on its own line).
        const owner = current ?? last;
        if (!owner || owner.children) throw fail(lineNo, "'{' without a keyword before it");
        if (stack.length > MAX_DEPTH) throw fail(lineNo, `blocks nested deeper than ${MAX_DEPTH}`);
        owner.children = [];
        stack.push(owner.children);
        current = null;
        last = null;
      } else if (word === '}') {
        if (stack.length === 1) throw fail(lineNo, "'}' without an open block");
        stack.pop();
        current = null;
        last = null;
      } else if (current) {
        current.args.push(word);
      } else {
        current = { keyword: word, args: [], children: null, line: lineNo };
        level.push(current);
      }
    }
    if (current) last = current;
  }
  if (stack.length > 1) throw fail(lines.length, `${stack.length - 1} block(s) not closed`);
  return root;
}

function child(nodes: readonly KeepalivedNode[] | null, keyword: string): KeepalivedNode | null {
  return nodes?.find((n) => n.keyword === keyword) ?? null;
}

function value(nodes: readonly KeepalivedNode[] | null, keyword: string): string | null {
  const node = child(nodes, keyword);
  return node && node.args.length > 0 ? node.args.join(' ') : null;
}

function numberValue(nodes: readonly KeepalivedNode[] | null, keyword: string): number | null {
  const text = value(nodes, keyword);
  if (text === null) return null;
  const n = Number(text.split(' ')[0]);
  return Number.isFinite(n) ? n : null;
}

/** The lines of a list block (unicast_peer, virtual_ipaddress, ...), each as its words. */
function listLines(nodes: readonly KeepalivedNode[] | null, keyword: string): string[][] {
  return (child(nodes, keyword)?.children ?? []).map((n) => [n.keyword, ...n.args]);
}

function tableOf(text: string | undefined): number | string | null {
  if (text === undefined) return null;
  return /^\d+$/.test(text) ? Number(text) : text;
}

/** The word after `key` in a line, if any. */
function after(words: readonly string[], ...keys: string[]): string | undefined {
  for (let i = 0; i < words.length - 1; i++) if (keys.includes(words[i]!)) return words[i + 1];
  return undefined;
}

function toVirtualAddress(words: string[]): VirtualAddress {
  const [first = ''] = words;
  const slash = first.indexOf('/');
  const prefix = slash === -1 ? null : Number(first.slice(slash + 1));
  return {
    address: slash === -1 ? first : first.slice(0, slash),
    prefixLength: prefix !== null && Number.isInteger(prefix) ? prefix : null,
    device: after(words, 'dev') ?? null,
    raw: words.join(' '),
  };
}

function toVirtualRoute(words: string[]): VirtualRoute {
  // keepalived accepts `src` first (`src IP dst ...`); Octavia writes the destination first.
  const destination = words[0] === 'src' ? (after(words, 'to') ?? words[2] ?? '') : (words[0] ?? '');
  return {
    destination,
    source: after(words, 'src') ?? null,
    gateway: after(words, 'via', 'gateway', 'gw') ?? null,
    device: after(words, 'dev') ?? null,
    scope: after(words, 'scope') ?? null,
    table: tableOf(after(words, 'table')),
    onlink: words.includes('onlink'),
    raw: words.join(' '),
  };
}

function toVirtualRule(words: string[]): VirtualRule {
  const priority = after(words, 'priority', 'prio', 'preference', 'pref');
  return {
    from: after(words, 'from') ?? null,
    to: after(words, 'to') ?? null,
    table: tableOf(after(words, 'table', 'lookup')),
    priority: priority !== undefined && /^\d+$/.test(priority) ? Number(priority) : null,
    raw: words.join(' '),
  };
}

function toInstance(node: KeepalivedNode): VrrpInstance {
  const body = node.children;
  return {
    name: node.args[0] ?? '',
    initialState: value(body, 'state'),
    interface: value(body, 'interface'),
    virtualRouterId: numberValue(body, 'virtual_router_id'),
    priority: numberValue(body, 'priority'),
    advertIntervalSeconds: numberValue(body, 'advert_int'),
    nopreempt: child(body, 'nopreempt') !== null,
    unicastSourceIp: value(body, 'unicast_src_ip'),
    unicastPeers: listLines(body, 'unicast_peer').map((w) => w[0]!),
    virtualIpAddresses: listLines(body, 'virtual_ipaddress').map(toVirtualAddress),
    virtualIpAddressesExcluded: listLines(body, 'virtual_ipaddress_excluded').map(toVirtualAddress),
    virtualRoutes: listLines(body, 'virtual_routes').map(toVirtualRoute),
    virtualRules: listLines(body, 'virtual_rules').map(toVirtualRule),
    trackScripts: listLines(body, 'track_script').map((w) => w[0]!),
    authType: value(child(body, 'authentication')?.children ?? null, 'auth_type'),
  };
}

function toScript(node: KeepalivedNode): VrrpScript {
  const body = node.children;
  return {
    name: node.args[0] ?? '',
    script: value(body, 'script'),
    intervalSeconds: numberValue(body, 'interval'),
    timeoutSeconds: numberValue(body, 'timeout'),
    fall: numberValue(body, 'fall'),
    rise: numberValue(body, 'rise'),
    weight: numberValue(body, 'weight'),
  };
}

const CHECK_TYPES = ['MISC_CHECK', 'TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'UDP_CHECK', 'PING_CHECK', 'DNS_CHECK', 'SMTP_CHECK', 'BFD_CHECK', 'FILE_CHECK'];

const portOf = (text: string | undefined) => (text !== undefined && /^\d+$/.test(text) ? Number(text) : null);

function toVirtualServer(node: KeepalivedNode, groups: ReadonlyMap<string, Array<{ address: string; port: number | null }>>): LvsVirtualServer {
  const body = node.children;
  const group = node.args[0] === 'group' ? (node.args[1] ?? '') : null;
  const addresses = group !== null ? (groups.get(group) ?? []) : [{ address: node.args[0] ?? '', port: portOf(node.args[1]) }];
  return {
    address: addresses[0]?.address ?? '',
    port: addresses[0]?.port ?? null,
    group,
    addresses,
    protocol: value(body, 'protocol'),
    lbAlgorithm: value(body, 'lb_algo') ?? value(body, 'lvs_sched'),
    lbKind: value(body, 'lb_kind') ?? value(body, 'lvs_method'),
    delayLoopSeconds: numberValue(body, 'delay_loop'),
    realServers: (body ?? [])
      .filter((n) => n.keyword === 'real_server')
      .map((rs) => ({
        address: rs.args[0] ?? '',
        port: rs.args[1] !== undefined && /^\d+$/.test(rs.args[1]) ? Number(rs.args[1]) : null,
        weight: numberValue(rs.children, 'weight'),
        checks: (rs.children ?? [])
          .filter((c) => CHECK_TYPES.includes(c.keyword))
          .map((c) => ({ type: c.keyword, miscPath: value(c.children, 'misc_path'), connectTimeoutSeconds: numberValue(c.children, 'connect_timeout') ?? numberValue(c.children, 'misc_timeout') })),
      })),
  };
}

/** Parses a keepalived config; throws DiscoveryError 'parse' when its blocks do not balance. */
export function parseKeepalivedConfig(text: string, options: { source?: string } = {}): KeepalivedConfig {
  const source = options.source ?? null;
  const nodes = parseKeepalivedTree(text, source);
  const globalDefs = child(nodes, 'global_defs')?.children ?? null;
  const groups = new Map(
    nodes.filter((n) => n.keyword === 'virtual_server_group').map((n) => [n.args[0] ?? '', (n.children ?? []).map((line) => ({ address: line.keyword, port: portOf(line.args[0]) }))] as const),
  );
  return {
    source,
    vrrpScripts: nodes.filter((n) => n.keyword === 'vrrp_script').map(toScript),
    vrrpInstances: nodes.filter((n) => n.keyword === 'vrrp_instance').map(toInstance),
    virtualServers: nodes.filter((n) => n.keyword === 'virtual_server').map((n) => toVirtualServer(n, groups)),
    netNamespace: value(nodes, 'net_namespace') ?? value(globalDefs, 'net_namespace'),
    nodes,
  };
}
