// Interfaces, addresses and routes of one network namespace from ONE `ip` process:
//   ip -s -d -j -n <ns> -batch -
// with three commands on stdin. `-n` is a global option applied once at startup (setns), so one
// process can only ever see one namespace; the batch saves the two extra spawns (~10 ms each)
// that separate `addr` and `route` runs would cost per namespace.
//
// IPv6 routes in the same process (verified on iproute2 6.1.0, kernel 6.18): a batch line cannot
// carry global options — `-6 route show table all` on stdin fails with
//   Object "-6" is unknown, try "ip help".
// and `route show` / `route show table main` / `route show table 100` (any specific table) dump
// IPv4 only, because iproute.c forces the family to AF_INET when a table filter is set and no -4/-6
// was given. Even an IPv6 prefix selector does not help there, it silently matches nothing:
//   route show root ::/0               → []
//   route show table main root ::/0    → []
// Only `table all` keeps the family AF_UNSPEC, so the kernel dumps every family:
//   route show table all   → [{"type":"unicast","dst":"10.77.0.0/16",…,"table":"100",…}, …,
//                             {"type":"local","dst":"::1","dev":"lo","table":"local",…,"metric":0,
//                              "flags":[],"pref":"medium"}, …]
// That mixed array has no "family" key, and "dst":"default" (with no gateway, e.g. `default dev
// tap0`) is ambiguous between the families. A `root` selector after `table all` filters the dump
// by family, and its family is then known from the line it came from:
//   route show table all root 0/0  → only IPv4 routes of all tables (main, local, 100, …)
//   route show table all root ::/0 → [{"type":"unicast","dst":"fd00:77::/48","gateway":"fd00:9::1",
//        "dev":"va","table":"100","protocol":"boot","scope":"global","metric":1024,"flags":[],
//        "pref":"medium"}, {…"dst":"default","gateway":"fd00:9::1",…"table":"main"…}, …]
// (`match ::/0` is not a family selector: it means "routes that would match ::/0", i.e. only
// default routes.) So the batch is `addr show`, `route show table all root 0/0`,
// `route show table all root ::/0`: three JSON arrays, one per line, one process.
//
// With -d, every route has "table" (also "main"), "type" ("unicast" too) and "protocol" ("boot"
// too); without -d those are omitted for main/unicast/boot. The parser accepts both.
import { z } from 'zod';
import type { CommandGateway } from './exec.ts';
import { DiscoveryError } from './errors.ts';
import { isValidNamespaceName } from './names.ts';
import { join, normalize } from 'node:path';
import { namespaceFileInodeNow } from './netns.ts';

export type AddressFamily = 'inet' | 'inet6';

export interface InterfaceAddress {
  family: AddressFamily;
  address: string;
  prefixLength: number;
  scope: string;
  broadcast: string | null;
  label: string | null;
  /** Learnt (DHCP/SLAAC) with a finite lifetime rather than configured permanently. */
  dynamic: boolean;
}

