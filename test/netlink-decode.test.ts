// The rtnetlink decoder without root: recorded dumps (test/fixtures/netlink-*.bin, made by
// netlink-record-fixtures.sh together with what `ip -s -d -j -batch` printed for the same
// namespace) decode to exactly what parseIpBatchOutput makes of ip's output; malformed input of
// any shape gives a DiscoveryError 'parse' and nothing else.
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { z } from 'zod';
import { DiscoveryError } from '../src/host/errors.ts';
import { IP_BATCH_INPUT, ipBatchArgv, parseIpBatchOutput } from '../src/host/iproute.ts';
import type { NamespaceNetwork, Route } from '../src/host/iproute.ts';
import {
  BUILTIN_IPROUTE_NAMES,
  changeKindsOf,
  decodeNamespaceNetwork,
  dumpsInterrupted,
  formatIpv6,
  iprouteNamesFrom,
  parseIprouteNamesFile,
} from '../src/host/netlink-decode.ts';
import type { IprouteNames, RtnetlinkDumps } from '../src/host/netlink-decode.ts';

const fixtureSchema = z.object({
  namespace: z.string(),
  recordedAt: z.string(),
  kernel: z.string(),
  iproute2: z.string(),
  steps: z.array(z.string()),
  ipCommand: z.array(z.string()),
  ipStdin: z.string(),
  ipOutput: z.string(),
  iprouteNames: z.object({ rt_tables: z.string(), rt_protos: z.string(), rt_scopes: z.string() }),
});

const PARTS = ['link', 'addr', 'route4', 'route6'] as const;

function load(name: string): { fixture: z.infer<typeof fixtureSchema>; dumps: RtnetlinkDumps; names: IprouteNames } {
  const fixture = fixtureSchema.parse(JSON.parse(readFileSync(new URL(`./fixtures/netlink-${name}.json`, import.meta.url), 'utf8')));
  const part = (p: (typeof PARTS)[number]) => new Uint8Array(readFileSync(new URL(`./fixtures/netlink-${name}-${p}.bin`, import.meta.url)));
  const dumps = { link: part('link'), addr: part('addr'), route4: part('route4'), route6: part('route6') };
  const { rt_tables, rt_protos, rt_scopes } = fixture.iprouteNames;
  return { fixture, dumps, names: iprouteNamesFrom({ tables: [rt_tables], protocols: [rt_protos], scopes: [rt_scopes] }) };
}

/** Counters were read just after ip's: each may only have grown. */
function assertSameButCounters(netlink: NamespaceNetwork, ip: NamespaceNetwork): void {
  const withoutStats = (n: NamespaceNetwork) => ({ ...n, interfaces: n.interfaces.map((i) => ({ ...i, stats: i.stats ? 'present' : null })) });
  assert.deepEqual(withoutStats(netlink), withoutStats(ip));
  for (const [i, iface] of netlink.interfaces.entries()) {
    const before = ip.interfaces[i]!.stats!;
    for (const [key, value] of Object.entries(iface.stats!)) assert.ok(value >= before[key as keyof typeof before], `${iface.name} ${key}`);
  }
}

const isParse = (err: unknown) => err instanceof DiscoveryError && err.kind === 'parse' && err.source[0] === 'netlink';

