// Rules for Octavia amphorae: pure functions of DiagnosisFacts, no I/O (see rules.ts).
//
// They know the amphora's role (topology/amphora.ts). On an amphora the VIP interface is the VRRP
// interface (eth1, whatever its device type), not a device found by the VIP address or a tap
// name: a BACKUP has no VIP at all. So, by role:
//   SINGLE, MASTER  the VIP addresses, a default route and the VIP's policy routing must be there
//                   (VIP_ADDRESS_MISSING, NO_DEFAULT_ROUTE, POLICY_ROUTE_MISSING);
//   BACKUP          none of them: their absence is what BACKUP means;
//   FAULT           keepalived is down (KEEPALIVED_DOWN says so) or mid-transition: no address rule;
//   UNKNOWN         what decides the role could not be read: the gap is reported, nothing guessed.
// The VRRP interface missing or down, and lo down, are faults in every role.
import type { NamespaceNetwork } from '../host/iproute.ts';
import { isSourceRule } from '../host/ip-rules.ts';
import type { PoolRecord } from '../topology/pools.ts';
import { haproxyProcessesOf, liveHaproxyOf, vipOf } from '../topology/pools.ts';
import { AMPHORA_POLICY_TABLE, amphoraVipInterfaceName, liveKeepalivedOf, vrrpViewOf } from '../topology/amphora.ts';
import type { VrrpView } from '../topology/amphora.ts';
import { isInternalProxy } from '../topology/octavia-status.ts';
import { makeProblem } from './codes.ts';
import type { Problem } from './codes.ts';
import type { DiagnosisFacts } from './facts.ts';
import { hasDefaultRoute, interfaceIsDown } from './rules.ts';

/** HAPROXY_RESTARTING: this many haproxy starts on one config ... */
export const RESTART_COUNT = 3;
/** ... within this window. */
export const RESTART_WINDOW_MS = 10 * 60_000;
const DAY_MS = 86_400_000;

const iso = (ms: number) => new Date(ms).toISOString();

function label(pool: PoolRecord): string {
  return `Pool ${pool.id} (load balancer ${pool.loadBalancerId})`;
}

/** The amphora's role as the facts show it, for the pool's namespace. */
export function roleOf(pool: PoolRecord, facts: DiagnosisFacts): VrrpView {
  const network = facts.networks.get(pool.namespaceName) ?? null;
  const rules = facts.rules.get(pool.namespaceName) ?? null;
  return vrrpViewOf(facts.amphora, facts.processes, network, rules);
}

/** The VIP's policy routing Octavia installs: `from VIP/32 lookup 1` and, with a gateway, table 1's default. */
function policyRoutingGaps(pool: PoolRecord, view: VrrpView, net: NamespaceNetwork, rules: NonNullable<ReturnType<DiagnosisFacts['rules']['get']>>): string[] {
  if (view.role === 'MASTER' && view.instance) {
    // keepalived's config says exactly what it installs on MASTER.
    return [...(view.evidence.rulesMissing ?? []).map((r) => `rule "${r.raw}"`), ...(view.evidence.defaultRoutesMissing ?? []).map((r) => `route "${r.raw}"`)];
  }
  // SINGLE: amphora-interface writes the rule, and table 1's default when the subnet has a gateway
  // (interface_file.py): the main table's default tells whether there is one.
  const vip = vipOf(pool);
  if (!vip) return [];
  const gaps: string[] = [];
  if (!rules.some((r) => isSourceRule(r, vip.address, AMPHORA_POLICY_TABLE))) gaps.push(`rule "from ${vip.address} lookup ${AMPHORA_POLICY_TABLE}"`);
  const family = vip.address.includes(':') ? 'inet6' : 'inet';
  const mainDefault = net.routes.find((r) => r.destination === 'default' && r.family === family && r.table === 'main');
  const tableDefault = net.routes.some((r) => r.destination === 'default' && r.family === family && r.table === AMPHORA_POLICY_TABLE);
  if (mainDefault && !tableDefault) gaps.push(`route "default via ${mainDefault.gateway ?? '<gateway>'} table ${AMPHORA_POLICY_TABLE}"`);
  return gaps;
}

