// An ACTIVE_STANDBY amphora pair in the lab: two amphora views, each a namespace with its VRRP/VIP
// NIC eth1 on the lab's br-int, Octavia's haproxy.cfg and haproxy binding the VIP (nonlocal bind,
// as the amphora image sets), Octavia's keepalived config, check script and haproxy check script
// (`haproxy-vrrp-check <socket>`, from python3-octavia), an amphora-agent.conf and an agent cert,
// and real keepalived doing unicast VRRP between the two eth1 addresses. VRRP, health checks and
// everything else stay on the lab network (10.77.0.0/16) inside lab namespaces.
//
// Two amphorae cannot both own `amphora-haproxy` in one /run/netns, so each gets its own
// namespace name (lbta-<lab>-<n>) and lbtopo is pointed at it with LBTOPO_AMPHORA_NAMESPACE, the
// way each real amphora's lbtopo would see its own amphora-haproxy. Each amphora has its own
// base path (LBTOPO_OCTAVIA_DIR) and agent config (LBTOPO_AMPHORA_AGENT_CONF): env(n) gives them.
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, sleep, waitFor } from './exec.ts';
import { octaviaConfig, showStat, startHaproxy } from './haproxy.ts';
import { addUnique } from './manifest.ts';
import { BRIDGE, vsctl, waitForRootDevices } from './ovs.ts';
import { LAB_GATEWAY, MEMBER_DOWN_ADDRESS, MEMBER_PORT, MEMBER_UP_ADDRESS, addPortArgs, neutronMac, plugLines, tapNameFor, type LabState, type PlannedPort } from './plan.ts';
import { identify, isAlive, readPidFile, signalIdentity, waitForExit, type ProcessIdentity } from './proc.ts';

/** Octavia's console script the haproxy check script runs (python3-octavia ships it). */
export const HAPROXY_VRRP_CHECK = '/usr/bin/haproxy-vrrp-check';
export const PAIR_VIP = '10.77.253.2';
const PAIR_VRRP_IPS = ['10.77.253.10', '10.77.253.11'] as const;
const LAB_CIDR = '10.77.0.0/16';
/** Octavia's MASTER and BACKUP priorities (constants.py ROLE_MASTER_PRIORITY / ROLE_BACKUP_PRIORITY). */
const PRIORITIES = [100, 90] as const;

export type AmphoraFault =
  | 'kill-keepalived'
  | 'kill-haproxy'
  | 'restart-haproxy'
  | 'policy-rule-removed'
  | 'loopback-down'
  | 'listener-count-mismatch'
  | 'hm-targets-invalid'
  | 'cert-expiring';

export const AMPHORA_FAULTS: readonly AmphoraFault[] = [
  'kill-keepalived', 'kill-haproxy', 'restart-haproxy', 'policy-rule-removed', 'loopback-down',
  'listener-count-mismatch', 'hm-targets-invalid', 'cert-expiring',
];

export interface LabAmphora {
  index: number;
  amphoraId: string;
  /** The role Octavia assigned (keepalived's initial state). */
  role: 'MASTER' | 'BACKUP';
  priority: number;
  namespace: string;
  /** The port on br-int; inside the namespace the device is eth1. */
  ovsPortName: string;
  mac: string;
  vrrpIp: string;
  octaviaDir: string;
  agentConfigPath: string;
  certDir: string;
  agentCertPath: string;
  configPath: string;
  pidPath: string;
  socketPath: string;
  keepalivedConfigPath: string;
  keepalivedPidPath: string;
  vrrpPidPath: string;
  checkPidPath: string;
  checkScriptPath: string;
  haproxyCheckScriptPath: string;
}

export interface LabAmphoraPair {
  loadBalancerId: string;
  listenerId: string;
  poolId: string;
  vip: string;
  virtualRouterId: number;
  /** vrrp_instance name: the LB id without dashes (Octavia's vrrp_group_name). */
  vrrpGroupName: string;
  members: Array<{ id: string; address: string; port: number; answering: boolean }>;
  amphorae: LabAmphora[];
}