export interface InterfaceStats {
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

export interface Interface {
  index: number;
  name: string;
  /** Link-layer address when it is a 6-byte MAC; null for tunnels and links without one. */
  macAddress: string | null;
  mtu: number;
  /** UP, DOWN, UNKNOWN (loopback, tun), LOWERLAYERDOWN, … */
  operState: string;
  /** UP, LOWER_UP, BROADCAST, NO-CARRIER, M-DOWN, … as ip prints them. */
  flags: string[];
  /** linkinfo.info_kind: openvswitch, veth, tun, dummy, bridge, …; null for physical/loopback. */
  kind: string | null;
  /** Name of the master device (bridge, bond, VRF). */
  master: string | null;
  /** Index of the peer/parent link (veth peer, VLAN parent); in linkNetnsId's namespace when set. */
  linkIndex: number | null;
  /** nsid (relative to this namespace) of the namespace the peer/parent link lives in. */
  linkNetnsId: number | null;
  addresses: InterfaceAddress[];
  /** null when ip was run without -s. */
  stats: InterfaceStats | null;
}

export interface RouteNexthop {
  gateway: string | null;
  device: string | null;
  weight: number | null;
  flags: string[];
}

export interface Route {
  family: AddressFamily;
  /** Table id as a number, or its name (main, local, default, or from rt_tables). */
  table: number | string;
  /** 'default' or the destination as ip prints it (a bare address for host routes). */
  destination: string;
  gateway: string | null;
  device: string | null;
  protocol: string | null;
  scope: string | null;
  preferredSource: string | null;
  metric: number | null;
  /** unicast, local, broadcast, multicast, blackhole, unreachable, prohibit, … */
  type: string | null;
  /** onlink, linkdown, … */
  flags: string[];
  /** Multipath routes: one entry per path (gateway/device of the route itself are null then). */
  nexthops: RouteNexthop[];
}

export interface NamespaceNetwork {
  namespace: string;
  /**
   * nsfs inode of the namespace file that was entered (stat before and after the look agree), so
   * a namespace deleted and made again under the same name is known to be another one. Absent in
   * observations cached by older builds.
   */
  inode?: number;
  interfaces: Interface[];
  routes: Route[];
}

/** The lines fed to `ip -batch -`; the order is the order of the JSON arrays in the output. */
export const IP_BATCH_COMMANDS = ['addr show', 'route show table all root 0/0', 'route show table all root ::/0'] as const;
export const IP_BATCH_INPUT = `${IP_BATCH_COMMANDS.join('\n')}\n`;

/** Where iproute2 looks for `ip -n NAME` (NETNS_RUN_DIR, compiled in). */
export const IPROUTE_NETNS_DIR = '/run/netns';

/**
 * The command that reads one namespace. `ip -n NAME` always opens /run/netns/NAME, whatever
 * LBTOPO_NETNS_DIR says; with another dir, the namespace is entered by its file instead
 * (`nsenter --net=FILE`, util-linux), so the inode listed and the contents read come from the
 * same file.
 */
export function ipBatchArgv(namespace: string, netnsDir: string = IPROUTE_NETNS_DIR): string[] {
  if (normalize(netnsDir).replace(/\/+$/, '') === IPROUTE_NETNS_DIR) return ['ip', '-s', '-d', '-j', '-n', namespace, '-batch', '-'];
  return ['nsenter', `--net=${join(netnsDir, namespace)}`, '--', 'ip', '-s', '-d', '-j', '-batch', '-'];
}

/** The namespace file's inode, or null when it is not (or no longer) a mounted namespace. */
export function namespaceFileInode(path: string): number | null {
  try {
    // Synchronous: a stat of a mount point under /run does not block, and through the thread
    // pool it was two round trips of a busy loop per namespace read.
    return namespaceFileInodeNow(path);
  } catch {
    return null;
  }
}

/**
 * Interfaces and routes (all tables, both families) of one named namespace, from one `ip` process.
 * Refuses an invalid name before running anything ('invalid'); a namespace that does not exist or
 * vanished is 'gone'; output of the wrong shape is 'parse'. Other failures (timeout, exit) come
 * from the gateway unchanged.
 */
export async function readNamespaceNetwork(
  gateway: CommandGateway,
  namespace: string,
  options: { signal?: AbortSignal; netnsDir?: string } = {},
): Promise<NamespaceNetwork> {
  const netnsDir = options.netnsDir ?? IPROUTE_NETNS_DIR;
  const argv = ipBatchArgv(namespace, netnsDir);
  if (!isValidNamespaceName(namespace)) {
    throw new DiscoveryError('invalid', argv, `not a valid namespace name: ${JSON.stringify(namespace)}`);
  }
  const file = join(netnsDir, namespace);
  const inodeBefore = namespaceFileInode(file);
  if (inodeBefore === null) throw new DiscoveryError('gone', argv, `namespace ${namespace} does not exist (any more): ${file} is not a mounted namespace`);
  const network = await runIpBatch(gateway, argv, namespace, options.signal);
  // Deleted (or deleted and made again) while ip ran: what it read may belong to either.
  if (namespaceFileInode(file) !== inodeBefore) throw new DiscoveryError('gone', argv, `namespace ${namespace} changed while it was read (${file})`);
  return { ...network, inode: inodeBefore };
}

async function runIpBatch(gateway: CommandGateway, argv: string[], namespace: string, signal: AbortSignal | undefined): Promise<NamespaceNetwork> {
  const options = signal ? { signal } : {};
  let stdout: string;
  try {
    const runOptions: { input: string; signal?: AbortSignal } = { input: IP_BATCH_INPUT };
    if (options.signal) runOptions.signal = options.signal;
    ({ stdout } = await gateway.run(argv, runOptions));
  } catch (err) {
    if (err instanceof DiscoveryError && err.kind === 'exit' && isMissingNamespace(err.stderr ?? '')) {
      throw new DiscoveryError('gone', argv, `namespace ${namespace} does not exist (any more)`, {
        exitCode: err.exitCode,
        stderr: err.stderr,
      });
    }
    throw err;
  }
  return parseIpBatchOutput(stdout, namespace);
}

/**
 * ip exits 255 with one of these before reading the batch:
 * - `Cannot open network namespace "x": No such file or directory`: no /run/netns/x (never made,
 *   or deleted before we got there);
 * - `setting the network namespace "x" failed: Invalid argument`: /run/netns/x exists but is a
 *   plain file, not a namespace (half made by `ip netns add`, or half deleted).
 */
export function isMissingNamespace(stderr: string): boolean {
  return /Cannot open network namespace "[^"]*": No such file or directory/.test(stderr) ||
    // nsenter (util-linux 2.38): `nsenter: cannot open /dir/x: No such file or directory`,
    // `nsenter: reassociate to namespace 'ns/net' failed: Invalid argument` (a plain file).
    /^nsenter: cannot open .*: No such file or directory/m.test(stderr) ||
    /^nsenter: reassociate to namespace 'ns\/net' failed: Invalid argument/m.test(stderr) ||
    /setting the network namespace "[^"]*" failed: Invalid argument/.test(stderr);
}