/** The network rules of an amphora pool, in place of rules.ts networkRules. */
export function amphoraNetworkRules(pool: PoolRecord, facts: DiagnosisFacts): Problem[] {
  const net = facts.networks.get(pool.namespaceName);
  if (!net) return [];
  const ns = pool.namespaceName;
  const base = { poolId: pool.id, namespace: ns };
  const out: Problem[] = [];
  const lo = net.interfaces.find((i) => i.name === 'lo');
  if (lo && !lo.flags.includes('UP')) {
    out.push(makeProblem('LOOPBACK_DOWN', `${label(pool)}: lo is down in ${ns}: old haproxy workers cannot finish after a reload and linger, and memory grows. Bring it up: ip -n ${ns} link set lo up.`, { ...base, interfaceName: 'lo' }));
  }
  const ifname = amphoraVipInterfaceName(facts.amphora);
  const iface = net.interfaces.find((i) => i.name === ifname);
  if (!iface) {
    const present = net.interfaces.map((i) => i.name).join(', ') || 'none';
    out.push(
      makeProblem(
        'VIP_INTERFACE_MISSING',
        `${label(pool)}: the amphora's VIP/VRRP interface ${ifname} is not in ${ns} (devices: ${present}): nothing carries the VIP. ` +
          `Check that amphora-netns moved the plugged NIC into the namespace (/var/lib/octavia/plugged_interfaces), or fail the amphora over.`,
        base,
      ),
    );
    return out;
  }
  const onIface = { ...base, interfaceName: iface.name };
  const { adminDown, noCarrier } = interfaceIsDown(iface);
  if (adminDown || noCarrier) {
    out.push(
      makeProblem(
        'INTERFACE_DOWN',
        `${label(pool)}: VIP/VRRP interface ${iface.name} in ${ns} is down (operState ${iface.operState}, flags ${iface.flags.join(',') || 'none'}). ` +
          (adminDown ? `Bring it up: ip -n ${ns} link set ${iface.name} up (amphora-interface up ${iface.name}).` : 'It has no carrier: check the amphora NIC.'),
        onIface,
      ),
    );
  }

  const view = roleOf(pool, facts);
  if (view.role !== 'SINGLE' && view.role !== 'MASTER') return out; // BACKUP: absent is normal; FAULT/UNKNOWN: said elsewhere
  const roleText = view.role === 'MASTER' ? 'the VRRP MASTER' : 'a SINGLE amphora';

  const seen = new Set<string>();
  for (const f of pool.frontends) {
    for (const b of f.binds) {
      if ((b.family !== 'ipv4' && b.family !== 'ipv6') || b.address === '0.0.0.0' || b.address === '::' || seen.has(b.address)) continue;
      seen.add(b.address);
      if (net.interfaces.some((i) => i.addresses.some((a) => a.address === b.address))) continue;
      out.push(
        makeProblem(
          'VIP_ADDRESS_MISSING',
          `${label(pool)}: haproxy binds ${b.raw} (listener ${f.name}) but no interface in ${ns} has ${b.address}, though this is ${roleText}: clients get no answer on it. ` +
            (view.role === 'MASTER' ? `Restart keepalived (systemctl restart octavia-keepalived) so it re-adds its virtual_ipaddress.` : `Re-plug the VIP: amphora-interface up ${iface.name}.`),
          onIface,
        ),
      );
    }
  }
  const vip = vipOf(pool);
  const family = vip?.address.includes(':') ? 'inet6' : 'inet';
  if (!hasDefaultRoute(net, family)) {
    out.push(
      makeProblem(
        'NO_DEFAULT_ROUTE',
        `${label(pool)}: namespace ${ns} of ${roleText} has no ${family === 'inet6' ? 'IPv6' : 'IPv4'} default route: replies to clients outside the VIP's subnet are lost. Re-plug it: amphora-interface up ${iface.name}.`,
        onIface,
      ),
    );
  }
  const rules = facts.rules.get(ns);
  if (rules) {
    const gaps = policyRoutingGaps(pool, view, net, rules);
    if (gaps.length > 0) {
      const fix = view.role === 'MASTER'
        ? `keepalived adds them when it becomes MASTER: restart it (systemctl restart octavia-keepalived), or add them back: ip -n ${ns} rule add from <VIP>/32 table 1 priority 100.`
        : `amphora-interface adds them: amphora-interface up ${iface.name}.`;
      out.push(
        makeProblem(
          'POLICY_ROUTE_MISSING',
          `${label(pool)}: ${roleText} lacks its VIP policy routing (${gaps.join(', ')} missing in ${ns}): replies from ${vip?.address ?? 'the VIP'} to clients outside its subnet take the main table and are lost. ${fix}`,
          onIface,
        ),
      );
    }
  }
  return out;
}

