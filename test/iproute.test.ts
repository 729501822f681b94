// One `ip -batch` per namespace: the pure parser on recorded outputs (test/fixtures/ip-*.json, see
// ip-record-fixtures.sh), the error mapping, and, as root, real namespaces built here.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listNamespaces } from '../src/host/netns.ts';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { DiscoveryError } from '../src/host/errors.ts';
import { CommandGateway } from '../src/host/exec.ts';
import type { CommandOutput, RunOptions } from '../src/host/exec.ts';
import {
  IP_BATCH_INPUT,
  ipBatchArgv,
  parseIpBatchOutput,
  readNamespaceNetwork,
} from '../src/host/iproute.ts';
import type { NamespaceNetwork, Route } from '../src/host/iproute.ts';

const isRoot = process.getuid?.() === 0;

const fixtureSchema = z.object({
  command: z.array(z.string()),
  stdin: z.string(),
  recordedAt: z.string(),
  iproute2: z.string(),
  output: z.string(),
  stderr: z.string().optional(),
  exitCode: z.number().optional(),
});
type Fixture = z.infer<typeof fixtureSchema>;

async function loadFixture(name: string): Promise<Fixture> {
  const text = await readFile(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
  return fixtureSchema.parse(JSON.parse(text));
}

/** The namespace name a fixture was recorded in (the argument after -n). */
function namespaceOf(fixture: Fixture): string {
  const name = fixture.command[fixture.command.indexOf('-n') + 1];
  assert.ok(name);
  return name;
}

const isParseError = (err: unknown): boolean =>
  err instanceof DiscoveryError && err.kind === 'parse' && err.source.includes('-batch') && err.source[0] === 'ip';

/** Routes without the kernel's per-interface IPv6 link-local clutter, as comparable tuples. */
function routeKey(r: Route): string {
  return [r.family, r.table, r.type, r.destination, r.gateway ?? '-', r.device ?? '-', r.protocol, r.scope, r.preferredSource ?? '-', r.metric ?? '-', r.flags.join(',')].join(' ');
}

describe('parseIpBatchOutput on recorded output', () => {
  it('was recorded with the commands readNamespaceNetwork sends', async () => {
    for (const name of ['ip-batch-full.json', 'ip-batch-no-details.json', 'ip-batch-empty-namespace.json']) {
      const fixture = await loadFixture(name);
      assert.equal(fixture.stdin, IP_BATCH_INPUT, name);
    }
    const full = await loadFixture('ip-batch-full.json');
    assert.deepEqual(full.command, ipBatchArgv(namespaceOf(full)));
  });

  it('reads interfaces: kinds, veth peer netns, link down, labels, broadcast, stats', async () => {
    const fixture = await loadFixture('ip-batch-full.json');
    const network = parseIpBatchOutput(fixture.output, namespaceOf(fixture));
    assert.equal(network.namespace, namespaceOf(fixture));
    const byName = new Map(network.interfaces.map((i) => [i.name, i]));
    assert.deepEqual([...byName.keys()], ['lo', 'veth-lb', 'vip0', 'veth-down-p', 'veth-down']);

    const lo = byName.get('lo');
    assert.equal(lo?.kind, null);
    assert.equal(lo?.macAddress, '00:00:00:00:00:00');
    assert.deepEqual(lo?.addresses.map((a) => `${a.family} ${a.address}/${a.prefixLength} ${a.scope}`), ['inet 127.0.0.1/8 host', 'inet6 ::1/128 host']);

    const veth = byName.get('veth-lb');
    assert.ok(veth);
    assert.equal(veth.kind, 'veth');
    assert.equal(veth.operState, 'UP');
    assert.equal(veth.linkNetnsId, 0, 'peer lives in another namespace');
    assert.equal(veth.linkIndex, 2);
    assert.equal(veth.mtu, 1500);
    assert.match(veth.macAddress ?? '', /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.ok(veth.flags.includes('LOWER_UP'));
    assert.deepEqual(veth.addresses.filter((a) => a.scope === 'global'), [
      { family: 'inet', address: '10.42.0.2', prefixLength: 24, scope: 'global', broadcast: null, label: 'veth-lb', dynamic: false },
      { family: 'inet6', address: 'fd00:42::2', prefixLength: 64, scope: 'global', broadcast: null, label: null, dynamic: false },
    ]);
    assert.ok(veth.stats && veth.stats.txPackets > 0 && veth.stats.txBytes > 0);

    const vip = byName.get('vip0');
    assert.ok(vip);
    assert.ok(vip.kind === 'dummy' || vip.kind === 'ifb', `virtual link kind ${vip.kind}`);
    assert.deepEqual(vip.addresses[0], {
      family: 'inet', address: '10.43.0.10', prefixLength: 24, scope: 'global', broadcast: '10.43.0.255', label: 'vip0:vip', dynamic: false,
    });
    assert.equal(vip.addresses[1]?.address, 'fd00:43::10');

    const down = byName.get('veth-down');
    assert.equal(down?.operState, 'DOWN');
    assert.equal(down?.flags.includes('UP'), false);
    assert.equal(down?.linkNetnsId, null, 'peer in the same namespace');
    assert.deepEqual(down?.addresses.map((a) => a.address), ['10.44.0.1']);
    const downPeer = byName.get('veth-down-p');
    assert.equal(downPeer?.operState, 'LOWERLAYERDOWN');
    assert.ok(downPeer?.flags.includes('NO-CARRIER'));
  });

  it('reads routes of all tables and both families', async () => {
    const fixture = await loadFixture('ip-batch-full.json');
    const { routes } = parseIpBatchOutput(fixture.output, namespaceOf(fixture));
    const find = (family: string, table: number | string, destination: string): Route | undefined =>
      routes.find((r) => r.family === family && r.table === table && r.destination === destination);

    assert.deepEqual(find('inet', 'main', 'default'), {
      family: 'inet', table: 'main', destination: 'default', gateway: '10.42.0.1', device: 'veth-lb', protocol: 'boot',
      scope: 'global', preferredSource: null, metric: null, type: 'unicast', flags: [], nexthops: [],
    });
    assert.deepEqual(find('inet6', 'main', 'default'), {
      family: 'inet6', table: 'main', destination: 'default', gateway: 'fd00:42::1', device: 'veth-lb', protocol: 'boot',
      scope: 'global', preferredSource: null, metric: 1024, type: 'unicast', flags: [], nexthops: [],
    });
    assert.equal(find('inet', 100, '10.77.0.0/16')?.gateway, '10.42.0.1', 'numeric table id as a number');
    assert.equal(find('inet6', 100, 'fd00:77::/48')?.gateway, 'fd00:42::1');
    assert.deepEqual(find('inet', 'main', '10.42.0.0/24'), {
      family: 'inet', table: 'main', destination: '10.42.0.0/24', gateway: null, device: 'veth-lb', protocol: 'kernel',
      scope: 'link', preferredSource: '10.42.0.2', metric: null, type: 'unicast', flags: [], nexthops: [],
    });
    const onlink = find('inet', 'main', '10.78.0.0/16');
    assert.deepEqual([onlink?.protocol, onlink?.metric, onlink?.preferredSource, onlink?.flags], ['static', 50, '10.42.0.2', ['onlink']]);
    assert.equal(find('inet', 'main', '10.66.0.0/16')?.type, 'blackhole');
    assert.deepEqual([find('inet', 100, '10.65.0.0/16')?.type, find('inet', 100, '10.65.0.0/16')?.device], ['unreachable', null]);
    assert.equal(find('inet', 'main', '10.63.0.0/16')?.gateway, 'fd00:42::1', 'IPv4 route via an IPv6 gateway');
    const multipath = find('inet', 'main', '10.64.0.0/16');
    assert.deepEqual([multipath?.gateway, multipath?.device], [null, null]);
    assert.deepEqual(multipath?.nexthops, [
      { gateway: '10.42.0.1', device: 'veth-lb', weight: 1, flags: [] },
      { gateway: '10.43.0.1', device: 'vip0', weight: 2, flags: [] },
    ]);
    assert.equal(find('inet', 'local', '10.43.0.255')?.type, 'broadcast');
    assert.equal(find('inet6', 'local', 'ff00::/8')?.type, 'multicast');
    // The down link has no connected route: the kernel removes it while the link is down.
    assert.equal(routes.some((r) => r.destination === '10.44.0.0/24'), false);
    assert.equal(find('inet', 'local', '10.44.0.1')?.type, 'local');
    assert.ok(routes.every((r) => (r.family === 'inet6') === (r.destination.includes(':') || (r.destination === 'default' && r.metric !== null))));
  });

  it('parses output without -s -d, where optional keys are absent', async () => {
    const fixture = await loadFixture('ip-batch-no-details.json');
    const network = parseIpBatchOutput(fixture.output, namespaceOf(fixture));
    assert.ok(network.interfaces.length === 5);
    assert.ok(network.interfaces.every((i) => i.stats === null && i.kind === null));
    const defaultRoute = network.routes.find((r) => r.family === 'inet' && r.destination === 'default');
    // No "table", "type" or "protocol" keys for main/unicast/boot without -d.
    assert.deepEqual([defaultRoute?.table, defaultRoute?.type, defaultRoute?.protocol, defaultRoute?.scope], ['main', null, null, null]);
    assert.equal(network.routes.find((r) => r.destination === '10.77.0.0/16')?.table, 100);
  });

  it('parses an empty namespace: lo down, no addresses, no routes', async () => {
    const fixture = await loadFixture('ip-batch-empty-namespace.json');
    const network = parseIpBatchOutput(fixture.output, namespaceOf(fixture));
    assert.equal(network.interfaces.length, 1);
    assert.deepEqual([network.interfaces[0]?.name, network.interfaces[0]?.operState, network.interfaces[0]?.addresses], ['lo', 'DOWN', []]);
    assert.deepEqual(network.routes, []);
  });

  it('accepts minimal objects and the `{}` placeholders of filtered addresses', () => {
    const link = { ifindex: 7, ifname: 'tun0', flags: ['POINTOPOINT'], mtu: 1400, operstate: 'UNKNOWN', addr_info: [{}, { family: 'inet', local: '10.1.1.1', prefixlen: 32, scope: 'global' }] };
    const out = `${JSON.stringify([link])}\n[{"dst":"10.1.0.0/16","dev":"tun0","flags":[]}]\n[]\n`;
    const network = parseIpBatchOutput(out, 'ns1');
    assert.deepEqual(network.interfaces[0], {
      index: 7, name: 'tun0', macAddress: null, mtu: 1400, operState: 'UNKNOWN', flags: ['POINTOPOINT'], kind: null, master: null,
      linkIndex: null, linkNetnsId: null, stats: null,
      addresses: [{ family: 'inet', address: '10.1.1.1', prefixLength: 32, scope: 'global', broadcast: null, label: null, dynamic: false }],
    });
    assert.deepEqual(network.routes[0], {
      family: 'inet', table: 'main', destination: '10.1.0.0/16', gateway: null, device: 'tun0', protocol: null, scope: null,
      preferredSource: null, metric: null, type: null, flags: [], nexthops: [],
    });
  });

  it('rejects garbage, truncated, missing and wrongly shaped output with a parse error naming the command', async () => {
    const fixture = await loadFixture('ip-batch-full.json');
    const lines = fixture.output.split('\n');
    const bad = [
      '',
      'garbage\n',
      fixture.output.slice(0, Math.floor(fixture.output.length / 2)), // truncated mid-array
      `${lines[0]}\n${lines[1]}\n`, // the IPv6 routes line is missing
      `${fixture.output}[]\n`, // one array too many
      '{}\n[]\n[]\n',
      '[{"ifindex":1}]\n[]\n[]\n', // a link without its required keys
      `[]\n[{"dst":5}]\n[]\n`,
      '[{"ifindex":1,"ifname":"x","flags":[],"mtu":1,"operstate":"UP","addr_info":[{"family":"inet","local":"10.0.0.1"}]}]\n[]\n[]\n',
    ];
    for (const text of bad) {
      assert.throws(() => parseIpBatchOutput(text, 'ns1'), isParseError, JSON.stringify(text.slice(0, 80)));
    }
    try {
      parseIpBatchOutput('garbage\n', 'ns1');
    } catch (err) {
      assert.ok(err instanceof DiscoveryError);
      assert.deepEqual(err.source, ipBatchArgv('ns1'));
      assert.match(err.message, /^ip -s -d -j -n ns1 -batch -: /);
    }
  });

  it('documents the IPv6 route finding: only `table all` dumps IPv6, `root` splits the families', async () => {
    const tableAll = await loadFixture('ip-route-table-all.json');
    const mixed = z.array(z.object({ dst: z.string() })).parse(JSON.parse(tableAll.output));
    assert.ok(mixed.some((r) => r.dst.includes(':')) && mixed.some((r) => r.dst.includes('.')), 'table all: both families in one array');
    const mainV6 = await loadFixture('ip-route-main-root-v6.json');
    assert.equal(mainV6.output, '[]\n[]\n[]\n', 'a specific table is IPv4 only, so an IPv6 selector matches nothing');
    const match = await loadFixture('ip-route-table-all-match-v6.json');
    assert.deepEqual(z.array(z.object({ dst: z.string() })).parse(JSON.parse(match.output)).map((r) => r.dst), ['default']);
    const globalOption = await loadFixture('ip-route-global-option-in-batch.json');
    assert.equal(globalOption.stderr, 'Object "-6" is unknown, try "ip help".\nCommand failed -:1\n');
  });
});

/** A gateway that answers from a recording instead of running ip. */
class RecordedGateway extends CommandGateway {
  private readonly fixture: Fixture;
  constructor(fixture: Fixture) {
    super();
    this.fixture = fixture;
  }
  override async run(argv: readonly string[], options: RunOptions = {}): Promise<CommandOutput> {
    this.runCount++;
    this.runs.push({ argv: [...argv], startedAt: Date.now(), durationMs: 0, exitCode: this.fixture.exitCode ?? 0, timedOut: false });
    assert.equal(options.input, this.fixture.stdin);
    if ((this.fixture.exitCode ?? 0) !== 0) {
      throw new DiscoveryError('exit', argv, `exit code ${this.fixture.exitCode}`, { exitCode: this.fixture.exitCode, stderr: this.fixture.stderr });
    }
    return { stdout: this.fixture.output, stderr: this.fixture.stderr ?? '', exitCode: 0 };
  }
}

describe('readNamespaceNetwork error mapping', () => {
  // The namespace file is checked before ip runs (and its inode recorded): /proc/self/ns/net is
  // one that always exists, so the recorded answer is what is mapped.
  const EXISTING = { netnsDir: '/proc/self/ns' };
  it('maps `Cannot open network namespace` to gone', async () => {
    const fixture = await loadFixture('ip-batch-missing-namespace.json');
    const gateway = new RecordedGateway(fixture);
    await assert.rejects(readNamespaceNetwork(gateway, 'net', EXISTING), (err: unknown) => {
      return err instanceof DiscoveryError && err.kind === 'gone' && err.exitCode === 255 && /Cannot open network namespace/.test(err.stderr ?? '');
    });
  });

  it('maps a plain file in place of a namespace to gone', async () => {
    const fixture: Fixture = {
      command: ipBatchArgv('half-made'), stdin: IP_BATCH_INPUT, recordedAt: '', iproute2: '', output: '',
      stderr: 'setting the network namespace "half-made" failed: Invalid argument\n', exitCode: 255,
    };
    await assert.rejects(readNamespaceNetwork(new RecordedGateway(fixture), 'net', EXISTING), (err: unknown) => err instanceof DiscoveryError && err.kind === 'gone' && err.exitCode === 255);
  });

  it('passes other failures through unchanged', async () => {
    const fixture = await loadFixture('ip-route-global-option-in-batch.json');
    await assert.rejects(readNamespaceNetwork(new RecordedGateway({ ...fixture, stdin: IP_BATCH_INPUT }), 'net', EXISTING), (err: unknown) => err instanceof DiscoveryError && err.kind === 'exit');
  });

  it('a namespace file that is not there is gone before anything runs', async () => {
    const gateway = new RecordedGateway(await loadFixture('ip-batch-full.json'));
    await assert.rejects(readNamespaceNetwork(gateway, 'lbtopo-never-made'), (err: unknown) => err instanceof DiscoveryError && err.kind === 'gone');
    assert.equal(gateway.runCount, 0);
  });

  it('reads through nsenter --net=FILE when the netns dir is not /run/netns (issue 8 item 7)', () => {
    assert.deepEqual(ipBatchArgv('a', '/run/netns/'), ['ip', '-s', '-d', '-j', '-n', 'a', '-batch', '-']);
    assert.deepEqual(ipBatchArgv('a', '/srv/netns'), ['nsenter', '--net=/srv/netns/a', '--', 'ip', '-s', '-d', '-j', '-batch', '-']);
  });

  it('runs nothing for invalid names', async () => {
    const gateway = new RecordedGateway(await loadFixture('ip-batch-full.json'));
    for (const name of ['', '-n', '--all', 'a b', '../x', 'a/b', '.', '..', 'x;reboot', '$(id)', 'x'.repeat(256), 'ns\n']) {
      await assert.rejects(readNamespaceNetwork(gateway, name), (err: unknown) => err instanceof DiscoveryError && err.kind === 'invalid', JSON.stringify(name));
    }
    assert.equal(gateway.runCount, 0);
    assert.equal(gateway.runs.length, 0);
  });
});

describe('readNamespaceNetwork on real namespaces', { skip: !isRoot && 'needs root' }, () => {
  const suffix = randomBytes(3).toString('hex');
  const ns = `lbtest-${suffix}-ip`;
  const peer = `lbtest-${suffix}-ip-peer`;
  const made = [ns, peer];
  const sh = (...argv: string[]): void => {
    execFileSync('ip', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  let virtualKind = 'dummy';

  before(() => {
    for (const name of made) sh('netns', 'add', name);
    try {
      sh('-n', ns, 'link', 'add', 'vip0', 'type', 'dummy');
    } catch {
      virtualKind = 'ifb'; // no dummy module on this kernel
      sh('-n', ns, 'link', 'add', 'vip0', 'type', 'ifb');
    }
    sh('-n', ns, 'link', 'add', 'veth-lb', 'type', 'veth', 'peer', 'name', 'veth-peer', 'netns', peer);
    sh('-n', ns, 'link', 'set', 'veth-lb', 'up');
    sh('-n', peer, 'link', 'set', 'veth-peer', 'up');
    sh('-n', ns, 'link', 'set', 'vip0', 'up');
    sh('-n', ns, 'addr', 'add', '10.42.0.2/24', 'dev', 'veth-lb');
    sh('-n', ns, 'addr', 'add', 'fd00:42::2/64', 'dev', 'veth-lb', 'nodad');
    sh('-n', ns, 'addr', 'add', '10.43.0.10/24', 'brd', '+', 'dev', 'vip0', 'label', 'vip0:vip');
    sh('-n', ns, 'addr', 'add', 'fd00:43::10/64', 'dev', 'vip0', 'nodad');
    sh('-n', ns, 'route', 'add', 'default', 'via', '10.42.0.1', 'dev', 'veth-lb');
    sh('-n', ns, '-6', 'route', 'add', 'default', 'via', 'fd00:42::1', 'dev', 'veth-lb');
    sh('-n', ns, 'route', 'add', '10.77.0.0/16', 'via', '10.42.0.1', 'dev', 'veth-lb', 'table', '100');
    sh('-n', ns, '-6', 'route', 'add', 'fd00:77::/48', 'via', 'fd00:42::1', 'dev', 'veth-lb', 'table', '100');
    sh('-n', ns, 'link', 'add', 'veth-down', 'type', 'veth', 'peer', 'name', 'veth-down-p');
    sh('-n', ns, 'addr', 'add', '10.44.0.1/24', 'dev', 'veth-down');
  });

  after(() => {
    for (const name of made) {
      try {
        sh('netns', 'del', name);
      } catch {
        // already gone
      }
    }
  });

  it('returns exactly the configured addresses and routes, from one ip process', async () => {
    const gateway = new CommandGateway();
    const network: NamespaceNetwork = await readNamespaceNetwork(gateway, ns);
    assert.equal(gateway.runCount, 1);
    assert.deepEqual(gateway.runs[0]?.argv, ['ip', '-s', '-d', '-j', '-n', ns, '-batch', '-']);

    assert.deepEqual(network.interfaces.map((i) => i.name).sort(), ['lo', 'veth-down', 'veth-down-p', 'veth-lb', 'vip0']);
    const addresses = network.interfaces.flatMap((i) => i.addresses.filter((a) => a.scope !== 'link').map((a) => `${i.name} ${a.address}/${a.prefixLength} ${a.broadcast ?? '-'} ${a.label ?? '-'}`));
    assert.deepEqual(addresses.sort(), [
      'veth-down 10.44.0.1/24 - veth-down',
      'veth-lb 10.42.0.2/24 - veth-lb',
      'veth-lb fd00:42::2/64 - -',
      'vip0 10.43.0.10/24 10.43.0.255 vip0:vip',
      'vip0 fd00:43::10/64 - -',
    ]);
    const byName = new Map(network.interfaces.map((i) => [i.name, i]));
    assert.equal(byName.get('vip0')?.kind, virtualKind);
    assert.equal(byName.get('veth-lb')?.kind, 'veth');
    assert.equal(typeof byName.get('veth-lb')?.linkNetnsId, 'number');
    assert.equal(byName.get('veth-down')?.operState, 'DOWN');
    assert.equal(byName.get('lo')?.operState, 'DOWN', 'lo was never brought up');
    assert.ok(network.interfaces.every((i) => i.stats !== null));

    const configured = network.routes.filter((r) => (r.table === 'main' || r.table === 100) && !r.destination.startsWith('fe80:'));
    assert.deepEqual(configured.map(routeKey).sort(), [
      'inet 100 unicast 10.77.0.0/16 10.42.0.1 veth-lb boot global - - ',
      'inet main unicast 10.42.0.0/24 - veth-lb kernel link 10.42.0.2 - ',
      'inet main unicast 10.43.0.0/24 - vip0 kernel link 10.43.0.10 - ',
      'inet main unicast default 10.42.0.1 veth-lb boot global - - ',
      'inet6 100 unicast fd00:77::/48 fd00:42::1 veth-lb boot global - 1024 ',
      'inet6 main unicast default fd00:42::1 veth-lb boot global - 1024 ',
      'inet6 main unicast fd00:42::/64 - veth-lb kernel global - 256 ',
      'inet6 main unicast fd00:43::/64 - vip0 kernel global - 256 ',
    ]);
    const local = network.routes.filter((r) => r.table === 'local' && r.family === 'inet').map((r) => `${r.type} ${r.destination}`);
    assert.deepEqual(local.sort(), ['broadcast 10.42.0.255', 'broadcast 10.43.0.255', 'local 10.42.0.2', 'local 10.43.0.10', 'local 10.44.0.1']);
    assert.deepEqual([...new Set(network.routes.map((r) => r.table))].sort(), [100, 'local', 'main'].sort());
  });

  it('gives gone for a namespace deleted just before the call, and for one that never existed', async () => {
    const doomed = `lbtest-${suffix}-doomed`;
    sh('netns', 'add', doomed);
    sh('netns', 'del', doomed);
    const gateway = new CommandGateway();
    for (const name of [doomed, `lbtest-${suffix}-never`]) {
      await assert.rejects(readNamespaceNetwork(gateway, name), (err: unknown) => {
        return err instanceof DiscoveryError && err.kind === 'gone' && err.source.includes(name);
      });
    }
    assert.equal(gateway.runCount, 0, 'the namespace file is checked first: nothing runs');
  });

  it('honours another netns dir: the inode listed and the devices read come from the same file (issue 8 item 7)', async () => {
    // A netns dir that is not /run/netns, holding a name /run/netns does not have: `ip -n alias`
    // would fail (or read another namespace of that name); the file is entered instead.
    const dir = mkdtempSync(join(tmpdir(), 'lbtopo-netns-dir-'));
    const alias = `lbtest-${suffix}-alias`;
    writeFileSync(join(dir, alias), '');
    execFileSync('mount', ['--bind', `/run/netns/${ns}`, join(dir, alias)]);
    try {
      const [listed] = await listNamespaces(dir);
      assert.equal(listed?.name, alias);
      assert.equal(listed?.inode, statSync(`/run/netns/${ns}`).ino);
      const gateway = new CommandGateway();
      const net = await readNamespaceNetwork(gateway, alias, { netnsDir: dir });
      assert.equal(net.inode, listed?.inode);
      assert.ok(net.interfaces.some((i) => i.name === 'vip0'), 'the devices of the namespace that file is');
      assert.equal(gateway.runs[0]?.argv[0], 'nsenter');
      assert.ok(!existsSync(`/run/netns/${alias}`));
    } finally {
      execFileSync('umount', [join(dir, alias)]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs no command for invalid names', async () => {
    const gateway = new CommandGateway();
    for (const name of ['-V', `${ns} `, `../netns/${ns}`, '']) {
      await assert.rejects(readNamespaceNetwork(gateway, name), (err: unknown) => err instanceof DiscoveryError && err.kind === 'invalid');
    }
    assert.equal(gateway.runCount, 0);
  });
});
