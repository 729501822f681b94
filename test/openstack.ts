// Real Keystone, neutron-server and octavia-api for the cloud tests, from the Debian packages
// (python3-keystone, python3-neutron, python3-octavia), on loopback, SQLite, no message bus.
// Facts behind it: ../shared/reference/openstack-local/ (tested recipe) and the notes inline.
//   - /usr/bin/python3 explicitly: a pyenv python first on PATH has no OpenStack libraries.
//   - neutron and octavia migrations do not run on SQLite (ALTER constraints): the schema is built
//     from the models and the alembic heads stamped.
//   - Neutron and Octavia run noauth (they never ask Keystone to validate a token), but the client
//     reaches them through the Keystone catalog, which is the part of auth lbtopo depends on.
//   - Neutron's openvswitch mechanism driver binds a port (vif_type ovs) only on a host with a live
//     Open vSwitch agent: there is no agent here, so the agents' rows are written into the DB and
//     agent_down_time is made long enough that they stay alive for a test run.
//   - The noop Octavia provider never reports status: settle() does what a provider would.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';

const run = promisify(execFile);
const PY = '/usr/bin/python3';
export const ADMIN_PASSWORD = 'lbtopo-admin-secret';
export const REGION = 'RegionOne';

export interface OpenStack {
  dir: string;
  keystoneUrl: string;
  neutronUrl: string;
  octaviaUrl: string;
  neutronDb: string;
  octaviaDb: string;
  /** clouds.yaml with the clouds `lbtopo-password`, `lbtopo-appcred` and `lbtopo-token`. */
  cloudsYaml: string;
  /** An admin token (for the `token` auth cloud and for setup calls). */
  adminToken: string;
  /** Server pids (neutron's is its process group leader). */
  pids: { keystone: number; neutron: number; octavia: number };
  stop(): Promise<void>;
  /** Timings of the start, for the report. */
  startMs: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitHttp(url: string, child: ChildProcess, log: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited (${child.exitCode}); see ${log}:\n${tail(log)}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => r.status === 200, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms; see ${log}:\n${tail(log)}`);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '';
  }
}

/** Starts a server in its own process group (neutron forks workers), output to a log file. */
function startServer(argv: string[], log: string, env: Record<string, string> = {}): ChildProcess {
  const fd = openSync(log, 'a');
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  child.unref();
  return child;
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 5000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// Neutron

const NEUTRON_SCHEMA = `
import sys, sqlalchemy as sa
from neutron.db.migration.models import head
head.get_metadata().create_all(sa.create_engine(sys.argv[1]))
`;

function neutronConf(state: string, port: number): string {
  // oslo.config has no inline comments; an empty [oslo_policy] policy_dirs makes every request 500.
  return `[DEFAULT]
auth_strategy = noauth
bind_host = 127.0.0.1
bind_port = ${port}
core_plugin = ml2
service_plugins =
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
transport_url = fake://
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
api_paste_config = /etc/neutron/api-paste.ini
state_path = ${state}
agent_down_time = 100000000
debug = false
[database]
connection = sqlite:///${state}/neutron.sqlite
[oslo_concurrency]
lock_path = ${state}/lock
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = openvswitch
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
[ml2_type_vxlan]
vni_ranges = 1:1000
`;
}

/** A live Open vSwitch agent row for `host`, so ML2 binds ports there (vif_type ovs). */
function addOvsAgent(db: Database.Database, host: string): void {
  const now = new Date().toISOString().replace('T', ' ').replace('Z', '');
  const configurations = JSON.stringify({
    tunnel_types: ['vxlan'],
    bridge_mappings: {},
    tunneling_ip: '127.0.0.1',
    ovs_hybrid_plug: false,
    datapath_type: 'system',
    ovs_capabilities: { datapath_types: ['system'], iface_types: ['internal', 'system', 'vxlan'] },
    integration_bridge: 'br-int',
  });
  db.prepare(
    `INSERT INTO agents (id, agent_type, "binary", topic, host, admin_state_up, created_at, started_at, heartbeat_timestamp, configurations, "load", resources_synced)
     VALUES (?, 'Open vSwitch agent', 'neutron-openvswitch-agent', 'N/A', ?, 1, ?, ?, ?, ?, 0, 1)`,
  ).run(randomUUID(), host, now, now, now, configurations);
}

async function startNeutron(state: string, hosts: readonly string[]): Promise<{ url: string; child: ChildProcess; db: string }> {
  rmSync(state, { recursive: true, force: true });
  mkdirSync(join(state, 'lock'), { recursive: true });
  const port = await freePort();
  const conf = join(state, 'neutron.conf');
  writeFileSync(conf, neutronConf(state, port));
  const db = join(state, 'neutron.sqlite');
  await run(PY, ['-c', NEUTRON_SCHEMA, `sqlite:///${db}`]);
  await run(PY, ['/usr/bin/neutron-db-manage', '--config-file', conf, 'stamp', 'heads']);
  const sqlite = new Database(db);
  for (const host of hosts) addOvsAgent(sqlite, host);
  sqlite.close();
  const log = join(state, 'server.log');
  const child = startServer([PY, '/usr/bin/neutron-server', '--config-file', conf, '--log-file', log], join(state, 'stdout.log'));
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/v2.0/networks`, child, log);
  return { url, child, db };
}

// ---------------------------------------------------------------------------------------------
// Octavia

/** The schema from the models plus the lookup tables and placeholders the migrations create. */
const OCTAVIA_SCHEMA = `
import sys, warnings
warnings.filterwarnings("ignore")
import sqlalchemy as sa
from sqlalchemy import orm
from octavia.common import constants as c
from octavia.db import base_models, models
engine = sa.create_engine(sys.argv[1])
base_models.BASE.metadata.create_all(engine)
lookups = [
    (c.SUPPORTED_PROVISIONING_STATUSES, models.ProvisioningStatus),
    (c.SUPPORTED_HEALTH_MONITOR_TYPES, models.HealthMonitorType),
    (c.SUPPORTED_LB_ALGORITHMS, models.Algorithm),
    (c.SUPPORTED_PROTOCOLS, models.Protocol),
    (c.SUPPORTED_OPERATING_STATUSES, models.OperatingStatus),
    (c.SUPPORTED_SP_TYPES, models.SessionPersistenceType),
    (c.SUPPORTED_AMPHORA_ROLES, models.AmphoraRoles),
    (c.SUPPORTED_LB_TOPOLOGIES, models.LBTopology),
    (c.SUPPORTED_VRRP_AUTH, models.VRRPAuthMethod),
    (c.SUPPORTED_L7RULE_TYPES, models.L7RuleType),
    (c.SUPPORTED_L7RULE_COMPARE_TYPES, models.L7RuleCompareType),
    (c.SUPPORTED_L7POLICY_ACTIONS, models.L7PolicyAction),
    (c.SUPPORTED_CLIENT_AUTH_MODES, models.ClientAuthenticationMode),
]
with orm.Session(engine) as s:
    for names, cls in lookups:
        for n in names:
            s.add(cls(name=n))
    s.flush()
    s.add(models.FlavorProfile(id=c.NIL_UUID, name='DELETED-PLACEHOLDER', provider_name=c.DELETED, flavor_data='{}'))
    s.flush()
    s.add(models.Flavor(id=c.NIL_UUID, flavor_profile_id=c.NIL_UUID, name='DELETED-PLACEHOLDER', enabled=False, description='placeholder'))
    s.add(models.AvailabilityZoneProfile(id=c.NIL_UUID, name='DELETED-PLACEHOLDER', provider_name=c.DELETED, availability_zone_data='{}'))
    s.flush()
    s.add(models.AvailabilityZone(availability_zone_profile_id=c.NIL_UUID, name=c.NIL_UUID, enabled=False, description='placeholder'))
    s.commit()
`;

function octaviaConf(state: string, port: number): string {
  return `[DEFAULT]
transport_url = fake://
debug = false
[api_settings]
bind_host = 127.0.0.1
bind_port = ${port}
auth_strategy = noauth
api_v2_enabled = true
enabled_provider_drivers = noop_driver:The noop provider driver
default_provider_driver = noop_driver
[database]
connection = sqlite:///${state}/octavia.sqlite
[controller_worker]
network_driver = network_noop_driver
compute_driver = compute_noop_driver
amphora_driver = amphora_noop_driver
loadbalancer_topology = SINGLE
[oslo_messaging]
topic = octavia_prov
[driver_agent]
status_socket_path = ${state}/status.sock
stats_socket_path = ${state}/stats.sock
get_socket_path = ${state}/get.sock
`;
}

async function startOctavia(state: string): Promise<{ url: string; child: ChildProcess; db: string }> {
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state, { recursive: true });
  const port = await freePort();
  const conf = join(state, 'octavia.conf');
  writeFileSync(conf, octaviaConf(state, port));
  const db = join(state, 'octavia.sqlite');
  await run(PY, ['-c', OCTAVIA_SCHEMA, `sqlite:///${db}`]);
  await run(PY, ['/usr/bin/octavia-db-manage', '--config-file', conf, 'stamp', 'head']);
  const log = join(state, 'api.log');
  const child = startServer([PY, '/usr/bin/octavia-api', '--config-file', conf, '--log-file', log], join(state, 'stdout.log'));
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/v2/lbaas/loadbalancers`, child, log);
  return { url, child, db };
}

// ---------------------------------------------------------------------------------------------
// Keystone

function keystoneConf(state: string): string {
  return `[DEFAULT]
debug = false
[database]
connection = sqlite:///${state}/keystone.sqlite
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = ${state}/fernet-keys
[fernet_receipts]
key_repository = ${state}/fernet-receipts
[credential]
key_repository = ${state}/credential-keys
`;
}

async function startKeystone(state: string): Promise<{ url: string; child: ChildProcess }> {
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state, { recursive: true });
  const port = await freePort();
  const conf = join(state, 'keystone.conf');
  writeFileSync(conf, keystoneConf(state));
  const url = `http://127.0.0.1:${port}`;
  const manage = (args: string[]) => run(PY, ['/usr/bin/keystone-manage', '--config-file', conf, ...args]);
  // db_sync prints an eventlet traceback at interpreter exit on bookworm; its exit code is 0.
  await manage(['db_sync']);
  await manage(['fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root']);
  await manage(['credential_setup', '--keystone-user', 'root', '--keystone-group', 'root']);
  await manage([
    'bootstrap',
    '--bootstrap-password', ADMIN_PASSWORD,
    '--bootstrap-admin-url', `${url}/v3`,
    '--bootstrap-public-url', `${url}/v3`,
    '--bootstrap-internal-url', `${url}/v3`,
    '--bootstrap-region-id', REGION,
  ]);
  // In rollback-journal mode a commit waits for every reader to finish, and keystone keeps read
  // transactions open across requests: the second write of a run failed with "database is locked".
  // WAL lets a commit proceed past readers.
  const sqlite = new Database(join(state, 'keystone.sqlite'));
  sqlite.pragma('journal_mode = WAL');
  sqlite.close();
  const log = join(state, 'keystone.log');
  const child = startServer([PY, '/usr/bin/keystone-wsgi-public', '--host', '127.0.0.1', '--port', String(port)], log, { OS_KEYSTONE_CONFIG_FILES: conf });
  await waitHttp(`${url}/v3`, child, log);
  return { url, child };
}

async function keystoneCall(url: string, token: string | null, method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; json: any }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { 'x-auth-token': token } : {}) },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`keystone ${method} ${path}: HTTP ${response.status} ${text}`);
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : null };
}