export function keepalivedRules(pool: PoolRecord, facts: DiagnosisFacts): Problem[] {
  const files = facts.amphora?.keepalived;
  if (!files || !facts.processes) return [];
  if (liveKeepalivedOf(files, facts.processes)) return [];
  const pidNote = files.pids.length > 0 ? ` (pid file ${files.pidPath} still names ${files.pids.join(', ')})` : ` (no pid file ${files.pidPath})`;
  const ns = facts.amphora!.namespace;
  return [
    makeProblem(
      'KEEPALIVED_DOWN',
      `${label(pool)}: ${files.configPath} is present but keepalived does not run${pidNote}. The VIP cannot move, and the health sender skips every heartbeat ("Keepalived is configured but not running"), so Octavia fails this amphora over within about 60 s. ` +
        `Start it: systemctl start octavia-keepalived (ip netns exec ${ns} keepalived -f ${files.configPath} -p ${files.pidPath}).`,
      { poolId: pool.id, namespace: ns, file: files.configPath },
    ),
  ];
}

export function listenerCountRules(pool: PoolRecord, facts: DiagnosisFacts): Problem[] {
  const config = pool.deployment.config;
  const answer = facts.stats.get(pool.deployment.socketPath);
  if (!config || !answer || !answer.reachable || !facts.processes || !liveHaproxyOf(pool, facts.processes)) return [];
  const configured = config.frontends.filter((f) => !isInternalProxy(f.name) && !f.disabled).map((f) => f.name);
  const reported = [...new Set(answer.rows.filter((r) => r.type === 'frontend' && !isInternalProxy(r.pxname)).map((r) => r.pxname))];
  if (configured.length === reported.length) return [];
  const missing = configured.filter((n) => !reported.includes(n));
  const extra = reported.filter((n) => !configured.includes(n));
  return [
    makeProblem(
      'LISTENER_COUNT_MISMATCH',
      `${label(pool)}: ${pool.deployment.configPath} has ${configured.length} listener(s) but haproxy reports ${reported.length} FRONTEND row(s)` +
        `${missing.length ? ` (not running: ${missing.join(', ')})` : ''}${extra.length ? ` (not in the config: ${extra.join(', ')})` : ''}: the health manager ignores heartbeats whose listener count differs from the enabled listeners, and fails the amphora over. ` +
        `haproxy runs another config than the file: reload it (systemctl reload haproxy-${pool.loadBalancerId}).`,
      { poolId: pool.id, namespace: pool.namespaceName, file: pool.deployment.configPath },
    ),
  ];
}

/**
 * The haproxy (re)starts on the pool's config within the window: each change of its oldest process
 * (the master with -Ws, the daemon otherwise). A reload keeps the master (USR2) and only replaces
 * workers, so reloads do not count; a crash or a kill followed by Restart=always does.
 */
export function recentHaproxyStarts(pool: PoolRecord, facts: DiagnosisFacts): Array<{ pid: number; startedAt: number }> {
  const since = facts.now - RESTART_WINDOW_MS;
  const starts = new Map<string, { pid: number; startedAt: number }>();
  const oldest = (list: ReadonlyArray<{ pid: number; startedAt: number }>) => [...list].sort((a, b) => a.startedAt - b.startedAt || a.pid - b.pid)[0];
  const add = (s: { pid: number; startedAt: number } | undefined) => {
    if (s && s.startedAt >= since) starts.set(`${s.pid}@${s.startedAt}`, { pid: s.pid, startedAt: s.startedAt });
  };
  for (const period of facts.haproxyHistory.get(pool.deployment.configPath) ?? []) add(oldest(period.processes));
  if (facts.processes) add(oldest(haproxyProcessesOf(pool, facts.processes)));
  return [...starts.values()].sort((a, b) => a.startedAt - b.startedAt);
}