// ---------------------------------------------------------------------------------------------
// JSON shapes of iproute2 6.1 (ip/ipaddress.c, ip/iproute.c). Unknown keys are ignored (stripped);
// keys that ip omits when they have their default value are optional.

const addressInfoSchema = z.object({
  family: z.enum(['inet', 'inet6']),
  local: z.string(),
  prefixlen: z.number().int().nonnegative(),
  broadcast: z.string().optional(),
  scope: z.union([z.string(), z.number()]),
  label: z.string().optional(),
  dynamic: z.boolean().optional(),
});
// `ip -j addr` prints `{}` for an address its own filters dropped (seen with -4/-6); never with our
// unfiltered `addr show`, but tolerated rather than failing the whole namespace, and so is an
// address of another family. A malformed inet/inet6 entry still fails the parse.
const addressEntrySchema = z.union([
  addressInfoSchema,
  z.strictObject({}),
  z.object({ family: z.string().refine((family) => family !== 'inet' && family !== 'inet6') }),
]);

const directionStatsSchema = z.object({
  bytes: z.number(),
  packets: z.number(),
  errors: z.number(),
  dropped: z.number(),
});

const linkSchema = z.object({
  ifindex: z.number().int().positive(),
  ifname: z.string(),
  flags: z.array(z.string()),
  mtu: z.number().int().nonnegative(),
  operstate: z.string(),
  address: z.string().optional(),
  master: z.string().optional(),
  link_index: z.number().int().optional(),
  link_netnsid: z.number().int().optional(),
  linkinfo: z.object({ info_kind: z.string().optional() }).optional(),
  addr_info: z.array(addressEntrySchema).optional(),
  // -s gives stats64 (kernels since 2.6.35); older ones, or ip built without it, give stats.
  stats64: z.object({ rx: directionStatsSchema, tx: directionStatsSchema }).optional(),
  stats: z.object({ rx: directionStatsSchema, tx: directionStatsSchema }).optional(),
});

const nexthopSchema = z.object({
  gateway: z.string().optional(),
  via: z.object({ family: z.string(), host: z.string() }).optional(),
  dev: z.string().optional(),
  weight: z.number().optional(),
  flags: z.array(z.string()).optional(),
});

const routeSchema = z.object({
  type: z.string().optional(),
  dst: z.string(),
  gateway: z.string().optional(),
  // A gateway of the other family (RFC 5549, `via inet6 …` for an IPv4 route).
  via: z.object({ family: z.string(), host: z.string() }).optional(),
  dev: z.string().optional(),
  table: z.union([z.string(), z.number()]).optional(),
  protocol: z.union([z.string(), z.number()]).optional(),
  scope: z.union([z.string(), z.number()]).optional(),
  prefsrc: z.string().optional(),
  metric: z.number().optional(),
  flags: z.array(z.string()).optional(),
  nexthops: z.array(nexthopSchema).optional(),
});

const batchOutputSchema = z.tuple([z.array(linkSchema), z.array(routeSchema), z.array(routeSchema)]);

