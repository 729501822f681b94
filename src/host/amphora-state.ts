// What an Octavia amphora keeps on disk besides haproxy's files (octavia-ovn-facts.md 1.1), read
// only: keepalived's VRRP config, pid file and check scripts (ACTIVE_STANDBY), the amphora agent's
// config (amphora id, topology, health-manager targets), the agent's TLS certificate and the
// listeners' PEMs, and the LVS configs of UDP/SCTP listeners. Files only: no process is spawned.
//   <base>/vrrp/octavia-keepalived.conf, .pid, check_script.sh, check_scripts/*
//   <base>/lvs/octavia-keepalivedlvs-<listener_id>.conf, .pid
//   /etc/octavia/amphora-agent.conf
//   [amphora_agent] agent_server_cert (default /etc/octavia/certs/server.pem)
//   [haproxy_amphora] base_cert_dir (default /var/lib/octavia/certs) /<lb_id>/*.pem
import { X509Certificate } from 'node:crypto';
import { open, readdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { DiscoveryError, toDiscoveryError } from './errors.ts';
import { parseKeepalivedConfig } from './keepalived-config.ts';
import type { KeepalivedConfig } from './keepalived-config.ts';
import { readPidFile } from './lbaas-state.ts';
import { isUuid } from './names.ts';

export const DEFAULT_AGENT_CONFIG = '/etc/octavia/amphora-agent.conf';
export const DEFAULT_AGENT_CERT = '/etc/octavia/certs/server.pem';
export const DEFAULT_BASE_CERT_DIR = '/var/lib/octavia/certs';
/** Octavia's own files are small; anything larger is not one of them. */
const MAX_FILE_BYTES = 1024 * 1024;

export interface KeepalivedFiles {
  configPath: string;
  config: KeepalivedConfig | null;
  configError: string | null;
  pidPath: string;
  /** The pid in the pid file ([] when it is missing). */
  pids: number[];
  pidError: string | null;
  checkScriptPath: string;
  /** The scripts check_script.sh runs, with their text (haproxy_check_script.sh: `haproxy-vrrp-check <sockets>; exit $?`). */
  checkScripts: Array<{ path: string; text: string }>;
}

export interface HealthManagerTarget {
  raw: string;
  host: string | null;
  port: number | null;
  /** Why it is not a usable ip:port (what the health sender would fail on), or null. */
  error: string | null;
}

export interface AgentConfig {
  path: string;
  amphoraId: string | null;
  /** [controller_worker] loadbalancer_topology: SINGLE or ACTIVE_STANDBY. */
  topology: string | null;
  /** The raw [health_manager] controller_ip_port_list value; null when the key is absent. */
  controllerIpPortList: string | null;
  targets: HealthManagerTarget[];
  heartbeatIntervalSeconds: number | null;
  agentServerCert: string;
  baseCertDir: string;
}

export interface CertificateFile {
  path: string;
  /** agent: the amphora agent's server cert; listener: a TLS listener PEM. */
  kind: 'agent' | 'listener';
  loadBalancerId: string | null;
  subject: string | null;
  /** Epoch ms of notAfter; null when the file holds no readable certificate (error says why). */
  notAfter: number | null;
  error: string | null;
}

export interface LvsListenerFiles {
  listenerId: string;
  configPath: string;
  config: KeepalivedConfig | null;
  configError: string | null;
  pidPath: string;
  pids: number[];
}

export interface AmphoraState {
  octaviaDir: string;
  /** The namespace haproxy and keepalived run in (amphora-haproxy on a real amphora). */
  namespace: string;
  /** null: no keepalived config, so not ACTIVE_STANDBY (SINGLE). */
  keepalived: KeepalivedFiles | null;
  /** null when the agent config does not exist (not an amphora, or not readable: agentError). */
  agent: AgentConfig | null;
  agentError: string | null;
  certificates: CertificateFile[];
  lvs: LvsListenerFiles[];
}

export interface AmphoraPaths {
  octaviaDir: string;
  namespace: string;
  agentConfigPath: string;
}

/** A small file's text; null when it does not exist. Larger than MAX_FILE_BYTES is an error, not a truncation. */
async function readSmallFile(path: string): Promise<string | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw toDiscoveryError(error, path);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new DiscoveryError('io', path, 'not a regular file');
    if (info.size > MAX_FILE_BYTES) throw new DiscoveryError('io', path, `larger than ${MAX_FILE_BYTES} bytes`);
    const buffer = Buffer.alloc(MAX_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_FILE_BYTES) throw new DiscoveryError('io', path, `larger than ${MAX_FILE_BYTES} bytes`);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } catch (error) {
    throw toDiscoveryError(error, path);
  } finally {
    await handle.close();
  }
}

