// `lbtopo trace POOL|VIP|PORT`: the manual trace of one pool as a tree, in the order an operator
// walks it (pool -> namespace -> VIP tap with addresses, MAC, state and counters -> OVS port,
// bridge and tag -> haproxy pid and argv -> stats socket -> members with health), each problem
// marked on the node it sits on. `-f dot` and `-f mermaid` draw the same tree as a picture;
// `-f json` prints the answer as GraphQL gave it.
import { parseArgs } from 'node:util';
import { isIP } from 'node:net';
import { settingOptions } from '../config.ts';
import type { ProblemCode } from '../diagnose/codes.ts';
import { runGraphQL, TARGET_OPTIONS, targetFromFlags, UnreachableError, UsageError } from './client.ts';
import type { GraphQLAnswer, Target } from './client.ts';
import { parseFormat } from './format.ts';

export const TRACE_FORMATS = ['tree', 'json', 'dot', 'mermaid'] as const;
type TraceFormat = (typeof TRACE_FORMATS)[number];

export const TRACE_USAGE = `usage: lbtopo trace POOL|VIP|PORT [-f tree|json|dot|mermaid]

The manual trace of one pool, as a tree: the pool, its namespace, the VIP tap (addresses, MAC,
state, counters), its OVS port (bridge, VLAN tag), the haproxy process (pid, argv) and its stats
socket, the members with their health. Problems are marked (✗) on the node they concern and
explained below the tree.

  POOL                 a pool id (UUID)
  VIP                  the VIP address (10.0.0.10 or 10.0.0.10:80)
  PORT                 the VIP's Neutron port: its UUID, its tap name (tap70081ac2-6f) or the
                       11-character prefix (70081ac2-6f)
  -f, --format F       tree (default), json (the GraphQL answer), dot (graphviz: | dot -Tsvg),
                       mermaid (a flowchart for Markdown)
  --url URL, --token TOKEN, --timeout DURATION, and the serve settings: as for lbtopo query

exit: 0 traced, 1 not found on this host (or the query failed, or the server is unreachable),
2 usage error
`;

const TRACE_QUERY = `query Trace($id: String!) {
  pool(id: $id) {
    id layout loadBalancerId configPath namespaceName socketPath pidFile stalePids
    vip { address port listener }
    namespace { name routes { destination gateway device table } }
    vipInterface {
      name operState macAddress mtu
      addresses { address prefixLength }
      stats { rxPackets rxBytes rxErrors rxDropped txPackets txBytes txErrors txDropped }
    }
    vipPort { id macAddress tapName ovsPort { name bridge tag deadVlan ofport error ifaceId } }
    haproxy { pid argv startedAt }
    haproxyProcesses { pid }
    stats { reachable error version uptimeSeconds currentConnections }
    members { id address port status checkStatus checkDescription weight }
    problems { severity code message memberId }
  }
}`;

export interface TracedProblem {
  severity: string;
  code: string;
  message: string;
  memberId: string | null;
}

export interface TracedPool {
  id: string;
  layout: string;
  loadBalancerId: string | null;
  configPath: string;
  namespaceName: string;
  socketPath: string;
  pidFile: string;
  stalePids: number[] | null;
  vip: { address: string; port: number | null; listener: string } | null;
  namespace: { name: string; routes: Array<{ destination: string; gateway: string | null; device: string | null; table: string }> | null } | null;
  vipInterface: {
    name: string;
    operState: string;
    macAddress: string | null;
    mtu: number;
    addresses: Array<{ address: string; prefixLength: number }>;
    stats: { rxPackets: number; rxBytes: number; rxErrors: number; rxDropped: number; txPackets: number; txBytes: number; txErrors: number; txDropped: number } | null;
  } | null;
  vipPort: { id: string; macAddress: string | null; tapName: string; ovsPort: { name: string; bridge: string | null; tag: number | null; deadVlan: boolean; ofport: number | null; error: string | null; ifaceId: string | null } | null } | null;
  haproxy: { pid: number; argv: string[]; startedAt: string } | null;
  haproxyProcesses: Array<{ pid: number }> | null;
  stats: { reachable: boolean | null; error: string | null; version: string | null; uptimeSeconds: number | null; currentConnections: number | null } | null;
  members: Array<{ id: string; address: string; port: number | null; status: string | null; checkStatus: string | null; checkDescription: string | null; weight: number }> | null;
  problems: TracedProblem[] | null;
}

