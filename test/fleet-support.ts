// Shared by the fleet tests: hosts made of real state dirs (neutron-lbaas v1 pools, an Octavia
// load balancer) read by the real discovery, each with its own SQLite file, host name and
// PostgreSQL role, pushing through the real FleetPusher to a throwaway PostgreSQL.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { createApp } from '../src/server.ts';
import type { App } from '../src/server.ts';
import { FleetPusher } from '../src/fleet/push.ts';
import { v1Config, octaviaConfig } from '../src/lab/haproxy.ts';
import type { FleetApp } from '../src/fleet/serve.ts';
import { addRoleSql } from '../src/fleet/roles.ts';

export interface TestHost {
  name: string;
  dir: string;
  lbaasDir: string;
  octaviaDir: string;
  env: Record<string, string>;
  app: App;
  pusher: FleetPusher;
}

/** A v1 pool state dir (conf as neutron-lbaas writes it); nothing runs it unless the test starts haproxy. */
export function writeV1Pool(lbaasDir: string, options: { vip?: string; port?: number; members?: number } = {}): { poolId: string; stateDir: string; configPath: string; socketPath: string; pidPath: string } {
  const poolId = randomUUID();
  const stateDir = join(lbaasDir, poolId);
  mkdirSync(stateDir, { recursive: true });
  const socketPath = join(stateDir, 'sock');
  const configPath = join(stateDir, 'conf');
  const members = Array.from({ length: options.members ?? 2 }, (_, i) => ({ id: randomUUID(), address: '127.0.0.1', port: 9 + i }));
  writeFileSync(configPath, v1Config({ frontendId: randomUUID(), poolId, vip: options.vip ?? '10.99.0.5', protocolPort: options.port ?? 80, socketPath, members }));
  return { poolId, stateDir, configPath, socketPath, pidPath: join(stateDir, 'pid') };
}

/** An Octavia load balancer's state dir (haproxy.cfg as the amphora agent writes it). */
export function writeOctaviaLb(octaviaDir: string): { loadBalancerId: string; poolId: string } {
  const loadBalancerId = randomUUID();
  const poolId = randomUUID();
  mkdirSync(join(octaviaDir, loadBalancerId), { recursive: true });
  writeFileSync(
    join(octaviaDir, loadBalancerId, 'haproxy.cfg'),
    octaviaConfig({ loadBalancerId, frontendId: randomUUID(), poolId, vip: '10.99.1.5', protocolPort: 80, socketPath: join(octaviaDir, `${loadBalancerId}.sock`), members: [{ id: randomUUID(), address: '127.0.0.1', port: 9 }] }),
  );
  return { loadBalancerId, poolId };
}

export function hostDirs(): { dir: string; lbaasDir: string; octaviaDir: string; netnsDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-fleet-host-'));
  const dirs = { dir, lbaasDir: join(dir, 'lbaas'), octaviaDir: join(dir, 'octavia'), netnsDir: join(dir, 'netns') };
  for (const d of [dirs.lbaasDir, dirs.octaviaDir, dirs.netnsDir]) mkdirSync(d, { recursive: true });
  return dirs;
}

/** The settings of a host: its own dirs and SQLite, no OVS (unix socket that does not exist), pushing as `name`. */
export function hostEnv(name: string, fleetDb: string, dirs: ReturnType<typeof hostDirs>, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LBTOPO_HOST: name,
    LBTOPO_DB: join(dirs.dir, 'topology.sqlite'),
    LBTOPO_LBAAS_DIR: dirs.lbaasDir,
    LBTOPO_OCTAVIA_DIR: dirs.octaviaDir,
    LBTOPO_NETNS_DIR: dirs.netnsDir,
    LBTOPO_OVSDB: `unix:${join(dirs.dir, 'no-ovs.sock')}`,
    LBTOPO_TTL: '0s',
    LBTOPO_FLEET_DB: fleetDb,
    LBTOPO_FLEET_INTERVAL: '1s',
    LBTOPO_LISTEN: '127.0.0.1:0',
    ...extra,
  };
}

/** An in-process host (the app lbtopo serve runs) and its pusher, not started: tests drive cycle(). */
export function inProcessHost(name: string, fleetDb: string, extra: Record<string, string> = {}): TestHost {
  const dirs = hostDirs();
  const env = hostEnv(name, fleetDb, dirs, extra);
  const config = loadConfig(env);
  const app = createApp(config, { log: () => {} });
  const pusher = new FleetPusher({ config, store: app.store, runner: app.runner, newSession: app.newSession, log: () => {}, scrapeUrl: `http://127.0.0.1:9/${name}/metrics` });
  return { name, ...dirs, env, app, pusher };
}

export async function addRoles(adminUrl: string, hosts: string[], readers: string[]): Promise<void> {
  const admin = new pg.Client(adminUrl);
  await admin.connect();
  try {
    for (const h of hosts) await admin.query(addRoleSql(h, 'lbtopo_host', null));
    for (const r of readers) await admin.query(addRoleSql(r, 'lbtopo_reader', null));
  } finally {
    await admin.end();
  }
}

export async function hostGql<T = any>(app: App, query: string): Promise<{ data?: T; errors?: Array<{ message: string }> }> {
  const r = await app.yoga.fetch('http://lbtopo.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return (await r.json()) as { data?: T };
}

export async function fleetGql<T = any>(fleet: FleetApp, query: string, variables: Record<string, unknown> = {}): Promise<{ data?: T; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }> {
  const r = await fleet.yoga.fetch('http://fleet.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return (await r.json()) as { data?: T };
}

/** Polls `probe` until it returns a truthy value (or throws the last failure after `ms`). */
export async function eventually<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