export function planAmphoraPair(labId: string, labDir: string, macs: Set<string>): LabAmphoraPair {
  const loadBalancerId = randomUUID();
  const amphorae = PAIR_VRRP_IPS.map((vrrpIp, index): LabAmphora => {
    const base = join(labDir, `amphora-${index}`);
    const octaviaDir = join(base, 'octavia');
    const vrrpDir = join(octaviaDir, 'vrrp');
    const certDir = join(base, 'certs');
    return {
      index,
      amphoraId: randomUUID(),
      role: index === 0 ? 'MASTER' : 'BACKUP',
      priority: PRIORITIES[index]!,
      namespace: `lbta-${labId}-${index}`,
      ovsPortName: tapNameFor(randomUUID()),
      mac: neutronMac(macs),
      vrrpIp,
      octaviaDir,
      agentConfigPath: join(base, 'etc', 'amphora-agent.conf'),
      certDir,
      agentCertPath: join(base, 'etc', 'certs', 'server.pem'),
      configPath: join(octaviaDir, loadBalancerId, 'haproxy.cfg'),
      pidPath: join(octaviaDir, loadBalancerId, `${loadBalancerId}.pid`),
      socketPath: join(octaviaDir, `${loadBalancerId}.sock`),
      keepalivedConfigPath: join(vrrpDir, 'octavia-keepalived.conf'),
      keepalivedPidPath: join(vrrpDir, 'octavia-keepalived.pid'),
      vrrpPidPath: join(vrrpDir, 'octavia-keepalived.vrrp.pid'),
      checkPidPath: join(vrrpDir, 'octavia-keepalived.check.pid'),
      checkScriptPath: join(vrrpDir, 'check_script.sh'),
      haproxyCheckScriptPath: join(vrrpDir, 'check_scripts', 'haproxy_check_script.sh'),
    };
  });
  return {
    loadBalancerId,
    listenerId: randomUUID(),
    poolId: randomUUID(),
    vip: PAIR_VIP,
    virtualRouterId: 1,
    vrrpGroupName: loadBalancerId.replace(/-/g, ''),
    members: [
      { id: randomUUID(), address: MEMBER_UP_ADDRESS, port: MEMBER_PORT, answering: true },
      { id: randomUUID(), address: MEMBER_DOWN_ADDRESS, port: MEMBER_PORT, answering: false },
    ],
    amphorae,
  };
}

/** The port each amphora's eth1 is, as the lab plugs ports. */
export function amphoraPort(amp: LabAmphora): PlannedPort {
  return { name: amp.ovsPortName, device: 'eth1', namespace: amp.namespace, portId: randomUUID(), mac: amp.mac, address: amp.vrrpIp, gateway: LAB_GATEWAY };
}

/**
 * keepalived_base.template rendered as the controller renders it (jinja trim_blocks/lstrip_blocks)
 * for one IPv4 VIP with a gateway, except the check interval: 1 s here (Octavia's default
 * vrrp_check_interval is 5) so failovers in tests take seconds.
 */
export function keepalivedConfig(pair: LabAmphoraPair, amp: LabAmphora): string {
  const peers = pair.amphorae.filter((other) => other !== amp).map((other) => `        ${other.vrrpIp}\n`).join('');
  return `vrrp_script check_script {
    script ${amp.checkScriptPath}
    interval 1
    fall 2
    rise 2
}

vrrp_instance ${pair.vrrpGroupName} {
    state ${amp.role}
    interface eth1
    virtual_router_id ${pair.virtualRouterId}
    priority ${amp.priority}
    nopreempt
    accept
    garp_master_refresh 5
    garp_master_refresh_repeat 2
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass ${pair.loadBalancerId.replace(/-/g, '').slice(0, 8)}
    }

    unicast_src_ip ${amp.vrrpIp}
    unicast_peer {
${peers}    }

    virtual_ipaddress {
        ${pair.vip}
    }

    virtual_ipaddress_excluded {
    }

    virtual_routes {
        ${LAB_CIDR} dev eth1 src ${pair.vip} scope link table 1
        default via ${LAB_GATEWAY} dev eth1 onlink table 1
    }

    virtual_rules {
        from ${pair.vip}/32 table 1 priority 100
    }

    track_script {
        check_script
    }
}
`;
}