export function restartRules(pool: PoolRecord, facts: DiagnosisFacts): Problem[] {
  if (!facts.processes || !facts.haproxyHistory.has(pool.deployment.configPath)) return [];
  const starts = recentHaproxyStarts(pool, facts);
  if (starts.length < RESTART_COUNT) return [];
  const minutes = Math.round(RESTART_WINDOW_MS / 60_000);
  return [
    makeProblem(
      'HAPROXY_RESTARTING',
      `Pool ${pool.id}: haproxy started ${starts.length} times on ${pool.deployment.configPath} within ${minutes} minutes (${starts.map((s) => `pid ${s.pid} at ${iso(s.startedAt)}`).join(', ')}): it keeps crashing or being killed and restarted. ` +
        `Look at why it exits: journalctl -u haproxy-${pool.loadBalancerId ?? pool.id}, haproxy -c -f ${pool.deployment.configPath}.`,
      { poolId: pool.id, namespace: pool.namespaceName, file: pool.deployment.configPath, pid: starts.at(-1)!.pid, processStartedAt: starts.at(-1)!.startedAt },
    ),
  ];
}

/** Every amphora rule for one pool besides the network ones. */
export function amphoraPoolRules(pool: PoolRecord, facts: DiagnosisFacts): Problem[] {
  // neutron-lbaas reloads with -sf (a new daemon each time): there a restart and a reload look alike.
  if (pool.layout !== 'octavia') return [];
  return [...keepalivedRules(pool, facts), ...listenerCountRules(pool, facts), ...restartRules(pool, facts)];
}

export function healthManagerTargetRules(facts: DiagnosisFacts): Problem[] {
  const agent = facts.amphora?.agent;
  if (!agent) return [];
  const bad = agent.targets.filter((t) => t.error !== null);
  if (agent.targets.length > 0 && bad.length === 0) return [];
  const what =
    agent.controllerIpPortList === null
      ? 'has no [health_manager] controller_ip_port_list'
      : agent.targets.length === 0
        ? 'has an empty [health_manager] controller_ip_port_list'
        : `has controller_ip_port_list entries that are not ip:port (${bad.map((t) => `"${t.raw}": ${t.error}`).join('; ')})`;
  return [
    makeProblem(
      'HM_TARGETS_INVALID',
      `${agent.path} ${what}: heartbeats reach no health manager, so Octavia shows the load balancer OFFLINE and never fails this amphora over. ` +
        `Set [health_manager] controller_ip_port_list in the controllers' octavia.conf (e.g. 192.0.2.10:5555) and fail the amphora over so it gets a new config.`,
      { file: agent.path },
    ),
  ];
}

export function certificateRules(facts: DiagnosisFacts): Problem[] {
  const limit = facts.now + facts.certWarningDays * DAY_MS;
  return (facts.amphora?.certificates ?? [])
    .filter((c) => c.notAfter !== null && c.notAfter <= limit)
    .map((c) => {
      const expired = c.notAfter! <= facts.now;
      const when = expired ? `expired at ${iso(c.notAfter!)}` : `expires at ${iso(c.notAfter!)} (in ${Math.floor((c.notAfter! - facts.now) / DAY_MS)} days)`;
      const what = c.kind === 'agent' ? "The amphora agent's certificate" : `Listener certificate ${c.path} of load balancer ${c.loadBalancerId}`;
      const effect = c.kind === 'agent' ? 'the controller can no longer reach the agent, so updates leave the load balancer in PENDING_UPDATE' : 'clients get an expired certificate';
      const fix = c.kind === 'agent' ? 'openstack loadbalancer amphora configure, or fail the amphora over (housekeeping rotates certs cert_expiry_buffer before expiry)' : 'update the listener\'s certificate in Barbican and the listener (openstack loadbalancer listener set --default-tls-container-ref)';
      return makeProblem('CERT_EXPIRING', `${what} (${c.subject ?? 'no subject'}) ${when}, within ${facts.certWarningDays} days: ${effect}. Renew it: ${fix}.`, { file: c.path });
    });
}

export function hostAmphoraRules(facts: DiagnosisFacts): Problem[] {
  return [...healthManagerTargetRules(facts), ...certificateRules(facts)];
}
