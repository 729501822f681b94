// rtnetlink dumps → the NamespaceNetwork that parseIpBatchOutput (src/host/iproute.ts) makes from
// `ip -s -d -j -batch`, field for field and value for value, so either source can answer.
//
// The input is what src/native/netlink.c hands back: for each of the four dumps (RTM_GETLINK and
// RTM_GETADDR with AF_UNSPEC, RTM_GETROUTE with AF_INET and with AF_INET6) the reply messages as
// they came, nlmsghdr-framed, ending with NLMSG_DONE. Everything here is pure, so it is tested on
// recorded dumps without root (test/fixtures/netlink-*.bin).
//
// What ip prints, and so what this mirrors (iproute2 6.1: ip/ipaddress.c print_linkinfo,
// print_link_flags, print_addrinfo; ip/iproute.c print_route, filter_nlmsg, print_rta_multipath,
// print_rt_flags; lib/rt_names.c, lib/ll_addr.c, lib/utils.c):
// - links in dump order, each with the addresses of its index in dump order (IPv4 before IPv6:
//   the kernel dumps AF_UNSPEC family by family);
// - flags: NO-CARRIER when UP without RUNNING, then the IFF_* names in ip's order, leftover bits
//   as one hex string, and M-DOWN when the link's parent (IFLA_LINK, same namespace) is not UP;
// - the MAC only for a 6-byte IFLA_ADDRESS (what the iproute.ts parser keeps);
// - link_index only with IFLA_LINK_NETNSID (otherwise ip prints the parent's name, not its index);
// - address local = IFA_LOCAL, else IFA_ADDRESS; dynamic = not IFA_F_PERMANENT (IFA_FLAGS wins
//   over ifa_flags); IPv6 text as glibc's inet_ntop writes it (::ffff:1.2.3.4, ::1.2.3.4);
// - routes of every table but cloned ones, of the dump's family only; table from RTA_TABLE else
//   rtm_table, where 0 is printed as nothing (so 'main' to the parser), names from rt_tables;
//   protocol and scope names from the built-in tables and /etc/iproute2 (IprouteNames);
//   dst "a/len", a bare address for a host route, "default" without RTA_DST; the gateway from
//   RTA_GATEWAY else RTA_VIA; nexthops with dev always (ip prints "*" for ifindex 0) and
//   weight = rtnh_hops + 1.
// Malformed input (truncated messages or attributes, a kernel error in the dump, a missing
// NLMSG_DONE, values of the wrong size) is a DiscoveryError 'parse', never anything else.
import { endianness } from 'node:os';
import { DiscoveryError } from './errors.ts';
import type { AddressFamily, Interface, InterfaceAddress, InterfaceStats, NamespaceNetwork, Route, RouteNexthop } from './iproute.ts';

/** The raw replies of the four dumps of one namespace. */
export interface RtnetlinkDumps {
  link: Uint8Array;
  addr: Uint8Array;
  route4: Uint8Array;
  route6: Uint8Array;
}

/** Number → name maps of /etc/iproute2 (rt_tables, rt_protos, rt_scopes), as ip reads them. */
export interface IprouteNames {
  tables: ReadonlyMap<number, string>;
  protocols: ReadonlyMap<number, string>;
  scopes: ReadonlyMap<number, string>;
}

// ip's built-in names (lib/rt_names.c), before any file is read.
const BUILTIN_TABLES: ReadonlyArray<[number, string]> = [[253, 'default'], [254, 'main'], [255, 'local']];
const BUILTIN_PROTOCOLS: ReadonlyArray<[number, string]> = [
  [0, 'unspec'], [1, 'redirect'], [2, 'kernel'], [3, 'boot'], [4, 'static'], [8, 'gated'], [9, 'ra'], [10, 'mrt'],
  [11, 'zebra'], [12, 'bird'], [42, 'babel'], [13, 'dnrouted'], [14, 'xorp'], [15, 'ntk'], [16, 'dhcp'],
  [18, 'keepalived'], [186, 'bgp'], [187, 'isis'], [188, 'ospf'], [189, 'rip'], [192, 'eigrp'],
];
const BUILTIN_SCOPES: ReadonlyArray<[number, string]> = [[0, 'global'], [255, 'nowhere'], [254, 'host'], [253, 'link'], [200, 'site']];

