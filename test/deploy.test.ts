// The deployment files, checked for what they must say: the
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

test('compose and the image have a health check on /ready, sending the token when one is set', () => {
  assert.match(JSON.stringify(service.healthcheck.test), /\/ready/);
  assert.match(dockerfile, /^HEALTHCHECK .*LBTOPO_TOKEN.*\/ready/m);
});

const stages = dockerfile.split(/^FROM /m).slice(1);
const [buildStage, runtimeStage] = stages as [string, string];

test('the image builds on ARG BASE_IMAGE (a Node 24 Debian image by default), in two stages', () => {
  assert.match(dockerfile, /^ARG BASE_IMAGE=node:24-bookworm(-slim)?$/m);
  assert.equal(stages.length, 2);
  assert.match(buildStage, /^\$\{BASE_IMAGE\} AS build$/m);
  assert.match(runtimeStage, /^\$\{BASE_IMAGE\}$/m);
  const node = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines.node as string;
  assert.match(node, />=24/, 'package.json asks for the Node the image runs');
});

test('the build stage compiles native addons against the runtime headers, offline, and runs the build', () => {
  assert.match(buildStage, /npm_config_nodedir=\$\{NODE_DIR\}/);
  assert.match(buildStage, /^ARG NODE_DIR=\/usr\/local$/m, 'the official node images keep headers in /usr/local/include/node');
  assert.match(buildStage, /RUN npm ci\b/);
  assert.match(buildStage, /npm run build/);
  assert.match(buildStage, /npm prune --omit=dev/);
  assert.match(buildStage, /python3 make g\+\+/);
});

test('the runtime stage ships dist/ and production node_modules only, the host tools, OCI labels', () => {
  assert.match(runtimeStage, /COPY --from=build \/app\/dist \.\/dist/);
  assert.match(runtimeStage, /COPY --from=build \/app\/node_modules \.\/node_modules/);
  assert.doesNotMatch(runtimeStage, /COPY src\b|tsx|typescript|npm (ci|install)/, 'no sources, no TypeScript at run time');
  assert.match(runtimeStage, /iproute2/);
  assert.match(runtimeStage, /openvswitch-switch/);
  for (const dir of ['migrations', 'bin', 'schema', 'examples']) assert.match(runtimeStage, new RegExp(`COPY ${dir} `));
  assert.match(runtimeStage, /ENV [^]*LBTOPO_DB=\/data\/topology\.sqlite/);
  for (const label of ['title', 'description', 'version', 'revision', 'base.name']) assert.match(runtimeStage, new RegExp(`org\\.opencontainers\\.image\\.${label.replace('.', '\\.')}=`));
  // bin/lbtopo runs the compiled dist/src/main.js, which the build stage made.
  assert.match(readFileSync(new URL('../bin/lbtopo', import.meta.url), 'utf8'), /dist\/src\/main\.js/);
  assert.match(readFileSync(new URL('../tsconfig.build.json', import.meta.url), 'utf8'), /"outDir": "dist"/);
});

test('.dockerignore keeps the context to what the image needs', () => {
  const ignored = readFileSync(new URL('../.dockerignore', import.meta.url), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  for (const entry of ['.git', 'node_modules', 'dist', 'data', 'test-artifacts', 'test']) assert.ok(ignored.includes(entry), `${entry} is ignored`);
  for (const needed of ['src', 'bin', 'migrations', 'schema', 'examples', 'package.json', 'package-lock.json']) assert.ok(!ignored.includes(needed), `${needed} reaches the build`);
});
