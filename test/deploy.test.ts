// No Docker engine runs here, so the deployment files are checked for what they must say: the
// host views the server needs, the fewest privileges, and only settings and paths it reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { SETTINGS, loadConfig } from '../src/config.ts';

const compose = parse(readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8'));
const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8');
const service = compose.services['lbaas-topology'];
type Volume = { type: string; source: string; target: string; read_only?: boolean; bind?: { propagation?: string } };
const volumes: Volume[] = service.volumes;

test('compose runs on the host network and pid namespace with only SYS_ADMIN and SYS_PTRACE', () => {
  assert.equal(service.network_mode, 'host');
  assert.equal(service.pid, 'host');
  assert.deepEqual(service.cap_drop, ['ALL']);
  assert.deepEqual([...service.cap_add].sort(), ['SYS_ADMIN', 'SYS_PTRACE']);
  assert.equal(service.privileged, undefined, 'never privileged');
  assert.equal(service.read_only, true);
  assert.ok(service.security_opt.includes('no-new-privileges:true'));
});

test('every variable compose sets is a setting the server reads, and the values load', () => {
  const known = new Set<string>(SETTINGS.map((s) => s.env));
  for (const name of Object.keys(service.environment)) assert.ok(known.has(name), `${name} is not read by the server`);
  // Resolve ${VAR:-default} as compose would with nothing set, then validate as the server does.
  const env = Object.fromEntries(Object.entries(service.environment as Record<string, string>).map(([k, v]) => [k, String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')]));
  const config = loadConfig(env);
  assert.equal(config.listen.host, '127.0.0.1', 'loopback by default');
  assert.equal(config.token, null);
});

test('every path the server is configured to read is mounted, host state read-only', () => {
  const env = service.environment as Record<string, string>;
  const mountFor = (path: string) => volumes.find((v) => path === v.target || path.startsWith(`${v.target}/`));
  const hostState = [env.LBTOPO_NETNS_DIR, env.LBTOPO_LBAAS_DIR, env.LBTOPO_OCTAVIA_DIR, env.LBTOPO_OVSDB!.replace(/^unix:/, '')];
  for (const path of hostState) {
    const mount = mountFor(path!);
    assert.ok(mount, `${path} is mounted`);
    assert.equal(mount.type, 'bind');
    assert.equal(mount.read_only, true, `${path} is read-only`);
    assert.equal(mount.source, mount.target, 'the same path as on the host');
  }
  assert.equal(mountFor(env.LBTOPO_NETNS_DIR!)!.bind?.propagation, 'rslave', 'namespaces made later appear inside');
  const data = mountFor(env.LBTOPO_DB!)!;
  assert.equal(data.type, 'volume');
  assert.ok(compose.volumes[data.source] !== undefined, 'the data volume is declared');
  for (const v of volumes) assert.ok(v.type === 'volume' || hostState.some((p) => p === v.target || p!.startsWith(`${v.target}/`)), `${v.target} is not a path the server reads`);
});

test('compose and the image have a health check on /health', () => {
  assert.match(JSON.stringify(service.healthcheck.test), /\/health/);
  assert.match(dockerfile, /HEALTHCHECK .*\/health/);
});

test('the image is Node 20 with the host tools the probes run, and ships what the server reads', () => {
  assert.match(dockerfile, /^FROM node:20-bookworm/m);
  assert.match(dockerfile, /iproute2/);
  assert.match(dockerfile, /openvswitch-switch/);
  for (const dir of ['src', 'migrations', 'bin', 'schema', 'examples']) assert.match(dockerfile, new RegExp(`COPY ${dir} `));
  assert.match(dockerfile, /ENV LBTOPO_DB=\/data\/topology\.sqlite/);
});
