// OVSDB snapshot: JSON-RPC transact over the socket (cold: connect + transact + decode + close;
// warm: transact + decode on an open connection) against the anchor, one `ovs-vsctl
// --format=json` spawn through the command gateway, all in the same run, rounds interleaved.
// Every JSON-RPC snapshot is checked equal to the ovs-vsctl one before timing.
//
// Default: a private ovsdb-server (no vswitchd, no lab lock) holding --ports neutron-style
// internal ports on br-int. --lab: a real lab of --ports pools instead (OVS with vswitchd).
// Prints figures; asserts nothing. Usage: node bench/ovsdb-bench.ts [--ports 200] [--runs 21] [--lab]
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { CommandGateway } from '../src/host/exec.ts';
import { ovsDumpCommand, readOvsSnapshot } from '../src/host/ovs.ts';
import { OvsdbConnection, readOvsSnapshotJsonRpc, readOvsSnapshotOn, snapshotTransactParams } from '../src/host/ovsdb-jsonrpc.ts';
import { labUp } from '../src/lab/lab.ts';
import type { Lab } from '../src/lab/lab.ts';

const { values } = parseArgs({ options: { ports: { type: 'string', default: '200' }, runs: { type: 'string', default: '21' }, lab: { type: 'boolean', default: false } } });
const PORTS = Number(values.ports);
const RUNS = Number(values.runs);

interface Setup { target: string; down(): Promise<void>; what: string }

async function privateServer(): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-ovsdb-bench-'));
  const socket = join(dir, 'db.sock');
  execFileSync('ovsdb-tool', ['create', join(dir, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema']);
  execFileSync('ovsdb-server', [join(dir, 'conf.db'), `--remote=punix:${socket}`, `--pidfile=${join(dir, 'pid')}`, '--detach',
    `--log-file=${join(dir, 'log')}`, `--unixctl=${join(dir, 'ctl')}`]);
  const vsctl = (args: string[]) => execFileSync('ovs-vsctl', [`--db=unix:${socket}`, '--no-wait', '--timeout=60', ...args]);
  vsctl(['init']);
  vsctl(['add-br', 'br-int', '--', 'set', 'Bridge', 'br-int', 'datapath_type=netdev']);
  for (let i = 0; i < PORTS; i += 50) {
    const args: string[] = [];
    for (let j = i; j < Math.min(PORTS, i + 50); j++) {
      const id = randomUUID();
      const name = `tap${id.slice(0, 11)}`;
      const mac = `fa:16:3e:${[j >> 16, (j >> 8) & 255, j & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
      args.push('--', 'add-port', 'br-int', name, `tag=${1 + (j % 4000)}`, 'other_config:net_uuid=11111111-2222-4333-8444-555555555555',
        '--', 'set', 'Interface', name, 'type=internal', `external_ids:iface-id=${id}`, `external_ids:attached-mac=${mac}`, 'external_ids:iface-status=active');
    }
    vsctl(args);
  }
  return {
    target: `unix:${socket}`,
    what: `private ovsdb-server (no vswitchd), ${PORTS} internal ports on br-int`,
    async down() {
      // Wait for the exit before removing the dir: ovsdb-server removes its own files as it goes.
      const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      for (let i = 0; i < 100; i++) {
        try { process.kill(pid, 0); } catch { break; }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function realLab(): Promise<Setup> {
  const lab: Lab = await labUp({ v1Pools: PORTS, v2LoadBalancers: 0, waitForHealth: false });
  return { target: lab.ovsdb, what: `lab of ${PORTS} pools (ovsdb-server + ovs-vswitchd, netdev datapath)`, down: () => lab.down() };
}

/** Each item once per round, rounds interleaved after a warm-up round; median and p90 of each. */
async function measure(items: Array<[string, () => Promise<unknown>]>): Promise<Map<string, { p50: number; p90: number }>> {
  const times = new Map<string, number[]>(items.map(([name]) => [name, []]));
  for (let round = -1; round < RUNS; round++) {
    for (const [name, fn] of items) {
      const t0 = performance.now();
      await fn();
      if (round >= 0) times.get(name)!.push(performance.now() - t0);
    }
  }
  return new Map([...times].map(([name, list]) => {
    list.sort((a, b) => a - b);
    return [name, { p50: list[Math.floor(list.length / 2)]!, p90: list[Math.floor(list.length * 0.9)]! }];
  }));
}

const setup = values.lab ? await realLab() : await privateServer();
try {
  const gateway = new CommandGateway({ concurrency: 1 });
  const oracle = await readOvsSnapshot(gateway, setup.target);
  const cold = await readOvsSnapshotJsonRpc(setup.target);
  if (!isDeepStrictEqual(cold, oracle)) throw new Error('the JSON-RPC snapshot differs from the ovs-vsctl one');
  const connection = await OvsdbConnection.open(setup.target);
  try {
    const bytes = JSON.stringify(await connection.call('transact', snapshotTransactParams())).length;
    const cpu0 = process.cpuUsage();
    const results = await measure([
      ['ovs-vsctl --format=json (spawn)', () => readOvsSnapshot(gateway, setup.target)],
      ['  of which the spawn alone (no parse)', () => gateway.run(ovsDumpCommand(setup.target))],
      ['JSON-RPC transact, cold connection', () => readOvsSnapshotJsonRpc(setup.target)],
      ['JSON-RPC transact, warm connection', () => readOvsSnapshotOn(connection)],
    ]);
    const cpu = process.cpuUsage(cpu0);
    const anchor = results.get('ovs-vsctl --format=json (spawn)')!.p50;
    console.log(`\nOVSDB snapshot: ${setup.what}; ${oracle.ports.length} ports, reply ${(bytes / 1024).toFixed(0)} KiB`);
    console.log(`machine: ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}, Node ${process.version}; ${RUNS} rounds`);
    console.log('| what | p50 ms | p90 ms | × ovs-vsctl (p50) |\n|---|---|---|---|');
    for (const [name, { p50, p90 }] of results) console.log(`| ${name} | ${p50.toFixed(1)} | ${p90.toFixed(1)} | ${(p50 / anchor).toFixed(2)} |`);
    console.log(`(this process's CPU over all rounds: ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms; ovs-vsctl's own CPU is in its processes)`);
  } finally {
    connection.close();
  }
} finally {
  await setup.down();
}