type NodeKind = 'pool' | 'namespace' | 'routes' | 'tap' | 'ovs' | 'bridge' | 'haproxy' | 'stats' | 'members' | 'member';

/** Where each code is marked. Orphans concern no pool and never appear in a pool's trace. */
const PLACE: Record<ProblemCode, NodeKind> = {
  NAMESPACE_MISSING: 'namespace',
  NO_DEFAULT_ROUTE: 'routes',
  VIP_INTERFACE_MISSING: 'tap',
  VIP_ADDRESS_MISSING: 'tap',
  INTERFACE_DOWN: 'tap',
  OVS_PORT_MISSING: 'ovs',
  OVS_DEAD_VLAN: 'ovs',
  OVS_INTERFACE_ERROR: 'ovs',
  IFACE_ID_MISMATCH: 'ovs',
  HAPROXY_MISSING: 'haproxy',
  HAPROXY_OUTSIDE_NAMESPACE: 'haproxy',
  HAPROXY_PID_STALE: 'haproxy',
  HAPROXY_CONFIG_NEWER: 'haproxy',
  HAPROXY_MULTIPLE: 'haproxy',
  STATS_SOCKET_DEAD: 'stats',
  ALL_MEMBERS_DOWN: 'members',
  MEMBER_DOWN: 'member',
  CONFIG_UNREADABLE: 'pool',
  CONFIG_INCOMPLETE: 'pool',
  PID_FILE_UNREADABLE: 'haproxy',
  CHECK_INCOMPLETE: 'pool',
  ORPHAN_NAMESPACE: 'pool',
  ORPHAN_OVS_PORT: 'pool',
  // The cloud codes: the API's disagreement is about the whole pool, the port binding about the tap.
  API_ONLINE_BUT_DEAD: 'haproxy',
  MISSING_ON_HOST: 'pool',
  UNKNOWN_TO_API: 'pool',
  MEMBER_SET_DRIFT: 'members',
  PORT_BINDING_DRIFT: 'tap',
  OPERATING_STATUS_DRIFT: 'member',
  // Amphora codes: the VRRP interface is the pool's tap node, keepalived and certs concern the pool.
  KEEPALIVED_DOWN: 'pool',
  POLICY_ROUTE_MISSING: 'routes',
  LISTENER_COUNT_MISMATCH: 'haproxy',
  HAPROXY_RESTARTING: 'haproxy',
  LOOPBACK_DOWN: 'namespace',
  HM_TARGETS_INVALID: 'pool',
  CERT_EXPIRING: 'pool',
};