/** keepalived_check_script.conf.j2: runs every file in check_scripts/ and sums their exit codes. */
function checkScript(amp: LabAmphora): string {
  return `#!/bin/bash\n\nshopt -s nullglob\n\nstatus=0\nfor file in ${join(amp.octaviaDir, 'vrrp', 'check_scripts')}/*\ndo\n  echo "Running check script: " $file\n  bash $file\n  status=$(( $status + $? ))\ndone\nexit $status\n`;
}

/** amphora_agent_conf.template's keys that lbtopo reads, with the health manager on loopback. */
export function agentConfig(amp: LabAmphora, options: { controllerIpPortList?: string } = {}): string {
  return [
    '[DEFAULT]',
    'debug = False',
    '',
    '[haproxy_amphora]',
    `base_cert_dir = ${amp.certDir}`,
    `base_path = ${amp.octaviaDir}`,
    'bind_host = ::',
    'bind_port = 9443',
    'haproxy_cmd = /usr/sbin/haproxy',
    '',
    '[health_manager]',
    `controller_ip_port_list = ${options.controllerIpPortList ?? '127.0.0.1:5555'}`,
    'heartbeat_interval = 10',
    'heartbeat_key = insecure',
    '',
    '[amphora_agent]',
    `agent_server_ca = ${join(amp.agentCertPath, '..', 'client_ca.pem')}`,
    `agent_server_cert = ${amp.agentCertPath}`,
    `amphora_id = ${amp.amphoraId}`,
    'amphora_udp_driver = keepalived_lvs',
    '',
    '[controller_worker]',
    'loadbalancer_topology = ACTIVE_STANDBY',
    '',
  ].join('\n');
}

/** A self-signed certificate and its key in one PEM (as Octavia's listener PEMs are). */
export async function writeCertificate(path: string, commonName: string, days: number): Promise<void> {
  mkdirSync(join(path, '..'), { recursive: true });
  const key = `${path}.key`;
  await run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', `${path}.crt`, '-days', String(days), '-subj', `/CN=${commonName}`], { timeoutMs: 30_000 });
  writeFileSync(path, readFileSync(`${path}.crt`, 'utf8') + readFileSync(key, 'utf8'));
}

