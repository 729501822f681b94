import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiscoveryError } from '../src/host/errors.ts';
import { listLbaasDeployments, readPidFile } from '../src/host/lbaas-state.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

// Ids chosen so the sorted order interleaves the layouts.
const V1_POOL = '5e1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const V1_GARBAGE_POOL = '1f1f1f1f-2e2e-4d3d-8c4c-5b5b5b5b5b5b';
const V1_DIR_AS_CONF_POOL = 'ee000000-0000-4000-8000-000000000001';
const V2_LB = '2f8e4b6a-1c3d-4e5f-9a7b-8c9d0e1f2a3b';
const V2_NO_CONFIG_LB = 'aa000000-0000-4000-8000-0000000000aa';
const OCTAVIA_LB = '0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a';
// Pids: one alive haproxy, one alive process that is not haproxy, and stale ones nobody has.
const PID_HAPROXY = 4100;
const PID_OTHER = 4200;
const PID_ZOMBIE = 4300;
const PID_STALE = 4_194_000;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

describe('listLbaasDeployments', () => {
  const root = mkdtempSync(join(tmpdir(), 'lbaas-state-test-'));
  const lbaasDir = join(root, 'neutron', 'lbaas');
  const octaviaDir = join(root, 'octavia');
  const listeners: net.Server[] = [];

  async function listenOn(path: string): Promise<void> {
    const server = net.createServer();
    listeners.push(server);
    await new Promise<void>((resolve) => server.listen(path, resolve));
  }

  before(async () => {
    // v1: a healthy pool with a socket, a garbage config, a config path that is a directory.
    mkdirSync(join(lbaasDir, V1_POOL), { recursive: true });
    writeFileSync(join(lbaasDir, V1_POOL, 'conf'), fixture('lbaas-v1-pool.conf'));
    writeFileSync(join(lbaasDir, V1_POOL, 'pid'), `${PID_HAPROXY}\n${PID_STALE}\n${PID_ZOMBIE}\n`);
    await listenOn(join(lbaasDir, V1_POOL, 'sock'));
    mkdirSync(join(lbaasDir, V1_GARBAGE_POOL));
    writeFileSync(join(lbaasDir, V1_GARBAGE_POOL, 'conf'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0xff, 0]));
    writeFileSync(join(lbaasDir, V1_GARBAGE_POOL, 'pid'), 'not a pid\n');
    mkdirSync(join(lbaasDir, V1_DIR_AS_CONF_POOL, 'conf'), { recursive: true });
    // Not pools: a non-UUID directory, a UUID-named file, an upper-case UUID.
    mkdirSync(join(lbaasDir, 'lost+found'));
    writeFileSync(join(lbaasDir, 'cccccccc-0000-4000-8000-000000000000'), '');
    mkdirSync(join(lbaasDir, 'DDDDDDDD-0000-4000-8000-000000000000'));

    // v2: a load balancer with a stale pid file (only dead pids) and no socket; one with no config.
    mkdirSync(join(lbaasDir, 'v2', V2_LB), { recursive: true });
    writeFileSync(join(lbaasDir, 'v2', V2_LB, 'haproxy.conf'), fixture('lbaas-v2-loadbalancer.conf'));
    writeFileSync(join(lbaasDir, 'v2', V2_LB, 'haproxy.pid'), `${PID_STALE + 1}`);
    mkdirSync(join(lbaasDir, 'v2', V2_NO_CONFIG_LB));
    mkdirSync(join(lbaasDir, 'v2', 'not-a-lb'));

    // Octavia: the socket lives next to the lb dir; the user-group snippet fills `group`.
    mkdirSync(join(octaviaDir, OCTAVIA_LB), { recursive: true });
    writeFileSync(join(octaviaDir, OCTAVIA_LB, 'haproxy.cfg'), fixture('lbaas-octavia-haproxy.cfg'));
    writeFileSync(join(octaviaDir, OCTAVIA_LB, `${OCTAVIA_LB}.pid`), `${PID_HAPROXY} ${PID_OTHER}`);
    writeFileSync(join(octaviaDir, 'haproxy-default-user-group.conf'), fixture('lbaas-octavia-user-group.conf'));
    await listenOn(join(octaviaDir, `${OCTAVIA_LB}.sock`));
    mkdirSync(join(octaviaDir, 'lvs'));
    writeFileSync(join(octaviaDir, 'plugged_interfaces'), 'fa:16:3e:00:00:01 eth1\n');

  });

  after(async () => {
    await Promise.all(listeners.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    rmSync(root, { recursive: true, force: true });
  });

  test('finds all three layouts, skips what is not a deployment, sorts by id', async () => {
    const deployments = await listLbaasDeployments({ lbaasDir, octaviaDir });
    assert.deepEqual(
      deployments.map((d) => [d.id, d.layout]),
      [
        [OCTAVIA_LB, 'octavia'],
        [V1_GARBAGE_POOL, 'v1'],
        [V2_LB, 'v2'],
        [V1_POOL, 'v1'],
        [V2_NO_CONFIG_LB, 'v2'],
        [V1_DIR_AS_CONF_POOL, 'v1'],
      ],
    );
  });

  test('v1: paths, namespace, socket, pids and the parsed conf', async () => {
    const deployments = await listLbaasDeployments({ lbaasDir });
    const v1 = deployments.find((d) => d.id === V1_POOL);
    assert.ok(v1);
    const stateDir = join(lbaasDir, V1_POOL);
    const { config, configMtimeMs, ...rest } = v1;
    assert.deepEqual(rest, {
      layout: 'v1',
      id: V1_POOL,
      stateDir,
      configPath: join(stateDir, 'conf'),
      configRealPath: realpathSync(join(stateDir, 'conf')),
      pidPath: join(stateDir, 'pid'),
      socketPath: join(stateDir, 'sock'),
      socketExists: true,
      namespace: `qlbaas-${V1_POOL}`,
      pids: [PID_HAPROXY, PID_STALE, PID_ZOMBIE],
      pidError: null,
      configError: null,
    });
    assert.equal(configMtimeMs, statSync(join(stateDir, 'conf')).mtimeMs);
    assert.equal(config?.backends[0]?.poolId, V1_POOL);
    assert.equal(config?.global.statsSockets[0]?.path, `/var/lib/neutron/lbaas/${V1_POOL}/sock`);
  });

  test('v2: a stale pid file gives pids but no running pids; a missing socket is reported', async () => {
    const deployments = await listLbaasDeployments({ lbaasDir });
    const v2 = deployments.find((d) => d.id === V2_LB);
    assert.ok(v2);
    const stateDir = join(lbaasDir, 'v2', V2_LB);
    assert.deepEqual(
      [v2.layout, v2.stateDir, v2.configPath, v2.pidPath, v2.socketPath, v2.namespace],
      ['v2', stateDir, join(stateDir, 'haproxy.conf'), join(stateDir, 'haproxy.pid'), join(stateDir, 'haproxy_stats.sock'), `qlbaas-${V2_LB}`],
    );
    assert.equal(v2.socketExists, false);
    assert.deepEqual(v2.pids, [PID_STALE + 1]);
    assert.equal(v2.config?.loadBalancerId, V2_LB);
    assert.equal(v2.config?.frontends.length, 2);

    const empty = deployments.find((d) => d.id === V2_NO_CONFIG_LB);
    assert.equal(empty?.config, null);
    assert.equal(empty?.configMtimeMs, null);
    assert.deepEqual(empty?.pids, []);
    assert.match(empty?.configError ?? '', /haproxy\.conf/);
    assert.match(empty?.configError ?? '', /ENOENT/);
  });

  test('Octavia: socket outside the lb dir, amphora-haproxy namespace, group from the user-group snippet', async () => {
    const [octavia] = await listLbaasDeployments({ octaviaDir });
    assert.ok(octavia);
    const stateDir = join(octaviaDir, OCTAVIA_LB);
    assert.deepEqual(
      [octavia.layout, octavia.id, octavia.configPath, octavia.pidPath, octavia.socketPath, octavia.namespace],
      [
        'octavia',
        OCTAVIA_LB,
        join(stateDir, 'haproxy.cfg'),
        join(stateDir, `${OCTAVIA_LB}.pid`),
        join(octaviaDir, `${OCTAVIA_LB}.sock`),
        'amphora-haproxy',
      ],
    );
    assert.equal(octavia.socketExists, true);
    assert.deepEqual(octavia.pids, [PID_HAPROXY, PID_OTHER]);
    assert.equal(octavia.config?.global.group, 'nogroup');
    assert.equal(octavia.config?.loadBalancerId, OCTAVIA_LB);
    assert.deepEqual(
      octavia.config?.backends.map((b) => b.listenerId),
      ['e4f5a6b7-c8d9-4e0f-9a1b-2c3d4e5f6a7b', 'e4f5a6b7-c8d9-4e0f-9a1b-2c3d4e5f6a7b', 'b8c9d0e1-f2a3-4b4c-8d5e-6f7a8b9c0d1e'],
    );
  });

  test('a garbage config and a config path that is a directory give configError, not a failure', async () => {
    const deployments = await listLbaasDeployments({ lbaasDir });
    const garbage = deployments.find((d) => d.id === V1_GARBAGE_POOL);
    assert.equal(garbage?.config, null);
    assert.match(garbage?.configError ?? '', /conf: not a haproxy config: binary content/);
    assert.equal(typeof garbage?.configMtimeMs, 'number');
    assert.deepEqual(garbage?.pids, [], 'no integers in the pid file');
    assert.equal(garbage?.socketExists, false);
    const directory = deployments.find((d) => d.id === V1_DIR_AS_CONF_POOL);
    assert.equal(directory?.config, null);
    assert.match(directory?.configError ?? '', /not a regular file/);
  });

  test('a missing state dir is a failed look, never "0 pools" (issue 8 item 8)', async () => {
    const notFound = (error: unknown) => error instanceof DiscoveryError && error.kind === 'not-found';
    // Set explicitly (a typo): refused even though the other dir exists.
    await assert.rejects(listLbaasDeployments({ lbaasDir: join(root, 'nope'), octaviaDir, required: { lbaas: true } }), (e: unknown) => notFound(e) && /LBTOPO_LBAAS_DIR/.test((e as Error).message));
    // Defaults: one may be absent (an Octavia-only host), but not both.
    assert.equal((await listLbaasDeployments({ lbaasDir: join(root, 'nope'), octaviaDir })).length, 1);
    await assert.rejects(listLbaasDeployments({ lbaasDir: join(root, 'nope'), octaviaDir: join(root, 'nope2') }), (e: unknown) => notFound(e) && /no state dir exists/.test((e as Error).message));
    assert.deepEqual(await listLbaasDeployments({}), [], 'no dir configured at all: nothing to read');
  });

  test('a state path that is not a directory is an io error', async () => {
    await assert.rejects(
      listLbaasDeployments({ lbaasDir: join(octaviaDir, 'plugged_interfaces') }),
      (error: unknown) => error instanceof DiscoveryError && error.kind === 'io',
    );
  });

  test('reading is read-only: the tree is unchanged', async () => {
    const before = walk(root).map((path) => [path, statSync(path).mtimeMs]);
    await listLbaasDeployments({ lbaasDir, octaviaDir });
    assert.deepEqual(walk(root).map((path) => [path, statSync(path).mtimeMs]), before);
  });
});

describe('readPidFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lbaas-pid-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('every whitespace-separated integer, once, in file order', async () => {
    const path = join(dir, 'pid');
    writeFileSync(path, '123\n456 789\t\n123\n  -5 0 abc 99999999999 \n');
    assert.deepEqual(await readPidFile(path), [123, 456, 789]);
  });

  test('a missing file is no pids; an unreadable one throws', async () => {
    assert.deepEqual(await readPidFile(join(dir, 'missing')), []);
    await assert.rejects(readPidFile(dir), (error: unknown) => error instanceof DiscoveryError && error.kind === 'io');
  });
});