async function adminToken(url: string): Promise<{ token: string; userId: string }> {
  const r = await keystoneCall(url, null, 'POST', '/v3/auth/tokens', {
    auth: {
      identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } } },
      scope: { project: { name: 'admin', domain: { id: 'default' } } },
    },
  });
  return { token: r.headers.get('x-subject-token')!, userId: r.json.token.user.id };
}

/** The catalog entries lbtopo reads: network (Neutron) and load-balancer (Octavia), public and internal. */
async function registerEndpoints(url: string, token: string, neutronUrl: string, octaviaUrl: string): Promise<void> {
  for (const [type, name, endpoint] of [['network', 'neutron', neutronUrl], ['load-balancer', 'octavia', octaviaUrl]] as const) {
    const service = await keystoneCall(url, token, 'POST', '/v3/services', { service: { type, name, enabled: true } });
    for (const iface of ['public', 'internal']) {
      await keystoneCall(url, token, 'POST', '/v3/endpoints', { endpoint: { service_id: service.json.service.id, interface: iface, url: endpoint, region_id: REGION, enabled: true } });
    }
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Starts Keystone, Neutron and Octavia in parallel under `dir` and writes a clouds.yaml with a
 * cloud per auth type. `agentHosts`: hosts with a (database-only) live OVS agent.
 */
export async function startOpenStack(dir: string, agentHosts: readonly string[]): Promise<OpenStack> {
  const t0 = performance.now();
  mkdirSync(dir, { recursive: true });
  const started: ChildProcess[] = [];
  try {
    const [keystone, neutron, octavia] = await Promise.all([
      startKeystone(join(dir, 'keystone')).then((s) => (started.push(s.child), s)),
      startNeutron(join(dir, 'neutron'), agentHosts).then((s) => (started.push(s.child), s)),
      startOctavia(join(dir, 'octavia')).then((s) => (started.push(s.child), s)),
    ]);
    const admin = await adminToken(keystone.url);
    await registerEndpoints(keystone.url, admin.token, neutron.url, octavia.url);
    const appCred = await keystoneCall(keystone.url, admin.token, 'POST', `/v3/users/${admin.userId}/application_credentials`, {
      application_credential: { name: `lbtopo-${randomUUID().slice(0, 8)}`, description: 'lbtopo tests' },
    });
    const cloudsYaml = join(dir, 'clouds.yaml');
    writeFileSync(
      cloudsYaml,
      `clouds:
  lbtopo-password:
    auth:
      auth_url: ${keystone.url}/v3
      username: admin
      password: ${ADMIN_PASSWORD}
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: ${REGION}
    interface: internal
    identity_api_version: 3
  lbtopo-appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: ${keystone.url}/v3
      application_credential_id: ${appCred.json.application_credential.id}
      application_credential_secret: ${appCred.json.application_credential.secret}
    region_name: ${REGION}
  lbtopo-token:
    auth_type: token
    auth:
      auth_url: ${keystone.url}/v3
      token: ${admin.token}
      project_name: admin
      project_domain_name: Default
    region_name: ${REGION}
`,
    );
    return {
      dir,
      keystoneUrl: keystone.url,
      neutronUrl: neutron.url,
      octaviaUrl: octavia.url,
      neutronDb: neutron.db,
      octaviaDb: octavia.db,
      cloudsYaml,
      adminToken: admin.token,
      startMs: performance.now() - t0,
      pids: { keystone: keystone.child.pid!, neutron: neutron.child.pid!, octavia: octavia.child.pid! },
      stop: async () => {
        await Promise.all(started.map(stopServer));
      },
    };
  } catch (err) {
    await Promise.all(started.map(stopServer));
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Writes the APIs do not offer

/**
 * Gives a row a chosen id, with every column that references it (SQLite foreign keys are off, so
 * they are followed by hand from PRAGMA foreign_key_list). Octavia and Neutron choose their own
 * ids; the lab's objects already have theirs.
 */
export function renameId(dbFile: string, table: string, from: string, to: string): void {
  const db = openServerDb(dbFile);
  try {
    db.transaction(() => {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>;
      for (const { name } of tables) {
        const fks = db.prepare(`PRAGMA foreign_key_list("${name}")`).all() as Array<{ table: string; from: string; to: string | null }>;
        for (const fk of fks) {
          if (fk.table === table && (fk.to === 'id' || fk.to === null)) db.prepare(`UPDATE "${name}" SET "${fk.from}" = ? WHERE "${fk.from}" = ?`).run(to, from);
        }
      }
      const changed = db.prepare(`UPDATE "${table}" SET id = ? WHERE id = ?`).run(to, from).changes;
      if (changed !== 1) throw new Error(`renameId: ${table} ${from} not found`);
    }).immediate();
  } finally {
    db.close();
  }
}

/**
 * The servers' SQLite files as their own drivers open them: Python's sqlite3 leaves foreign keys
 * off, better-sqlite3 turns them on (which made a rename fail half-way through its references).
 */
function openServerDb(dbFile: string): Database.Database {
  const db = new Database(dbFile, { timeout: 10_000 });
  db.pragma('foreign_keys = OFF');
  return db;
}

/** Runs SQL on a server's live SQLite file. */
export function sql(dbFile: string, statement: string, ...params: unknown[]): number {
  const db = openServerDb(dbFile);
  try {
    return db.prepare(statement).run(...params).changes;
  } finally {
    db.close();
  }
}

/**
 * What a provider driver reports after a change (the noop provider reports nothing): PENDING_CREATE
 * and PENDING_UPDATE become ACTIVE (operating OFFLINE -> ONLINE), PENDING_DELETE children go and a
 * PENDING_DELETE load balancer becomes DELETED, which the API hides.
 */
export function settleOctavia(dbFile: string): void {
  const db = openServerDb(dbFile);
  const pd = "provisioning_status = 'PENDING_DELETE'";
  try {
    db.transaction(() => {
      for (const t of ['load_balancer', 'listener', 'pool', 'member', 'health_monitor', 'l7policy', 'l7rule']) {
        db.exec(`UPDATE ${t} SET provisioning_status = 'ACTIVE' WHERE provisioning_status IN ('PENDING_CREATE', 'PENDING_UPDATE')`);
        db.exec(`UPDATE ${t} SET operating_status = 'ONLINE' WHERE operating_status = 'OFFLINE' AND provisioning_status = 'ACTIVE'`);
      }
      for (const t of ['listener', 'pool']) {
        db.exec(`UPDATE ${t} SET ${pd} WHERE load_balancer_id IN (SELECT id FROM load_balancer WHERE provisioning_status IN ('PENDING_DELETE', 'DELETED'))`);
      }
      db.exec(`DELETE FROM l7rule WHERE ${pd} OR l7policy_id IN (SELECT id FROM l7policy WHERE ${pd} OR listener_id IN (SELECT id FROM listener WHERE ${pd}))`);
      db.exec(`DELETE FROM l7policy WHERE ${pd} OR listener_id IN (SELECT id FROM listener WHERE ${pd})`);
      for (const t of ['sni', 'listener_cidr']) db.exec(`DELETE FROM ${t} WHERE listener_id IN (SELECT id FROM listener WHERE ${pd})`);
      for (const t of ['member', 'health_monitor']) db.exec(`DELETE FROM ${t} WHERE ${pd} OR pool_id IN (SELECT id FROM pool WHERE ${pd})`);
      db.exec(`DELETE FROM session_persistence WHERE pool_id IN (SELECT id FROM pool WHERE ${pd})`);
      db.exec(`DELETE FROM listener WHERE ${pd}`);
      db.exec(`UPDATE listener SET default_pool_id = NULL WHERE default_pool_id IN (SELECT id FROM pool WHERE ${pd})`);
      db.exec(`DELETE FROM pool WHERE ${pd}`);
      db.exec(`UPDATE load_balancer SET provisioning_status = 'DELETED' WHERE ${pd}`);
    }).immediate();
  } finally {
    db.close();
  }
}

/** A JSON call to Neutron or Octavia (noauth: an admin context when no project header is sent). */
export async function api(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${base}${path}: HTTP ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