export const BUILTIN_IPROUTE_NAMES: IprouteNames = {
  tables: new Map(BUILTIN_TABLES),
  protocols: new Map(BUILTIN_PROTOCOLS),
  scopes: new Map(BUILTIN_SCOPES),
};

/**
 * The `id name` lines of one iproute2 names file (fread_id_name): leading blanks skipped, `#`
 * and empty lines ignored, ids decimal or 0x-hex; a line of another shape ends the file, as ip
 * stops reading a "corrupted" database there. Negative ids are skipped.
 */
export function parseIprouteNamesFile(text: string): Array<[number, string]> {
  const entries: Array<[number, string]> = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^[ \t]+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(0x[0-9a-fA-F]+|-?\d+)\s+(\S+)/.exec(line);
    if (!m) break;
    const id = m[1]!.startsWith('0x') ? Number.parseInt(m[1]!.slice(2), 16) : Number.parseInt(m[1]!, 10);
    if (id < 0) continue;
    entries.push([id, m[2]!]);
  }
  return entries;
}

/** Built-in names overlaid with file entries (later files and later lines win, as in ip). */
export function iprouteNamesFrom(files: { tables?: string[]; protocols?: string[]; scopes?: string[] }): IprouteNames {
  const overlay = (builtin: ReadonlyArray<[number, string]>, texts: string[] | undefined, limit: number) => {
    const map = new Map(builtin);
    for (const text of texts ?? []) for (const [id, name] of parseIprouteNamesFile(text)) if (id <= limit) map.set(id, name);
    return map;
  };
  return {
    tables: overlay(BUILTIN_TABLES, files.tables, 0xffffffff),
    protocols: overlay(BUILTIN_PROTOCOLS, files.protocols, 255),
    scopes: overlay(BUILTIN_SCOPES, files.scopes, 255),
  };
}

// ---------------------------------------------------------------------------------------------
// Constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h, linux/if.h).

const NLMSG_HDRLEN = 16;
const NLMSG_NOOP = 1;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLMSG_OVERRUN = 4;
const NLM_F_DUMP_INTR = 0x10;
const NLA_F_NESTED = 0x8000;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;

const AF_INET = 2;
const AF_INET6 = 10;
const AF_PACKET = 17;

const IFINFOMSG_LEN = 16;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINK = 5;
const IFLA_STATS = 7;
const IFLA_MASTER = 10;
const IFLA_OPERSTATE = 16;
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;
const IFLA_STATS64 = 23;
const IFLA_LINK_NETNSID = 37;

const IFADDRMSG_LEN = 8;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_BROADCAST = 4;
const IFA_FLAGS = 8;
const IFA_F_PERMANENT = 0x80;

const RTMSG_LEN = 12;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_MULTIPATH = 9;
const RTA_TABLE = 15;
const RTA_VIA = 18;
const RTM_F_CLONED = 0x200;
const RTNEXTHOP_LEN = 8;

const OPER_STATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'] as const;