/**
 * The three JSON arrays printed by `ip -j -batch -` for IP_BATCH_INPUT (one per line) →
 * NamespaceNetwork. Anything else (garbage, a truncated array, a missing line) is a
 * DiscoveryError 'parse' naming the command.
 */
export function parseIpBatchOutput(stdout: string, namespace: string): NamespaceNetwork {
  const argv = ipBatchArgv(namespace);
  const fail = (detail: string): DiscoveryError =>
    new DiscoveryError('parse', argv, `${detail} (stdin: ${IP_BATCH_COMMANDS.join('; ')})`);
  // ip ends each array with a newline and JSON strings never contain a raw newline.
  const lines = stdout.split('\n').filter((line) => line.trim() !== '');
  if (lines.length !== IP_BATCH_COMMANDS.length) {
    throw fail(`expected ${IP_BATCH_COMMANDS.length} JSON arrays, one per line, got ${lines.length} lines`);
  }
  const values = lines.map((line, i) => {
    try {
      return JSON.parse(line) as unknown;
    } catch (err) {
      throw fail(`output of "${IP_BATCH_COMMANDS[i]}" is not JSON: ${(err as Error).message}`);
    }
  });
  const parsed = batchOutputSchema.safeParse(values);
  if (!parsed.success) throw fail(`unexpected JSON: ${z.prettifyError(parsed.error)}`);
  const [links, inetRoutes, inet6Routes] = parsed.data;
  return {
    namespace,
    interfaces: links.map(toInterface),
    routes: [...inetRoutes.map((r) => toRoute(r, 'inet')), ...inet6Routes.map((r) => toRoute(r, 'inet6'))],
  };
}

const MAC_ADDRESS = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

function toInterface(link: z.infer<typeof linkSchema>): Interface {
  const counters = link.stats64 ?? link.stats;
  const addresses: InterfaceAddress[] = [];
  for (const entry of link.addr_info ?? []) {
    if (!('local' in entry)) continue; // `{}` placeholders and other families, see addressEntrySchema
    const a = entry;
    addresses.push({
      family: a.family,
      address: a.local,
      prefixLength: a.prefixlen,
      scope: String(a.scope),
      broadcast: a.broadcast ?? null,
      label: a.label ?? null,
      dynamic: a.dynamic ?? false,
    });
  }
  return {
    index: link.ifindex,
    name: link.ifname,
    // Tunnels (gre, ipip) print an IP address here and InfiniBand a 20-byte one: not MACs.
    macAddress: link.address !== undefined && MAC_ADDRESS.test(link.address) ? link.address : null,
    mtu: link.mtu,
    operState: link.operstate,
    flags: link.flags,
    kind: link.linkinfo?.info_kind ?? null,
    master: link.master ?? null,
    linkIndex: link.link_index ?? null,
    linkNetnsId: link.link_netnsid ?? null,
    addresses,
    stats: counters
      ? {
          rxBytes: counters.rx.bytes,
          rxPackets: counters.rx.packets,
          rxErrors: counters.rx.errors,
          rxDropped: counters.rx.dropped,
          txBytes: counters.tx.bytes,
          txPackets: counters.tx.packets,
          txErrors: counters.tx.errors,
          txDropped: counters.tx.dropped,
        }
      : null,
  };
}

/** Numeric table ids as numbers ("100" → 100); names as they are; absent (no -d) means main. */
function toTable(table: string | number | undefined): number | string {
  if (table === undefined) return 'main';
  if (typeof table === 'number') return table;
  return /^\d+$/.test(table) ? Number(table) : table;
}

function toRoute(route: z.infer<typeof routeSchema>, family: AddressFamily): Route {
  return {
    family,
    table: toTable(route.table),
    destination: route.dst,
    gateway: route.gateway ?? route.via?.host ?? null,
    device: route.dev ?? null,
    protocol: route.protocol === undefined ? null : String(route.protocol),
    scope: route.scope === undefined ? null : String(route.scope),
    preferredSource: route.prefsrc ?? null,
    metric: route.metric ?? null,
    type: route.type ?? null,
    flags: route.flags ?? [],
    nexthops: (route.nexthops ?? []).map((hop) => ({
      gateway: hop.gateway ?? hop.via?.host ?? null,
      device: hop.dev ?? null,
      weight: hop.weight ?? null,
      flags: hop.flags ?? [],
    })),
  };
}