describe('decodeNamespaceNetwork on recorded dumps', () => {
  it('was recorded with the command readNamespaceNetwork runs', () => {
    const { fixture } = load('full');
    assert.deepEqual(fixture.ipCommand, ipBatchArgv(fixture.namespace));
    assert.equal(fixture.ipStdin, IP_BATCH_INPUT);
  });

  for (const name of ['full', 'empty']) {
    it(`${name}: deep-equals what parseIpBatchOutput makes of ip's output for the same namespace`, () => {
      const { fixture, dumps, names } = load(name);
      assertSameButCounters(decodeNamespaceNetwork(dumps, fixture.namespace, names), parseIpBatchOutput(fixture.ipOutput, fixture.namespace));
    });
  }

  it('interfaces: tap (kind tun) with a neutron MAC, bridge master, M-DOWN, veth peer netns, labels, dynamic, mapped IPv6', () => {
    const { fixture, dumps, names } = load('full');
    const net = decodeNamespaceNetwork(dumps, fixture.namespace, names);
    const byName = new Map(net.interfaces.map((i) => [i.name, i]));
    assert.deepEqual([...byName.keys()], ['lo', 'veth-lb', 'tap012345678', 'br-x', 'veth-down-p', 'veth-down']);
    const tap = byName.get('tap012345678')!;
    assert.equal(tap.kind, 'tun');
    assert.equal(tap.macAddress, 'fa:16:3e:12:34:56');
    assert.deepEqual(tap.flags, ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP'], 'a tap nobody has open has no carrier');
    assert.deepEqual(tap.addresses.map((a) => [a.address, a.prefixLength, a.broadcast, a.label, a.dynamic]), [
      ['10.43.0.10', 24, '10.43.0.255', 'tap012345678:v', false],
      ['10.43.0.11', 24, null, 'tap012345678', true],
      ['fd00:43::10', 64, null, null, false],
    ]);
    const veth = byName.get('veth-lb')!;
    assert.equal(veth.linkNetnsId, 0);
    assert.equal(typeof veth.linkIndex, 'number');
    const enslaved = byName.get('veth-down-p')!;
    assert.equal(enslaved.master, 'br-x');
    assert.equal(enslaved.operState, 'LOWERLAYERDOWN');
    assert.ok(enslaved.flags.includes('M-DOWN'), 'its peer in this namespace is down');
    assert.equal(enslaved.linkIndex, null, 'ip names a same-namespace peer instead of giving its index');
    assert.equal(byName.get('veth-down')!.operState, 'DOWN');
    assert.equal(byName.get('br-x')!.kind, 'bridge');
    assert.deepEqual(byName.get('lo')!.addresses.map((a) => `${a.address} ${a.scope}`), ['127.0.0.1 host', '::ffff:10.9.9.9 global', '::1 host']);
    assert.ok(net.interfaces.every((i) => i.stats !== null));
  });

  it('routes: tables by name and number, rt_protos names, multipath of both families, via inet6, prohibit', () => {
    const { fixture, dumps, names } = load('full');
    const { routes } = decodeNamespaceNetwork(dumps, fixture.namespace, names);
    const find = (family: string, destination: string): Route => {
      const route = routes.find((r) => r.family === family && r.destination === destination);
      assert.ok(route, `${family} ${destination}`);
      return route;
    };
    assert.deepEqual([find('inet', '10.79.0.0/16').table, find('inet', '10.79.0.0/16').protocol], [1000, 'openr']);
    assert.equal(find('inet', '10.77.0.0/16').table, 100);
    assert.equal(find('inet6', 'fd00:77::/48').table, 100);
    assert.equal(find('inet', '10.62.0.1').scope, 'link', 'a host route is a bare address');
    assert.equal(find('inet', '10.63.0.0/16').gateway, 'fd00:42::1');
    assert.deepEqual(find('inet', '10.64.0.0/16').nexthops, [
      { gateway: '10.42.0.1', device: 'veth-lb', weight: 1, flags: [] },
      { gateway: '10.43.0.1', device: 'tap012345678', weight: 2, flags: ['linkdown'] },
    ]);
    assert.deepEqual(find('inet6', 'fd00:64::/48').nexthops.map((h) => h.gateway), ['fd00:42::1', 'fd00:43::1']);
    assert.equal(find('inet6', 'fd00:66::/48').type, 'prohibit');
    assert.deepEqual(find('inet', '10.78.0.0/16').flags, ['onlink']);
    assert.ok(routes.some((r) => r.table === 'local' && r.type === 'broadcast'));
    assert.ok(routes.every((r) => r.family === 'inet' || r.family === 'inet6'));
  });

  it('without the names files, numbers stay numbers as ip prints them (proto 99 is "99")', () => {
    const { fixture, dumps } = load('full');
    const { routes } = decodeNamespaceNetwork(dumps, fixture.namespace, BUILTIN_IPROUTE_NAMES);
    assert.equal(routes.find((r) => r.destination === '10.79.0.0/16')?.protocol, '99');
    assert.equal(routes.find((r) => r.destination === 'default' && r.family === 'inet')?.table, 'main');
  });

  it('a dump cut before NLMSG_DONE, or ended by a kernel error, is a parse error', () => {
    const { fixture, dumps, names } = load('full');
    const cut = { ...dumps, route6: dumps.route6.subarray(0, dumps.route6.length - 20) };
    assert.throws(() => decodeNamespaceNetwork(cut, fixture.namespace, names), (e: unknown) => isParse(e) && /NLMSG_DONE/.test((e as Error).message));
    const failed = new Uint8Array(dumps.addr.slice(-20));
    new DataView(failed.buffer).setInt32(16, -4, true); // NLMSG_DONE carrying -EINTR
    assert.throws(() => decodeNamespaceNetwork({ ...dumps, addr: failed }, fixture.namespace, names), (e: unknown) => isParse(e) && /error 4/.test((e as Error).message));
    assert.equal(dumpsInterrupted(dumps), false);
  });
});

describe('fuzzing the decoder', { timeout: 60_000 }, () => {
  const { fixture, dumps, names } = load('full');
  const decodeOrParseError = (d: RtnetlinkDumps) => {
    try {
      decodeNamespaceNetwork(d, fixture.namespace, names);
      changeKindsOf(d.link);
    } catch (err) {
      if (!isParse(err)) throw err;
    }
  };

  it('random bytes in any dump: a result or a parse error, never another exception', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PARTS), fc.uint8Array({ maxLength: 512 }), (part, bytes) => {
        decodeOrParseError({ ...dumps, [part]: bytes });
      }),
      { numRuns: 3000 },
    );
  });

  it('recorded dumps with bytes overwritten, cut short or spliced: a result or a parse error', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PARTS),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat()),
        (part, writes, cutAt) => {
          const bytes = new Uint8Array(dumps[part]);
          for (const [at, value] of writes) bytes[at % bytes.length] = value;
          const mutated = cutAt === null ? bytes : bytes.subarray(0, cutAt % (bytes.length + 1));
          decodeOrParseError({ ...dumps, [part]: mutated });
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('length fields set to edge values (0, 3, 4, 0xffff, past the end) still end in a result or a parse error', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PARTS), fc.nat(), fc.constantFrom(0, 1, 3, 4, 7, 8, 12, 16, 0xffff, 0x7fffffff), (part, at, value) => {
        const bytes = new Uint8Array(dumps[part]);
        const offset = (at % Math.max(1, bytes.length - 4)) & ~1;
        new DataView(bytes.buffer).setUint16(offset, value & 0xffff, true);
        decodeOrParseError({ ...dumps, [part]: bytes });
      }),
      { numRuns: 3000 },
    );
  });
});