const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;
/** print_link_flags' order. */
const LINK_FLAG_NAMES: ReadonlyArray<[number, string]> = [
  [0x8, 'LOOPBACK'], [0x2, 'BROADCAST'], [0x10, 'POINTOPOINT'], [0x1000, 'MULTICAST'], [0x80, 'NOARP'],
  [0x200, 'ALLMULTI'], [0x100, 'PROMISC'], [0x400, 'MASTER'], [0x800, 'SLAVE'], [0x4, 'DEBUG'], [0x8000, 'DYNAMIC'],
  [0x4000, 'AUTOMEDIA'], [0x2000, 'PORTSEL'], [0x20, 'NOTRAILERS'], [0x1, 'UP'], [0x10000, 'LOWER_UP'],
  [0x20000, 'DORMANT'], [0x40000, 'ECHO'],
];
/** print_rt_flags' order (RTNH_F_* then RTM_F_*). */
const ROUTE_FLAG_NAMES: ReadonlyArray<[number, string]> = [
  [0x1, 'dead'], [0x4, 'onlink'], [0x2, 'pervasive'], [0x8, 'offload'], [0x40, 'trap'], [0x100, 'notify'],
  [0x10, 'linkdown'], [0x20, 'unresolved'], [0x2000, 'rt_offload'], [0x4000, 'rt_trap'], [0x20000000, 'rt_offload_failed'],
];
const ROUTE_TYPES = ['none', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'] as const;

// ---------------------------------------------------------------------------------------------
// Framing.

const LITTLE_ENDIAN = endianness() === 'LE';
const align4 = (n: number) => (n + 3) & ~3;

type Fail = (detail: string) => DiscoveryError;

/** A bounds-checked view of one dump. */
class Reader {
  readonly view: DataView;
  readonly bytes: Uint8Array;
  readonly fail: Fail;

  constructor(bytes: Uint8Array, fail: Fail) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.fail = fail;
  }

  private need(offset: number, size: number, what: string): void {
    if (offset < 0 || offset + size > this.bytes.length) throw this.fail(`${what} runs past the end of the data`);
  }
  u8(offset: number, what = 'u8'): number {
    this.need(offset, 1, what);
    return this.view.getUint8(offset);
  }
  u16(offset: number, what = 'u16'): number {
    this.need(offset, 2, what);
    return this.view.getUint16(offset, LITTLE_ENDIAN);
  }
  u32(offset: number, what = 'u32'): number {
    this.need(offset, 4, what);
    return this.view.getUint32(offset, LITTLE_ENDIAN);
  }
  s32(offset: number, what = 's32'): number {
    this.need(offset, 4, what);
    return this.view.getInt32(offset, LITTLE_ENDIAN);
  }
  u64(offset: number, what = 'u64'): number {
    this.need(offset, 8, what);
    return Number(this.view.getBigUint64(offset, LITTLE_ENDIAN));
  }
}

interface Message {
  type: number;
  flags: number;
  /** Offset of the payload (after nlmsghdr) and its end. */
  start: number;
  end: number;
}

/** The messages of one dump, through its NLMSG_DONE; a kernel error or a missing end is a failure. */
function messagesOf(r: Reader): Message[] {
  const out: Message[] = [];
  let offset = 0;
  const total = r.bytes.length;
  while (offset < total) {
    if (total - offset < NLMSG_HDRLEN) throw r.fail(`truncated nlmsghdr at byte ${offset}`);
    const len = r.u32(offset);
    if (len < NLMSG_HDRLEN || len > total - offset) throw r.fail(`nlmsg_len ${len} at byte ${offset} does not fit (${total - offset} bytes left)`);
    const type = r.u16(offset + 4);
    const flags = r.u16(offset + 6);
    const start = offset + NLMSG_HDRLEN;
    const end = offset + len;
    if (type === NLMSG_DONE || type === NLMSG_ERROR) {
      // Both carry an int: 0, or a negative errno when the dump failed.
      const code = end - start >= 4 ? r.s32(start) : 0;
      if (code < 0) throw r.fail(`the kernel ended the dump with error ${-code}`);
      if (type === NLMSG_ERROR && end - start < 4) throw r.fail('NLMSG_ERROR without an error code');
      return out;
    }
    if (type === NLMSG_OVERRUN) throw r.fail('NLMSG_OVERRUN: data lost');
    if (type !== NLMSG_NOOP) out.push({ type, flags, start, end });
    offset += Math.min(align4(len), total - offset);
  }
  throw r.fail('the dump has no NLMSG_DONE (cut short)');
}

/** Attribute type → [payload offset, payload length]; the first of a type wins, as in ip. */
type Attributes = Map<number, [number, number]>;

