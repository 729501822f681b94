// clouds.yaml and OS_* as openstacksdk reads them (files only; the auth itself is tested against
// the real Keystone in cloud.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveCloud } from '../src/cloud/clouds-config.ts';
import { authRequestBody } from '../src/cloud/keystone.ts';
import { CloudError } from '../src/cloud/http.ts';
import { loadConfig } from '../src/config.ts';

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lbtopo-clouds-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

test('clouds.yaml in the search path, secure.yaml merged over it, defaults as keystoneauth assumes them', () => {
  const home = dirWith({
    '.config/openstack/clouds.yaml': 'clouds:\n  prod:\n    auth:\n      auth_url: https://keystone.example:5000\n      username: lbtopo\n      project_name: ops\n    region_name: RegionTwo\n    interface: internalURL\n    network_endpoint_override: http://127.0.0.1:9696/\n',
    '.config/openstack/secure.yaml': 'clouds:\n  prod:\n    auth:\n      password: from-secure\n',
  });
  const cwd = dirWith({});
  const s = resolveCloud('prod', {}, cwd, home)!;
  assert.equal(s.name, 'prod');
  assert.equal(s.region, 'RegionTwo');
  assert.equal(s.interface, 'internal');
  assert.deepEqual(s.endpointOverrides, { network: 'http://127.0.0.1:9696/' });
  assert.deepEqual(s.auth, {
    type: 'password',
    authUrl: 'https://keystone.example:5000',
    username: 'lbtopo',
    userId: null,
    password: 'from-secure',
    userDomainId: 'default',
    userDomainName: null,
    scope: { kind: 'project', id: null, name: 'ops', domainId: 'default', domainName: null },
  });
  assert.deepEqual(authRequestBody(s.auth), {
    auth: {
      identity: { methods: ['password'], password: { user: { name: 'lbtopo', domain: { id: 'default' }, password: 'from-secure' } } },
      scope: { project: { name: 'ops', domain: { id: 'default' } } },
    },
  });
  // OS_CLIENT_CONFIG_FILE comes first; ./clouds.yaml before the home one.
  const local = dirWith({ 'clouds.yaml': 'clouds:\n  prod:\n    auth_type: token\n    auth: {auth_url: http://127.0.0.1:5000/v3, token: abc}\n' });
  assert.equal(resolveCloud('prod', {}, local, home)!.auth.type, 'token');
});

test('application credentials carry their own scope; the OS_* variables make the envvars cloud', () => {
  const env = { OS_AUTH_URL: 'http://127.0.0.1:5000/v3', OS_APPLICATION_CREDENTIAL_ID: 'ac1', OS_APPLICATION_CREDENTIAL_SECRET: 's', OS_REGION_NAME: 'R1', OS_INSECURE: 'true' };
  const s = resolveCloud(null, env, '/', '/')!;
  assert.equal(s.name, 'envvars');
  assert.equal(s.region, 'R1');
  assert.equal(s.insecure, true);
  assert.deepEqual(authRequestBody(s.auth), { auth: { identity: { methods: ['application_credential'], application_credential: { id: 'ac1', secret: 's' } } } });
  assert.equal(resolveCloud(null, {}, '/', '/'), null, 'nothing configured: no cloud');
});

test('unusable settings are named: missing file or cloud, missing secret, unknown auth type, unreadable CA', () => {
  const empty = dirWith({});
  assert.throws(() => resolveCloud('prod', {}, empty, empty), (e: unknown) => e instanceof CloudError && e.kind === 'config' && /no clouds.yaml found/.test((e as Error).message));
  const dir = dirWith({
    'clouds.yaml':
      'clouds:\n  a: {auth: {auth_url: http://k/v3, username: u}}\n  b: {auth_type: v3oidcpassword, auth: {auth_url: http://k/v3}}\n  c: {cacert: /nonexistent/ca.pem, auth: {auth_url: http://k/v3, username: u, password: p}}\n',
  });
  assert.throws(() => resolveCloud('zz', {}, dir, empty), /no cloud named zz \(it has a, b, c\)/);
  assert.throws(() => resolveCloud('a', {}, dir, empty), /cloud a: auth.password is missing/);
  assert.throws(() => resolveCloud('b', {}, dir, empty), /auth_type "v3oidcpassword" is not supported/);
  assert.throws(() => resolveCloud('c', {}, dir, empty), /cacert \/nonexistent\/ca.pem cannot be read/);
});

test('settings: LBTOPO_CLOUD, else OS_CLOUD; LBTOPO_HOST defaults to the hostname; names are checked', async () => {
  assert.equal(loadConfig({ OS_CLOUD: 'x' }).cloud, 'x');
  assert.equal(loadConfig({ OS_CLOUD: 'x', LBTOPO_CLOUD: 'y' }).cloud, 'y');
  assert.equal(loadConfig({}).cloud, null);
  assert.match(loadConfig({}).host, /^[A-Za-z0-9_.-]+$/, 'the hostname (shared with the fleet)');
  assert.equal(loadConfig({ LBTOPO_HOST: 'net-1' }).host, 'net-1');
  assert.equal(loadConfig({}).cloudTimeoutMs, 3000);
  assert.throws(() => loadConfig({ LBTOPO_CLOUD: 'a b' }), /LBTOPO_CLOUD must be a clouds.yaml cloud name/);
  assert.throws(() => loadConfig({ LBTOPO_HOST: '--x y' }), /LBTOPO_HOST: "--x y" is not a host name/);
});