/** Builds the pair on the lab's running OVS: ports, namespaces, files, haproxy, keepalived. */
export async function buildAmphoraPair(state: LabState, pair: LabAmphoraPair): Promise<void> {
  if (!existsSync(HAPROXY_VRRP_CHECK)) {
    throw new Error(`${HAPROXY_VRRP_CHECK} is missing: the amphora pair's check script is Octavia's own; install python3-octavia (apt-get install -y --no-install-recommends python3-octavia)`);
  }
  const ports = pair.amphorae.map(amphoraPort);
  addUnique(state.manifest.namespaces, ...ports.map((p) => p.namespace));
  addUnique(state.manifest.ovsPorts, ...ports.map((p) => p.name));
  state.save();
  await vsctl(state.ovs, ports.flatMap((port) => addPortArgs(BRIDGE, port, state.networkId, 'internal')));
  await waitForRootDevices(ports.map((p) => p.name));
  await run(['ip', '-batch', '-'], { input: [...ports.map((p) => `netns add ${p.namespace}`), ...ports.map((p) => `link set dev ${p.name} netns ${p.namespace}`)].join('\n') + '\n' });
  for (const port of ports) {
    await run(['ip', '-n', port.namespace, '-batch', '-'], { input: plugLines(port).join('\n') + '\n' });
    // The amphora image's sysctl (20-haproxy-tune-kernel): haproxy binds the VIP on the BACKUP too.
    await run(['ip', 'netns', 'exec', port.namespace, 'sysctl', '-q', '-w', 'net.ipv4.ip_nonlocal_bind=1']);
  }

  for (const amp of pair.amphorae) {
    for (const dir of [join(amp.configPath, '..'), join(amp.haproxyCheckScriptPath, '..'), join(amp.agentConfigPath, '..'), amp.certDir]) mkdirSync(dir, { recursive: true });
    writeFileSync(amp.configPath, octaviaConfig({ frontendId: pair.listenerId, poolId: pair.poolId, vip: pair.vip, protocolPort: 80, socketPath: amp.socketPath, members: pair.members, loadBalancerId: pair.loadBalancerId }));
    writeFileSync(amp.keepalivedConfigPath, keepalivedConfig(pair, amp));
    writeFileSync(amp.checkScriptPath, checkScript(amp));
    chmodSync(amp.checkScriptPath, 0o755);
    // util.vrrp_check_script_update: `haproxy-vrrp-check <each LB socket>; exit $?`.
    writeFileSync(amp.haproxyCheckScriptPath, `haproxy-vrrp-check ${amp.socketPath}; exit $?`);
    writeFileSync(amp.agentConfigPath, agentConfig(amp));
    await writeCertificate(amp.agentCertPath, amp.amphoraId, 365);
  }
  for (const amp of pair.amphorae) await startAmphoraHaproxy(state, amp);
  await waitFor('the amphora pair haproxys to see their members', 20_000, async () => {
    for (const amp of pair.amphorae) {
      const rows = await showStat(amp.socketPath).catch(() => []);
      const up = rows.find((r) => r['svname'] === pair.members[0]!.id);
      const down = rows.find((r) => r['svname'] === pair.members[1]!.id);
      if (up?.['status'] !== 'UP' || !down?.['status']?.startsWith('DOWN')) return undefined;
    }
    return true;
  }, 200);
  // The MASTER first, so it wins the first election as Octavia's initial roles intend.
  for (const amp of pair.amphorae) {
    await startKeepalived(state, amp);
    if (amp.role === 'MASTER') await waitForVip(amp, true, 15_000);
  }
  const backup = pair.amphorae.find((a) => a.role === 'BACKUP')!;
  await sleep(1500); // a BACKUP that wrongly took the VIP would have done so by now
  await waitForVip(backup, false, 1000);
}

function record(state: LabState, role: 'haproxy' | 'keepalived', label: string, pidFile: string, namespace: string) {
  const existing = state.manifest.processes.find((p) => p.role === role && p.label === label);
  if (existing) return existing;
  const created = { role, label, pid: null, startTime: null, pidFile, namespace };
  state.manifest.processes.push(created);
  state.save();
  return created;
}

async function startAmphoraHaproxy(state: LabState, amp: LabAmphora): Promise<ProcessIdentity> {
  const rec = record(state, 'haproxy', `amphora-${amp.index}`, amp.pidPath, amp.namespace);
  const identity = await startHaproxy(amp.namespace, amp.configPath, amp.pidPath);
  Object.assign(rec, identity);
  state.save();
  return identity;
}

/** octavia-keepalived.service's ExecStart (the template's form with the vrrp and check pid files). */
export function keepalivedArgv(amp: LabAmphora): string[] {
  return ['ip', 'netns', 'exec', amp.namespace, 'keepalived', '--log-facility=1', '-f', amp.keepalivedConfigPath, '-p', amp.keepalivedPidPath, '-r', amp.vrrpPidPath, '-c', amp.checkPidPath];
}

async function startKeepalived(state: LabState, amp: LabAmphora): Promise<ProcessIdentity> {
  const rec = record(state, 'keepalived', `amphora-${amp.index}`, amp.keepalivedPidPath, amp.namespace);
  await run(keepalivedArgv(amp), { timeoutMs: 15_000 });
  const identity = await waitFor(`keepalived pid in ${amp.keepalivedPidPath}`, 5000, () => {
    const pid = readPidFile(amp.keepalivedPidPath);
    return pid === null ? undefined : (identify(pid) ?? undefined);
  });
  Object.assign(rec, identity);
  state.save();
  return identity;
}