function attributesOf(r: Reader, start: number, end: number, what: string): Attributes {
  const attrs: Attributes = new Map();
  let offset = start;
  while (end - offset >= 4) {
    const len = r.u16(offset);
    const type = r.u16(offset + 2) & ~NLA_F_NESTED;
    if (len < 4 || len > end - offset) throw r.fail(`${what}: attribute ${type} of length ${len} does not fit (${end - offset} bytes left)`);
    if (!attrs.has(type)) attrs.set(type, [offset + 4, len - 4]);
    offset += align4(len);
  }
  if (offset < end) throw r.fail(`${what}: ${end - offset} stray bytes after the attributes`);
  return attrs;
}

function attrU32(r: Reader, attrs: Attributes, type: number, what: string): number | undefined {
  const a = attrs.get(type);
  if (!a) return undefined;
  if (a[1] < 4) throw r.fail(`${what}: ${a[1]}-byte payload, expected 4`);
  return r.u32(a[0]);
}

function attrS32(r: Reader, attrs: Attributes, type: number, what: string): number | undefined {
  const a = attrs.get(type);
  if (!a) return undefined;
  if (a[1] < 4) throw r.fail(`${what}: ${a[1]}-byte payload, expected 4`);
  return r.s32(a[0]);
}

function attrU8(r: Reader, attrs: Attributes, type: number, what: string): number | undefined {
  const a = attrs.get(type);
  if (!a) return undefined;
  if (a[1] < 1) throw r.fail(`${what}: empty payload`);
  return r.u8(a[0]);
}

/** A C string attribute: up to its NUL (or the payload's end), as UTF-8 like ip's JSON output. */
function attrString(r: Reader, attrs: Attributes, type: number): string | undefined {
  const a = attrs.get(type);
  if (!a) return undefined;
  const payload = r.bytes.subarray(a[0], a[0] + a[1]);
  const nul = payload.indexOf(0);
  return Buffer.from(payload.buffer, payload.byteOffset, nul < 0 ? payload.length : nul).toString('utf8');
}

// ---------------------------------------------------------------------------------------------
// Addresses as text.

export function formatIpv4(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** glibc inet_ntop(AF_INET6): the first longest run (≥ 2) of zero groups as ::, IPv4 tail for ::a.b.c.d and ::ffff:a.b.c.d. */
export function formatIpv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase === -1) {
        curBase = i;
        curLen = 1;
      } else curLen++;
    } else if (curBase !== -1) {
      if (bestBase === -1 || curLen > bestLen) [bestBase, bestLen] = [curBase, curLen];
      curBase = -1;
    }
  }
  if (curBase !== -1 && (bestBase === -1 || curLen > bestLen)) [bestBase, bestLen] = [curBase, curLen];
  if (bestBase !== -1 && bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += formatIpv4(bytes.subarray(12, 16));
      break;
    }
    out += words[i]!.toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** rt_addr_n2a for the families a route or address of ours can carry; a wrong size is a failure. */
function formatAddress(r: Reader, family: number, offset: number, length: number, what: string): string {
  const bytes = r.bytes.subarray(offset, offset + length);
  if (family === AF_INET) {
    if (length !== 4) throw r.fail(`${what}: ${length}-byte IPv4 address`);
    return formatIpv4(bytes);
  }
  if (family === AF_INET6) {
    if (length !== 16) throw r.fail(`${what}: ${length}-byte IPv6 address`);
    return formatIpv6(bytes);
  }
  if (family === AF_PACKET) return hexColons(bytes);
  return '???';
}

function hexColons(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}

function familyOf(family: number): AddressFamily | null {
  return family === AF_INET ? 'inet' : family === AF_INET6 ? 'inet6' : null;
}

// ---------------------------------------------------------------------------------------------
// The namespace.

interface RawLink {
  index: number;
  flags: number;
  name: string;
  attrs: Attributes;
}