describe('pieces', () => {
  it('IPv6 text is what glibc inet_ntop prints (recorded from Python socket.inet_ntop on this host)', () => {
    const glibc: Array<[string, string]> = [
      ['0:0:0:0:0:0:0:0', '::'], ['0:0:0:0:0:0:0:1', '::1'], ['0:0:0:0:0:0:0:2', '::2'],
      ['0:0:0:0:0:ffff:102:304', '::ffff:1.2.3.4'], ['0:0:0:0:0:0:102:304', '::1.2.3.4'], ['0:0:0:0:0:0:2:3', '::0.2.0.3'],
      ['0:0:0:0:0:ffff:0:1', '::ffff:0.0.0.1'], ['1:0:0:0:0:0:0:0', '1::'], ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
      ['0:0:0:0:0:1:0:0', '::1:0:0'], ['1:0:1:0:0:0:0:1', '1:0:1::1'], ['fe80:0:0:0:a:0:0:1', 'fe80::a:0:0:1'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], ['0:0:0:0:1:0:0:0', '::1:0:0:0'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ];
    for (const [groups, text] of glibc) {
      const bytes = new Uint8Array(16);
      groups.split(':').forEach((g, i) => new DataView(bytes.buffer).setUint16(2 * i, Number.parseInt(g, 16)));
      assert.equal(formatIpv6(bytes), text, groups);
    }
  });

  it('IPv6 text agrees with RFC 5952 (WHATWG URL) wherever no IPv4 tail applies', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
        fc.pre(!(words.slice(0, 5).every((w) => w === 0) && (words[5] === 0 || words[5] === 0xffff)));
        const text = formatIpv6(bytes);
        assert.equal(text, new URL(`http://[${text}]/`).hostname.slice(1, -1));
      }),
      { numRuns: 2000 },
    );
  });

  it('names files are read as ip reads them: comments, hex ids, and a corrupted line ends the file', () => {
    assert.deepEqual(parseIprouteNamesFile('# c\n  100\tvip\n0x10 hexed\n\nbad line here\n200 after'), [[100, 'vip'], [16, 'hexed']]);
    const names = iprouteNamesFrom({ tables: ['100 vip\n'], protocols: ['4 mine\n300 toolarge\n'] });
    assert.equal(names.tables.get(100), 'vip');
    assert.equal(names.tables.get(254), 'main');
    assert.equal(names.protocols.get(4), 'mine');
    assert.equal(names.protocols.has(300), false);
  });

  it('notification batches name the kinds of change they carry, once each', () => {
    const message = (type: number) => {
      const b = new Uint8Array(20);
      const v = new DataView(b.buffer);
      v.setUint32(0, 20, true);
      v.setUint16(4, type, true);
      return b;
    };
    const batch = Buffer.concat([message(24), message(20), message(25), message(16), message(3)]);
    assert.deepEqual(changeKindsOf(batch), ['route', 'address', 'link']);
    assert.throws(() => changeKindsOf(batch.subarray(0, 30)), isParse);
  });
});