async function hasVip(amp: LabAmphora): Promise<boolean> {
  const json = JSON.parse((await run(['ip', '-j', '-n', amp.namespace, 'addr', 'show', 'dev', 'eth1'])).stdout) as Array<{ addr_info?: Array<{ local: string }> }>;
  return json.some((link) => (link.addr_info ?? []).some((a) => a.local === PAIR_VIP));
}

export async function waitForVip(amp: LabAmphora, present: boolean, timeoutMs: number): Promise<void> {
  await waitFor(`${PAIR_VIP} ${present ? 'on' : 'off'} ${amp.namespace} eth1`, timeoutMs, async () => ((await hasVip(amp)) === present ? true : undefined), 100);
}

/** Whether the amphora holds the VIP now (what keepalived's MASTER has). */
export function amphoraHoldsVip(amp: LabAmphora): Promise<boolean> {
  return hasVip(amp);
}

function liveFromRecord(state: LabState, role: 'haproxy' | 'keepalived', amp: LabAmphora): ProcessIdentity | null {
  const rec = state.manifest.processes.find((p) => p.role === role && p.label === `amphora-${amp.index}`);
  if (!rec || rec.pid === null || rec.startTime === null) return null;
  const identity = { pid: rec.pid, startTime: rec.startTime };
  return isAlive(identity) ? identity : null;
}

async function kill(identity: ProcessIdentity | null, signal: NodeJS.Signals, what: string): Promise<void> {
  if (!identity) return;
  signalIdentity(identity, signal);
  if (!(await waitForExit(identity, 10_000))) throw new Error(`${what} (pid ${identity.pid}) did not exit`);
}

export async function injectAmphoraFault(state: LabState, pair: LabAmphoraPair, amp: LabAmphora, fault: AmphoraFault): Promise<void> {
  state.manifest.faults.push({ poolId: `amphora-${amp.index}`, fault, at: new Date().toISOString() });
  state.save();
  switch (fault) {
    // systemctl stop / a clean exit: keepalived drops its VIP, rules and routes and sends priority 0.
    case 'kill-keepalived':
      await kill(liveFromRecord(state, 'keepalived', amp), 'SIGTERM', `keepalived of ${amp.namespace}`);
      break;
    // As a crash would: the check script's haproxy-vrrp-check then fails on the dead socket.
    case 'kill-haproxy':
      await kill(liveFromRecord(state, 'haproxy', amp), 'SIGKILL', `haproxy of ${amp.namespace}`);
      break;
    case 'restart-haproxy':
      if (!liveFromRecord(state, 'haproxy', amp)) await startAmphoraHaproxy(state, amp);
      break;
    case 'policy-rule-removed':
      await run(['ip', '-n', amp.namespace, 'rule', 'del', 'from', `${pair.vip}/32`, 'table', '1', 'priority', '100']);
      break;
    case 'loopback-down':
      await run(['ip', '-n', amp.namespace, 'link', 'set', 'dev', 'lo', 'down']);
      break;
    // A second listener written to the config that the running haproxy never loaded.
    case 'listener-count-mismatch': {
      const extra = randomUUID();
      const text = readFileSync(amp.configPath, 'utf8');
      writeFileSync(amp.configPath, `${text}\nfrontend ${extra}\n    maxconn 2000\n    bind ${pair.vip}:8080\n    mode http\n    default_backend ${pair.poolId}:${pair.listenerId}\n    timeout client 50000\n`);
      break;
    }
    case 'hm-targets-invalid':
      writeFileSync(amp.agentConfigPath, agentConfig(amp, { controllerIpPortList: '' }));
      break;
    case 'cert-expiring':
      await writeCertificate(join(amp.certDir, pair.loadBalancerId, `${randomUUID()}.pem`), 'www.example.test', 2);
      break;
  }
  state.save();
}

export function amphoraEnv(amp: LabAmphora): Record<string, string> {
  return {
    LBTOPO_OCTAVIA_DIR: amp.octaviaDir,
    LBTOPO_AMPHORA_NAMESPACE: amp.namespace,
    LBTOPO_AMPHORA_AGENT_CONF: amp.agentConfigPath,
  };
}