/**
 * The four dumps → NamespaceNetwork, exactly as parseIpBatchOutput(ip -s -d -j -batch) gives it.
 * Throws only DiscoveryError 'parse' (source: netlink <dump> <namespace>).
 */
export function decodeNamespaceNetwork(dumps: RtnetlinkDumps, namespace: string, names: IprouteNames = BUILTIN_IPROUTE_NAMES): NamespaceNetwork {
  const failFor = (dump: string): Fail => (detail) => new DiscoveryError('parse', ['netlink', dump, namespace], detail);
  const links = decodeLinks(new Reader(dumps.link, failFor('RTM_GETLINK')));
  const linkByIndex = new Map(links.map((l) => [l.index, l]));
  const nameOf = (index: number) => (index === 0 ? '*' : (linkByIndex.get(index)?.name ?? `if${index}`));

  const addresses = decodeAddresses(new Reader(dumps.addr, failFor('RTM_GETADDR')), names);
  const interfaces = links.map((link) => toInterface(link, new Reader(dumps.link, failFor('RTM_GETLINK')), linkByIndex, nameOf, addresses.get(link.index) ?? []));
  const routes = [
    ...decodeRoutes(new Reader(dumps.route4, failFor('RTM_GETROUTE inet')), AF_INET, names, nameOf),
    ...decodeRoutes(new Reader(dumps.route6, failFor('RTM_GETROUTE inet6')), AF_INET6, names, nameOf),
  ];
  return { namespace, interfaces, routes };
}

/** Whether the kernel flagged any of the dumps as interrupted by a change (NLM_F_DUMP_INTR): read again. */
export function dumpsInterrupted(dumps: RtnetlinkDumps): boolean {
  for (const bytes of [dumps.link, dumps.addr, dumps.route4, dumps.route6]) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let offset = 0; offset + NLMSG_HDRLEN <= bytes.length;) {
      const len = view.getUint32(offset, LITTLE_ENDIAN);
      if (view.getUint16(offset + 6, LITTLE_ENDIAN) & NLM_F_DUMP_INTR) return true;
      if (len < NLMSG_HDRLEN) break;
      offset += align4(len);
    }
  }
  return false;
}

function decodeLinks(r: Reader): RawLink[] {
  const links: RawLink[] = [];
  for (const m of messagesOf(r)) {
    if (m.type !== RTM_NEWLINK) continue;
    if (m.end - m.start < IFINFOMSG_LEN) throw r.fail(`RTM_NEWLINK of ${m.end - m.start} bytes, shorter than ifinfomsg`);
    const index = r.s32(m.start + 4);
    const flags = r.u32(m.start + 8);
    const attrs = attributesOf(r, m.start + align4(IFINFOMSG_LEN), m.end, `link ${index}`);
    const name = attrString(r, attrs, IFLA_IFNAME);
    if (name === undefined || name === '') throw r.fail(`link ${index} has no IFLA_IFNAME`);
    if (index <= 0) throw r.fail(`link ${name} has ifindex ${index}`);
    links.push({ index, flags, name, attrs });
  }
  return links;
}

