// haproxy as neutron-lbaas runs it: configs in the driver's exact v1 (tab) and v2 (four-space)
// forms (host-facts.md 1.2 and 1.3) and in an Octavia amphora's form (2.1), `ip netns exec
// qlbaas-… haproxy -f CONF -p PID` (amphora-haproxy for Octavia) in daemon mode, and the stats
// socket read with `show stat`. Health checks are fast (inter 1s, fall 2, rise 1) so member states
// settle within seconds.
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { run, waitFor } from './exec.ts';
import { identify, readPidFile, type ProcessIdentity } from './proc.ts';

export interface HaproxyMemberConfig {
  id: string;
  address: string;
  port: number;
}

export interface HaproxyPoolConfig {
  frontendId: string;
  poolId: string;
  vip: string;
  protocolPort: number;
  socketPath: string;
  members: HaproxyMemberConfig[];
}

/** The syslog lines neutron writes; haproxy starts fine without /dev/log (logs are just dropped). */
const keepLogLines = true;

function serverLine(member: HaproxyMemberConfig): string {
  return `server ${member.id} ${member.address}:${member.port} weight 1 check inter 1s fall 2 rise 1`;
}

/** neutron-lbaas v1 (cfg.py): tab indentation, no blank lines, frontend = vip id, backend = pool id. */
export function v1Config(pool: HaproxyPoolConfig): string {
  const lines = [
    'global',
    '\tdaemon',
    '\tuser nobody',
    '\tgroup nogroup',
    ...(keepLogLines ? ['\tlog /dev/log local0', '\tlog /dev/log local1 notice'] : []),
    `\tstats socket ${pool.socketPath} mode 0666 level user`,
    'defaults',
    '\tlog global',
    '\tretries 3',
    '\toption redispatch',
    '\ttimeout connect 5000',
    '\ttimeout client 50000',
    '\ttimeout server 50000',
    `frontend ${pool.frontendId}`,
    '\toption tcplog',
    `\tbind ${pool.vip}:${pool.protocolPort}`,
    '\tmode http',
    `\tdefault_backend ${pool.poolId}`,
    '\toption forwardfor',
    `backend ${pool.poolId}`,
    '\tmode http',
    '\tbalance roundrobin',
    '\toption forwardfor',
    '\ttimeout check 1s',
    '\toption httpchk GET /',
    '\thttp-check expect rstatus 200',
    ...pool.members.map((member) => `\t${serverLine(member)}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** neutron-lbaas v2 (stein templates): first line names the LB, four spaces, blank line between sections. */
export function v2Config(pool: HaproxyPoolConfig & { loadBalancerId: string }): string {
  const lines = [
    `# Configuration for ${pool.loadBalancerId}`,
    'global',
    '    daemon',
    '    user nobody',
    '    group nogroup',
    ...(keepLogLines ? ['    log /dev/log local0 debug alert', '    log /dev/log local1 notice alert'] : []),
    '    maxconn 2000',
    `    stats socket ${pool.socketPath} mode 0666 level user`,
    '',
    'defaults',
    '    log global',
    '    retries 3',
    '    option redispatch',
    '    timeout connect 5000',
    '    timeout client 50000',
    '    timeout server 50000',
    '',
    `frontend ${pool.frontendId}`,
    '    option httplog',
    '    maxconn 2000',
    '    option forwardfor',
    `    bind ${pool.vip}:${pool.protocolPort}`,
    '    mode http',
    `    default_backend ${pool.poolId}`,
    '',
    `backend ${pool.poolId}`,
    '    mode http',
    '    balance roundrobin',
    '    timeout check 1s',
    '    option httpchk GET /',
    '    http-check expect rstatus 200',
    ...pool.members.map((member) => `    ${serverLine(member)}`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Octavia's combined-listeners haproxy.cfg (openstack/octavia@HEAD
 * octavia/common/jinja/haproxy/combined_listeners/templates/{base,macros}.j2, host-facts.md 2.1),
 * for a SINGLE-topology load balancer with one HTTP listener and one pool: the first line names the
 * load balancer, four spaces, frontend = listener id, backend = `<pool_id>:<listener_id>`, timeouts
 * in the frontend and backend rather than defaults. `global` has `user nobody` but no `group`: the
 * amphora agent passes that in a second `-f` snippet, which the lab leaves out (haproxy keeps gid 0).
 */
/**
 * Octavia writes 50000 (its default connection limit) in global, frontend and backend; haproxy then
 * wants an fd limit above 100000, more than this machine allows (20000), so the lab writes 2000
 * like its v2 configs.
 */
const OCTAVIA_MAXCONN = 2000;

export function octaviaConfig(pool: HaproxyPoolConfig & { loadBalancerId: string }): string {
  const backend = `${pool.poolId}:${pool.frontendId}`;
  const lines = [
    `# Configuration for loadbalancer ${pool.loadBalancerId}`,
    'global',
    '    daemon',
    '    user nobody',
    ...(keepLogLines ? ['    log /dev/log local0', '    log /dev/log local1 notice'] : []),
    `    stats socket ${pool.socketPath} mode 0666 level user`,
    `    maxconn ${OCTAVIA_MAXCONN}`,
    '',
    'defaults',
    '    log global',
    '    retries 3',
    '    option redispatch',
    '    option splice-request',
    '    option splice-response',
    '    option http-keep-alive',
    '',
    `frontend ${pool.frontendId}`,
    `    maxconn ${OCTAVIA_MAXCONN}`,
    `    bind ${pool.vip}:${pool.protocolPort}`,
    '    mode http',
    `    default_backend ${backend}`,
    '    timeout client 50000',
    '',
    `backend ${backend}`,
    '    mode http',
    '    balance roundrobin',
    '    timeout check 1s',
    '    option httpchk GET /',
    '    http-check expect rstatus 200',
    `    fullconn ${OCTAVIA_MAXCONN}`,
    '    option allbackups',
    '    timeout connect 5000',
    '    timeout server 50000',
    ...pool.members.map((member) => `    ${serverLine(member)}`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * `ip netns exec NS haproxy -f CONF -p PIDFILE`, exactly as the neutron driver spawns it. The
 * daemon writes its pid file before the foreground process exits; returns the daemon's identity.
 */
export async function startHaproxy(namespace: string, configPath: string, pidPath: string): Promise<ProcessIdentity> {
  const before = existsSync(pidPath) ? readFileSync(pidPath, 'utf8') : null;
  await run(['ip', 'netns', 'exec', namespace, 'haproxy', '-f', configPath, '-p', pidPath], { timeoutMs: 30_000 });
  return waitFor(`haproxy pid in ${pidPath}`, 5000, () => {
    if (before !== null && readFileSync(pidPath, 'utf8') === before) return undefined;
    const pid = readPidFile(pidPath);
    return pid === null ? undefined : (identify(pid) ?? undefined);
  });
}

export type StatRow = Record<string, string>;

/** Sends one command to a stats socket and reads until haproxy closes the connection. */
export function statsCommand(socketPath: string, command: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: socketPath });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${socketPath}: no answer to '${command}' within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(`${command}\n`)); // no half-close: haproxy answers one command, then closes
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** `show stat` parsed by header name (columns differ between haproxy versions). */
export function parseShowStat(csv: string): StatRow[] {
  const lines = csv.split('\n').filter((line) => line.trim().length > 0);
  const header = lines[0];
  if (!header || !header.startsWith('# ')) throw new Error(`not a show stat answer: ${csv.slice(0, 200)}`);
  const names = header.slice(2).split(',');
  return lines.slice(1).map((line) => {
    const cells = line.split(',');
    return Object.fromEntries(names.map((name, i) => [name, cells[i] ?? ''])) as StatRow;
  });
}

export async function showStat(socketPath: string, timeoutMs = 3000): Promise<StatRow[]> {
  return parseShowStat(await statsCommand(socketPath, 'show stat', timeoutMs));
}