export interface TraceNode {
  kind: NodeKind;
  /** First line: what it is. */
  label: string;
  /** More lines: its facts. */
  details: string[];
  problems: TracedProblem[];
  children: TraceNode[];
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** The tree of one traced pool (pure: the renderers and the tests read it). */
export function traceTree(pool: TracedPool): TraceNode {
  const problems = pool.problems ?? [];
  const at = (kind: NodeKind, memberId: string | null = null) =>
    problems.filter((p) => (PLACE[p.code as ProblemCode] ?? 'pool') === kind && (kind !== 'member' || p.memberId === memberId));
  const node = (kind: NodeKind, label: string, details: string[] = [], children: TraceNode[] = [], memberId: string | null = null): TraceNode => ({
    kind,
    label,
    details,
    problems: at(kind, memberId),
    children,
  });

  const iface = pool.vipInterface;
  const ovs = pool.vipPort?.ovsPort ?? null;
  const ovsNode = ovs
    ? node('ovs', `OVS port ${ovs.name}`, [`tag ${ovs.tag ?? 'none'}${ovs.deadVlan ? ' (dead VLAN)' : ''}, ofport ${ovs.ofport ?? '?'}${ovs.error ? `, error: ${ovs.error}` : ''}`, `iface-id ${ovs.ifaceId ?? 'none'}`], [
        node('bridge', `bridge ${ovs.bridge ?? '?'}`),
      ])
    : node('ovs', pool.vipPort ? `OVS port: none for port ${pool.vipPort.id}` : 'OVS port: unknown (no VIP port found)');
  const tapNode = iface
    ? node(
        'tap',
        `tap ${iface.name}`,
        [
          `${iface.operState}, mac ${iface.macAddress ?? 'none'}, mtu ${iface.mtu}`,
          `addresses ${iface.addresses.map((a) => `${a.address}/${a.prefixLength}`).join(', ') || 'none'}`,
          ...(iface.stats
            ? [
                `rx ${iface.stats.rxPackets} packets, ${bytes(iface.stats.rxBytes)}, ${iface.stats.rxErrors} errors, ${iface.stats.rxDropped} dropped`,
                `tx ${iface.stats.txPackets} packets, ${bytes(iface.stats.txBytes)}, ${iface.stats.txErrors} errors, ${iface.stats.txDropped} dropped`,
              ]
            : []),
          ...(pool.vipPort ? [`port ${pool.vipPort.id}`] : []),
        ],
        [ovsNode],
      )
    : node('tap', `tap: ${pool.vipPort ? pool.vipPort.tapName : 'VIP interface'} not found in the namespace`, [], [ovsNode]);
  const routes = (pool.namespace?.routes ?? []).filter((r) => r.table === 'main' && !r.destination.startsWith('fe80') && !r.destination.startsWith('ff00'));
  const nsNode = pool.namespace
    ? node('namespace', `namespace ${pool.namespace.name}`, [], [
        tapNode,
        node('routes', `routes ${routes.map((r) => `${r.destination}${r.gateway ? ` via ${r.gateway}` : ''}${r.device ? ` dev ${r.device}` : ''}`).join(', ') || 'none'}`),
      ])
    : node('namespace', `namespace ${pool.namespaceName} (missing)`, [], [tapNode]);

  const stats = pool.stats;
  const statsNode = node(
    'stats',
    `stats socket ${pool.socketPath}`,
    stats
      ? [
          stats.reachable
            ? `answers: haproxy ${stats.version ?? '?'}, up ${stats.uptimeSeconds ?? '?'} s, ${stats.currentConnections ?? '?'} connections`
            : `does not answer${stats.error ? `: ${stats.error}` : ''}`,
        ]
      : [],
  );
  const others = (pool.haproxyProcesses ?? []).filter((p) => p.pid !== pool.haproxy?.pid).map((p) => p.pid);
  const haproxyNode = pool.haproxy
    ? node('haproxy', `haproxy pid ${pool.haproxy.pid}`, [pool.haproxy.argv.join(' '), `started ${pool.haproxy.startedAt}`, ...(others.length ? [`also running: ${others.join(', ')}`] : [])], [statsNode])
    : node('haproxy', 'haproxy: not running', [`pid file ${pool.pidFile}${pool.stalePids?.length ? ` names ${pool.stalePids.join(', ')} (dead)` : ''}`], [statsNode]);

  const members = pool.members ?? [];
  const up = members.filter((m) => m.status !== null && /^(UP|no check)/.test(m.status)).length;
  const unknown = members.some((m) => m.status === null);
  const membersNode = node(
    'members',
    `members ${unknown ? '?' : up}/${members.length} up`,
    [],
    members.map((m) =>
      node('member', `member ${m.id}`, [`${m.address}${m.port === null ? '' : `:${m.port}`}, weight ${m.weight}, ${m.status ?? 'health unknown'}${m.checkStatus ? ` (${m.checkStatus}${m.checkDescription ? ` ${m.checkDescription}` : ''})` : ''}`], [], m.id),
    ),
  );

  const head = [`${pool.layout.toLowerCase()}${pool.loadBalancerId ? `, load balancer ${pool.loadBalancerId}` : ''}`, `config ${pool.configPath}`];
  if (pool.vip) head.push(`vip ${pool.vip.address}${pool.vip.port === null ? '' : `:${pool.vip.port}`} (frontend ${pool.vip.listener})`);
  return node('pool', `pool ${pool.id}`, head, [nsNode, haproxyNode, membersNode]);
}

const mark = (p: TracedProblem) => `✗ ${p.severity} ${p.code}`;

/** The tree as text, with ├── └── │ guides; problems on the node line, explained at the end. */
export function renderTree(root: TraceNode): string {
  const lines: string[] = [];
  const walk = (n: TraceNode, prefix: string, childPrefix: string) => {
    lines.push(`${prefix}${n.label}${n.problems.length ? `  ${n.problems.map(mark).join(', ')}` : ''}`);
    const guide = n.children.length > 0 ? '│   ' : '    ';
    for (const d of n.details) lines.push(`${childPrefix}${guide}${d}`);
    n.children.forEach((c, i) => {
      const last = i === n.children.length - 1;
      walk(c, `${childPrefix}${last ? '└── ' : '├── '}`, `${childPrefix}${last ? '    ' : '│   '}`);
    });
  };
  walk(root, '', '');
  const all: TracedProblem[] = [];
  const collect = (n: TraceNode) => {
    all.push(...n.problems);
    n.children.forEach(collect);
  };
  collect(root);
  if (all.length > 0) {
    lines.push('', 'problems:');
    for (const p of all) lines.push(`  ✗ ${p.severity} ${p.code}: ${p.message}`);
  } else lines.push('', 'problems: none');
  return `${lines.join('\n')}\n`;
}

function flatten(root: TraceNode): Array<{ id: string; node: TraceNode; parent: string | null }> {
  const out: Array<{ id: string; node: TraceNode; parent: string | null }> = [];
  const walk = (n: TraceNode, parent: string | null) => {
    const id = `n${out.length}`;
    out.push({ id, node: n, parent });
    for (const c of n.children) walk(c, id);
  };
  walk(root, null);
  return out;
}

const worst = (n: TraceNode) => (n.problems.some((p) => p.severity === 'CRITICAL') ? 'CRITICAL' : n.problems.some((p) => p.severity === 'WARNING') ? 'WARNING' : n.problems.length ? 'INFO' : null);
const COLORS = { CRITICAL: '#f4b4b4', WARNING: '#f9dc9c', INFO: '#c9dcf5' } as const;

/** Graphviz: one box per node, its facts and problems in the label, filled by the worst problem. */
export function renderDot(root: TraceNode): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  const lines = ['digraph trace {', '  rankdir=LR;', '  node [shape=box, style="rounded,filled", fillcolor="#eef5ee", fontname="monospace", fontsize=10];'];
  for (const { id, node, parent } of flatten(root)) {
    const label = [node.label, ...node.details.map((d) => (d.length > 90 ? `${d.slice(0, 87)}...` : d)), ...node.problems.map(mark)].map(esc).join('\\l') + '\\l';
    const w = worst(node);
    lines.push(`  ${id} [label="${label}"${w ? `, fillcolor="${COLORS[w]}", color="#a00000"` : ''}];`);
    if (parent) lines.push(`  ${parent} -> ${id};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Mermaid flowchart (GitHub and GitLab render it in Markdown). */
export function renderMermaid(root: TraceNode): string {
  const esc = (s: string) => s.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
  const lines = ['flowchart LR'];
  for (const { id, node, parent } of flatten(root)) {
    const label = [node.label, ...node.details.map((d) => (d.length > 90 ? `${d.slice(0, 87)}...` : d)), ...node.problems.map(mark)].map(esc).join('<br/>');
    lines.push(`  ${id}["${label}"]`);
    if (parent) lines.push(`  ${parent} --> ${id}`);
    const w = worst(node);
    if (w) lines.push(`  class ${id} ${w.toLowerCase()}`);
  }
  for (const [w, color] of Object.entries(COLORS)) lines.push(`  classDef ${w.toLowerCase()} fill:${color},stroke:#a00000`);
  return `${lines.join('\n')}\n`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PORT_PREFIX = /^[0-9a-f]{8}-[0-9a-f]{2}$/;

/** What the argument names, validated before it reaches a query. */
export function classify(arg: string): { kind: 'uuid' | 'vip' | 'port'; value: string; port: number | null } {
  const a = arg.trim().toLowerCase();
  if (UUID.test(a)) return { kind: 'uuid', value: a, port: null };
  if (PORT_PREFIX.test(a)) return { kind: 'port', value: a, port: null };
  if (/^tap[0-9a-f]{8}-[0-9a-f]{2}$/.test(a)) return { kind: 'port', value: a.slice(3), port: null };
  if (isIP(a)) return { kind: 'vip', value: a, port: null };
  const hostPort = /^\[?([0-9a-f.:]+?)\]?:(\d{1,5})$/.exec(a);
  if (hostPort && isIP(hostPort[1]!) && Number(hostPort[2]) <= 65535) return { kind: 'vip', value: hostPort[1]!, port: Number(hostPort[2]) };
  throw new UsageError(`${JSON.stringify(arg)} is not a pool id, a VIP address or a port (UUID, tapXXXXXXXX-XX or XXXXXXXX-XX)`);
}

async function ask(target: Target, query: string, variables: Record<string, unknown>): Promise<GraphQLAnswer> {
  return runGraphQL(target, { query, variables });
}

/** The pool id the argument leads to, or null. */
async function resolvePoolId(target: Target, arg: ReturnType<typeof classify>): Promise<string[]> {
  if (arg.kind === 'vip') {
    const a = await ask(target, '{ pools { id vip { address port } } }', {});
    const pools = (a.body.data?.pools ?? []) as Array<{ id: string; vip: { address: string; port: number | null } | null }>;
    return pools.filter((p) => p.vip?.address === arg.value && (arg.port === null || p.vip.port === arg.port)).map((p) => p.id).sort();
  }
  const a = await ask(target, `query($id: String!) { ${arg.kind === 'uuid' ? 'pool(id: $id) { id } ' : ''}port(id: $id) { pool { id } } }`, { id: arg.value });
  const data = a.body.data as { pool?: { id: string } | null; port?: { pool: { id: string } | null } | null } | null | undefined;
  const id = data?.pool?.id ?? data?.port?.pool?.id;
  return id ? [id] : [];
}

export async function traceCommand(args: string[]): Promise<number> {
  let target: Target;
  let format: TraceFormat;
  let arg: ReturnType<typeof classify>;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { ...settingOptions(), format: { type: 'string', short: 'f' }, ...TARGET_OPTIONS, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      process.stdout.write(TRACE_USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'name a pool, a VIP or a port' : `one pool at a time (got ${positionals.join(' ')})`);
    format = parseFormat(values.format, TRACE_FORMATS, 'tree');
    arg = classify(positionals[0]!);
    target = targetFromFlags(values);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`lbtopo trace: ${(err as Error).message}\n\n${TRACE_USAGE}`);
      return 2;
    }
    throw err;
  }
  try {
    const ids = await resolvePoolId(target, arg);
    if (ids.length === 0) {
      process.stderr.write(`lbtopo trace: no pool on this host has ${arg.kind === 'vip' ? 'VIP' : arg.kind === 'port' ? 'VIP port' : 'id or VIP port'} ${args.find((a) => !a.startsWith('-'))}\n`);
      return 1;
    }
    if (ids.length > 1) process.stderr.write(`lbtopo trace: ${ids.length} pools share this VIP (${ids.join(', ')}); tracing each\n`);
    let status = 0;
    for (const id of ids) {
      const answer = await ask(target, TRACE_QUERY, { id });
      const pool = answer.body.data?.pool as TracedPool | null | undefined;
      if (format === 'json') {
        process.stdout.write(`${JSON.stringify(answer.body, null, 2)}\n`);
        if (!pool) status = 1;
        continue;
      }
      if (!pool) {
        process.stderr.write(`lbtopo trace: ${answer.body.errors?.[0]?.message ?? `pool ${id} is gone`}\n`);
        status = 1;
        continue;
      }
      const tree = traceTree(pool);
      process.stdout.write(format === 'dot' ? renderDot(tree) : format === 'mermaid' ? renderMermaid(tree) : renderTree(tree));
      const notes = [...new Set((answer.body.errors ?? []).map((e) => e.message))];
      for (const m of notes.slice(0, 5)) process.stderr.write(`lbtopo trace: note: ${m}\n`);
    }
    return status;
  } catch (err) {
    if (err instanceof UnreachableError) {
      process.stderr.write(`lbtopo trace: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