function toInterface(
  link: RawLink,
  r: Reader,
  linkByIndex: Map<number, RawLink>,
  nameOf: (index: number) => string,
  addresses: InterfaceAddress[],
): Interface {
  const what = `link ${link.name}`;
  const { attrs } = link;
  const parent = attrU32(r, attrs, IFLA_LINK, `${what} IFLA_LINK`);
  const netnsId = attrS32(r, attrs, IFLA_LINK_NETNSID, `${what} IFLA_LINK_NETNSID`);
  // print_name_and_link: M-DOWN when the parent is in this namespace and not UP (or not listed).
  const parentDown = parent !== undefined && parent !== 0 && netnsId === undefined && !((linkByIndex.get(parent)?.flags ?? 0) & IFF_UP);

  const mtu = attrU32(r, attrs, IFLA_MTU, `${what} IFLA_MTU`);
  // ip prints mtu with %d from a u32 (print_int); ints above 2^31 come out negative.
  if (mtu === undefined) throw r.fail(`${what} has no IFLA_MTU`);
  const operIndex = attrU8(r, attrs, IFLA_OPERSTATE, `${what} IFLA_OPERSTATE`);
  const operState = operIndex === undefined ? undefined : OPER_STATES[operIndex];
  // ip prints no operstate then (operstate_index instead), and the ip parser refuses the link.
  if (operState === undefined) throw r.fail(`${what}: IFLA_OPERSTATE ${operIndex ?? 'missing'} is not one ip names`);

  const address = attrs.get(IFLA_ADDRESS);
  const masterIndex = attrU32(r, attrs, IFLA_MASTER, `${what} IFLA_MASTER`);
  let kind: string | null = null;
  const linkinfo = attrs.get(IFLA_LINKINFO);
  if (linkinfo) {
    const nested = attributesOf(r, linkinfo[0], linkinfo[0] + linkinfo[1], `${what} IFLA_LINKINFO`);
    kind = attrString(r, nested, IFLA_INFO_KIND) ?? null;
  }
  return {
    index: link.index,
    name: link.name,
    macAddress: address && address[1] === 6 ? hexColons(r.bytes.subarray(address[0], address[0] + 6)) : null,
    mtu: mtu | 0,
    operState,
    flags: linkFlags(link.flags, parentDown),
    kind,
    master: masterIndex === undefined ? null : nameOf(masterIndex),
    linkIndex: parent !== undefined && parent !== 0 && netnsId !== undefined ? parent | 0 : null,
    linkNetnsId: netnsId ?? null,
    addresses,
    stats: linkStats(r, attrs, what),
  };
}

function linkFlags(ifiFlags: number, parentDown: boolean): string[] {
  const flags: string[] = [];
  let rest = ifiFlags >>> 0;
  if (rest & IFF_UP && !(rest & IFF_RUNNING)) flags.push('NO-CARRIER');
  rest &= ~IFF_RUNNING;
  for (const [bit, name] of LINK_FLAG_NAMES) {
    if (rest & bit) {
      rest &= ~bit;
      flags.push(name);
    }
  }
  if (rest) flags.push((rest >>> 0).toString(16));
  if (parentDown) flags.push('M-DOWN');
  return flags;
}

/** IFLA_STATS64 (zero-filled when short, as ip copies it), else the 32-bit IFLA_STATS; else null. */
function linkStats(r: Reader, attrs: Attributes, what: string): InterfaceStats | null {
  const wide = attrs.get(IFLA_STATS64);
  const narrow = attrs.get(IFLA_STATS);
  const source = wide ?? narrow;
  if (!source) return null;
  const size = wide ? 8 : 4;
  // rx_packets, tx_packets, rx_bytes, tx_bytes, rx_errors, tx_errors, rx_dropped, tx_dropped
  const field = (i: number): number => {
    if ((i + 1) * size > source[1]) return 0;
    return size === 8 ? r.u64(source[0] + i * 8, `${what} stats`) : r.u32(source[0] + i * 4, `${what} stats`);
  };
  return {
    rxBytes: field(2),
    rxPackets: field(0),
    rxErrors: field(4),
    rxDropped: field(6),
    txBytes: field(3),
    txPackets: field(1),
    txErrors: field(5),
    txDropped: field(7),
  };
}