async function listNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw toDiscoveryError(error, dir);
  }
}

/** oslo.config INI: `[section]`, `key = value`, `#`/`;` comments. Later keys win, as in oslo. */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | null = null;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      const name = header[1]!.trim();
      current = sections.get(name) ?? new Map();
      sections.set(name, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq === -1 || !current) continue;
    current.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return sections;
}

/**
 * One controller_ip_port_list entry as the health sender splits it (`ip, port = s.rsplit(':', 1)`,
 * health_daemon/health_sender.py): an IPv4 or IPv6 address (brackets allowed) and a port.
 */
export function parseHealthManagerTarget(raw: string): HealthManagerTarget {
  const colon = raw.lastIndexOf(':');
  if (colon <= 0) return { raw, host: null, port: null, error: 'no ":port"' };
  const host = raw.slice(0, colon).replace(/^\[|\]$/g, '');
  const portText = raw.slice(colon + 1);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (isIP(host) === 0) return { raw, host, port: Number.isNaN(port) ? null : port, error: `"${host}" is not an IP address` };
  if (!(port >= 1 && port <= 65535)) return { raw, host, port: null, error: `"${portText}" is not a port` };
  return { raw, host, port, error: null };
}

export function parseAgentConfig(text: string, path: string): AgentConfig {
  const ini = parseIni(text);
  const get = (section: string, key: string) => ini.get(section)?.get(key) ?? null;
  const list = get('health_manager', 'controller_ip_port_list');
  const interval = get('health_manager', 'heartbeat_interval');
  return {
    path,
    amphoraId: get('amphora_agent', 'amphora_id'),
    topology: get('controller_worker', 'loadbalancer_topology'),
    controllerIpPortList: list,
    targets: list === null ? [] : list.split(',').map((s) => s.trim()).filter((s) => s !== '').map(parseHealthManagerTarget),
    heartbeatIntervalSeconds: interval !== null && /^\d+$/.test(interval) ? Number(interval) : null,
    agentServerCert: get('amphora_agent', 'agent_server_cert') ?? DEFAULT_AGENT_CERT,
    baseCertDir: get('haproxy_amphora', 'base_cert_dir') ?? DEFAULT_BASE_CERT_DIR,
  };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/** The first certificate of a PEM (a listener PEM holds the cert, its chain and the key). */
export function readCertificate(text: string): { subject: string; notAfter: number } {
  const block = PEM_CERT.exec(text);
  if (!block) throw new Error('no certificate in the file');
  const cert = new X509Certificate(block[0]);
  return { subject: cert.subject.replace(/\n/g, ', '), notAfter: Date.parse(cert.validTo) };
}

async function certificateFile(path: string, kind: CertificateFile['kind'], loadBalancerId: string | null): Promise<CertificateFile | null> {
  try {
    const text = await readSmallFile(path);
    if (text === null) return null;
    const { subject, notAfter } = readCertificate(text);
    return { path, kind, loadBalancerId, subject, notAfter, error: null };
  } catch (error) {
    return { path, kind, loadBalancerId, subject: null, notAfter: null, error: (error as Error).message };
  }
}

async function readKeepalived(octaviaDir: string): Promise<KeepalivedFiles | null> {
  const vrrpDir = join(octaviaDir, 'vrrp');
  const configPath = join(vrrpDir, 'octavia-keepalived.conf');
  const pidPath = join(vrrpDir, 'octavia-keepalived.pid');
  let text: string | null;
  let configError: string | null = null;
  try {
    text = await readSmallFile(configPath);
  } catch (error) {
    text = '';
    configError = (error as Error).message;
  }
  if (text === null) return null;
  let config: KeepalivedConfig | null = null;
  if (configError === null) {
    try {
      config = parseKeepalivedConfig(text, { source: configPath });
    } catch (error) {
      configError = (error as Error).message;
    }
  }
  const pidRead = await readPidFile(pidPath).then((pids) => ({ pids, error: null }), (error: Error) => ({ pids: [] as number[], error: error.message }));
  const checkScriptsDir = join(vrrpDir, 'check_scripts');
  const checkScripts: Array<{ path: string; text: string }> = [];
  for (const name of await listNames(checkScriptsDir)) {
    const path = join(checkScriptsDir, name);
    const script = await readSmallFile(path).catch(() => null);
    if (script !== null) checkScripts.push({ path, text: script });
  }
  return { configPath, config, configError, pidPath, pids: pidRead.pids, pidError: pidRead.error, checkScriptPath: join(vrrpDir, 'check_script.sh'), checkScripts };
}

async function readLvs(octaviaDir: string): Promise<LvsListenerFiles[]> {
  const lvsDir = join(octaviaDir, 'lvs');
  const out: LvsListenerFiles[] = [];
  for (const name of await listNames(lvsDir)) {
    const m = /^octavia-keepalivedlvs-(.+)\.conf$/.exec(name);
    if (!m || !isUuid(m[1]!)) continue;
    const configPath = join(lvsDir, name);
    const pidPath = join(lvsDir, `octavia-keepalivedlvs-${m[1]}.pid`);
    let config: KeepalivedConfig | null = null;
    let configError: string | null = null;
    try {
      config = parseKeepalivedConfig((await readSmallFile(configPath)) ?? '', { source: configPath });
    } catch (error) {
      configError = (error as Error).message;
    }
    out.push({ listenerId: m[1]!, configPath, config, configError, pidPath, pids: await readPidFile(pidPath).catch(() => []) });
  }
  return out;
}

/** Everything above, for one amphora base path. Missing files are absences, not errors. */
export async function readAmphoraState(paths: AmphoraPaths): Promise<AmphoraState> {
  const [keepalived, agentRead, lvs] = await Promise.all([
    readKeepalived(paths.octaviaDir),
    readSmallFile(paths.agentConfigPath).then(
      (text) => ({ agent: text === null ? null : parseAgentConfig(text, paths.agentConfigPath), error: null }),
      (error: Error) => ({ agent: null, error: error.message }),
    ),
    readLvs(paths.octaviaDir),
  ]);
  const agent = agentRead.agent;
  const certificates: CertificateFile[] = [];
  // Certificates are looked for only on an amphora (its agent config exists): elsewhere
  // /etc/octavia/certs may be a controller's, which is not ours to judge.
  if (agent) {
    const agentCert = await certificateFile(agent.agentServerCert, 'agent', null);
    if (agentCert) certificates.push(agentCert);
    for (const lbId of await listNames(agent.baseCertDir)) {
      if (!isUuid(lbId)) continue;
      for (const name of await listNames(join(agent.baseCertDir, lbId))) {
        if (!name.endsWith('.pem')) continue;
        const cert = await certificateFile(join(agent.baseCertDir, lbId, name), 'listener', lbId);
        if (cert) certificates.push(cert);
      }
    }
  }
  return { octaviaDir: paths.octaviaDir, namespace: paths.namespace, keepalived, agent, agentError: agentRead.error, certificates, lvs };
}
