// The joins from a pool to its haproxy, on hand-built records (the lab tests cover the real host).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { haproxyProcessesOf, liveHaproxyOf, stalePidsOf, poolOfProcess } from '../src/topology/pools.ts';
import type { PoolRecord } from '../src/topology/pools.ts';
import type { ProcessInfo } from '../src/host/procfs.ts';
import { haproxyByConfig } from '../src/topology/probes.ts';

const CONF = '/var/lib/neutron/lbaas/6f1c1a4e-0000-4000-8000-000000000001/conf';
const pool = {
  id: '6f1c1a4e-0000-4000-8000-000000000001',
  deployment: { configPath: CONF, pids: [] as number[] },
} as unknown as PoolRecord;
const withPids = (pids: number[]) => ({ ...pool, deployment: { ...pool.deployment, pids } }) as unknown as PoolRecord;

function proc(pid: number, over: Partial<ProcessInfo> = {}): ProcessInfo {
  return { pid, ppid: 1, comm: 'haproxy', state: 'S', startTicks: pid, startedAt: 1_000_000 + pid, uid: 65534, user: 'nobody', rssBytes: 1, argv: ['haproxy', '-f', CONF, '-p', CONF.replace('conf', 'pid')], exe: '/usr/sbin/haproxy', netnsInode: 4026532000, ...over };
}

test('the live haproxy is the pid-file process when it runs the config', () => {
  const processes = [proc(10), proc(20)];
  assert.equal(liveHaproxyOf(withPids([10]), processes)?.pid, 10);
  assert.equal(liveHaproxyOf(withPids([]), processes)?.pid, 20, 'no pid file: the newest on the config');
  assert.deepEqual(haproxyProcessesOf(pool, processes).map((p) => p.pid), [10, 20]);
});

test('a zombie, a reused pid and a haproxy on another config are not the pool haproxy', () => {
  const processes = [proc(10, { state: 'Z' }), proc(11, { comm: 'sshd', argv: ['sshd'] }), proc(12, { argv: ['haproxy', '-f', '/other/conf'] })];
  assert.equal(liveHaproxyOf(withPids([10, 11, 12]), processes), null);
  assert.deepEqual(stalePidsOf(withPids([10, 11, 12, 13]), processes), [10, 11, 12, 13]);
  assert.equal(poolOfProcess(proc(12, { argv: ['haproxy', '-f', '/other/conf'] }), [pool]), null);
  assert.equal(poolOfProcess(proc(30), [pool]), pool);
});

test('the haproxy history summary: live haproxy per config, zombies left out', () => {
  const summary = haproxyByConfig([proc(20), proc(10), proc(30, { state: 'Z' }), proc(40, { comm: 'bash', argv: ['bash'] })]);
  assert.deepEqual([...summary.keys()], [CONF]);
  assert.deepEqual(summary.get(CONF)!.map((s) => s.pid), [10, 20]);
});