/** Addresses by link index, in dump order; only inet and inet6 (the families the ip parser keeps). */
function decodeAddresses(r: Reader, names: IprouteNames): Map<number, InterfaceAddress[]> {
  const byIndex = new Map<number, InterfaceAddress[]>();
  for (const m of messagesOf(r)) {
    if (m.type !== RTM_NEWADDR) continue;
    if (m.end - m.start < IFADDRMSG_LEN) throw r.fail(`RTM_NEWADDR of ${m.end - m.start} bytes, shorter than ifaddrmsg`);
    const familyNumber = r.u8(m.start);
    const prefixLength = r.u8(m.start + 1);
    const ifaFlags = r.u8(m.start + 2);
    const scope = r.u8(m.start + 3);
    const index = r.u32(m.start + 4);
    const attrs = attributesOf(r, m.start + IFADDRMSG_LEN, m.end, `address on link ${index}`);
    const family = familyOf(familyNumber);
    if (!family) continue;
    const what = `${family} address on link ${index}`;
    const local = attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS);
    if (!local) throw r.fail(`${what} has neither IFA_LOCAL nor IFA_ADDRESS`);
    const broadcast = attrs.get(IFA_BROADCAST);
    const flags = attrU32(r, attrs, IFA_FLAGS, `${what} IFA_FLAGS`) ?? ifaFlags;
    const list = byIndex.get(index) ?? [];
    list.push({
      family,
      address: formatAddress(r, familyNumber, local[0], local[1], what),
      prefixLength,
      scope: names.scopes.get(scope) ?? String(scope),
      broadcast: broadcast ? formatAddress(r, familyNumber, broadcast[0], broadcast[1], `${what} broadcast`) : null,
      label: attrString(r, attrs, IFA_LABEL) ?? null,
      dynamic: !(flags & IFA_F_PERMANENT),
    });
    byIndex.set(index, list);
  }
  return byIndex;
}

/** What the iproute.ts parser makes of a table name: numeric text is a number. */
function tableValue(table: number, names: IprouteNames): number | string {
  if (table === 0) return 'main'; // ip prints no "table" for 0, which the parser reads as main
  const name = names.tables.get(table);
  if (name === undefined) return table;
  return /^\d+$/.test(name) ? Number(name) : name;
}

function routeFlags(flags: number): string[] {
  return ROUTE_FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
}

/** RTA_VIA: rtvia_family (u16) then the address. */
function viaHost(r: Reader, attrs: Attributes, what: string): string | undefined {
  const via = attrs.get(RTA_VIA);
  if (!via) return undefined;
  if (via[1] < 2) throw r.fail(`${what}: RTA_VIA of ${via[1]} bytes`);
  return formatAddress(r, r.u16(via[0]), via[0] + 2, via[1] - 2, `${what} RTA_VIA`);
}

function decodeRoutes(r: Reader, familyNumber: number, names: IprouteNames, nameOf: (index: number) => string): Route[] {
  const family = familyOf(familyNumber)!;
  const hostLength = familyNumber === AF_INET ? 32 : 128;
  const routes: Route[] = [];
  for (const m of messagesOf(r)) {
    if (m.type !== RTM_NEWROUTE) continue;
    if (m.end - m.start < RTMSG_LEN) throw r.fail(`RTM_NEWROUTE of ${m.end - m.start} bytes, shorter than rtmsg`);
    const rtmFamily = r.u8(m.start);
    const dstLength = r.u8(m.start + 1);
    const rtmTable = r.u8(m.start + 4);
    const protocol = r.u8(m.start + 5);
    const scope = r.u8(m.start + 6);
    const type = r.u8(m.start + 7);
    const flags = r.u32(m.start + 8);
    // `root 0/0` / `root ::/0` keep one family; cloned (cache) routes are not in `ip route show`.
    if (rtmFamily !== familyNumber || flags & RTM_F_CLONED) continue;
    const attrs = attributesOf(r, m.start + RTMSG_LEN, m.end, `${family} route`);
    const what = `${family} route`;

    const dst = attrs.get(RTA_DST);
    let destination: string;
    if (dst) {
      const text = formatAddress(r, rtmFamily, dst[0], dst[1], `${what} RTA_DST`);
      destination = dstLength !== hostLength ? `${text}/${dstLength}` : text;
    } else if (dstLength) {
      destination = `0/${dstLength} `; // sic: ip's format has the trailing space
    } else {
      destination = 'default';
    }
    const gatewayAttr = attrs.get(RTA_GATEWAY);
    const gateway = gatewayAttr ? formatAddress(r, rtmFamily, gatewayAttr[0], gatewayAttr[1], `${what} RTA_GATEWAY`) : viaHost(r, attrs, what);
    const oif = attrU32(r, attrs, RTA_OIF, `${what} RTA_OIF`);
    const prefsrc = attrs.get(RTA_PREFSRC);
    const table = attrU32(r, attrs, RTA_TABLE, `${what} RTA_TABLE`) ?? rtmTable;
    routes.push({
      family,
      table: tableValue(table, names),
      destination,
      gateway: gateway ?? null,
      device: oif === undefined ? null : nameOf(oif),
      protocol: names.protocols.get(protocol) ?? String(protocol),
      scope: names.scopes.get(scope) ?? String(scope),
      preferredSource: prefsrc ? formatAddress(r, rtmFamily, prefsrc[0], prefsrc[1], `${what} RTA_PREFSRC`) : null,
      metric: attrU32(r, attrs, RTA_PRIORITY, `${what} RTA_PRIORITY`) ?? null,
      type: ROUTE_TYPES[type] ?? String(type),
      flags: routeFlags(flags),
      nexthops: nexthopsOf(r, attrs, rtmFamily, nameOf, what),
    });
  }
  return routes;
}

/** RTA_MULTIPATH: rtnexthop entries, each with its own attributes (print_rta_multipath). */
function nexthopsOf(r: Reader, attrs: Attributes, familyNumber: number, nameOf: (index: number) => string, what: string): RouteNexthop[] {
  const multipath = attrs.get(RTA_MULTIPATH);
  if (!multipath) return [];
  const hops: RouteNexthop[] = [];
  let offset = multipath[0];
  let left = multipath[1];
  while (left >= RTNEXTHOP_LEN) {
    const len = r.u16(offset);
    if (len > left) break; // ip stops there too
    if (len < RTNEXTHOP_LEN) throw r.fail(`${what}: rtnexthop of length ${len}`);
    const hopFlags = r.u8(offset + 2);
    const hopsField = r.u8(offset + 3);
    const ifindex = r.s32(offset + 4);
    let gateway: string | undefined;
    if (len > RTNEXTHOP_LEN) {
      const nested = attributesOf(r, offset + RTNEXTHOP_LEN, offset + len, `${what} nexthop`);
      const g = nested.get(RTA_GATEWAY);
      gateway = g ? formatAddress(r, familyNumber, g[0], g[1], `${what} nexthop RTA_GATEWAY`) : viaHost(r, nested, `${what} nexthop`);
    }
    hops.push({ gateway: gateway ?? null, device: nameOf(ifindex >>> 0), weight: hopsField + 1, flags: routeFlags(hopFlags) });
    left -= align4(len);
    offset += align4(len);
  }
  return hops;
}

// ---------------------------------------------------------------------------------------------
// Events.

export type NetlinkChangeKind = 'link' | 'address' | 'route';

/** Which kinds of change a batch of multicast notifications reports (in first-seen order). */
export function changeKindsOf(bytes: Uint8Array): NetlinkChangeKind[] {
  const r = new Reader(bytes, (detail) => new DiscoveryError('parse', ['netlink', 'notification'], detail));
  const kinds = new Set<NetlinkChangeKind>();
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < NLMSG_HDRLEN) throw r.fail(`truncated nlmsghdr at byte ${offset}`);
    const len = r.u32(offset);
    if (len < NLMSG_HDRLEN || len > bytes.length - offset) throw r.fail(`nlmsg_len ${len} at byte ${offset} does not fit`);
    const type = r.u16(offset + 4);
    if (type === RTM_NEWLINK || type === RTM_DELLINK) kinds.add('link');
    else if (type === RTM_NEWADDR || type === RTM_DELADDR) kinds.add('address');
    else if (type === RTM_NEWROUTE || type === RTM_DELROUTE) kinds.add('route');
    offset += Math.min(align4(len), bytes.length - offset);
  }
  return [...kinds];
}
