// The problem rules: pure functions from DiagnosisFacts to Problems, no I/O. Each rule looks
// only at facts it has; a fact that is missing (not gathered, or its probe failed) makes the
// rule say nothing, and the gap is reported once as CHECK_INCOMPLETE instead.
//
// Root causes are reported, not their echoes, where one fact makes another meaningless:
//   - no namespace: no interface, address, route or OVS rule runs for the pool (nothing to look at);
//   - no VIP interface: no address, link, route or OVS rule (replugging the port restores them);
//   - every member down: one ALL_MEMBERS_DOWN, not a MEMBER_DOWN per member;
//   - no live haproxy: no STATS_SOCKET_DEAD (nothing is there to answer).
// Otherwise rules are independent: a link set down also loses its routes, and bringing it up
// does not bring the default route back, so INTERFACE_DOWN and NO_DEFAULT_ROUTE both show.
//
// ORPHAN_OVS_PORT, decided: an OVS port in error (ofport -1 or error set: vswitchd itself says
// the device cannot be opened) that is not the OVS port of any pool namespace's device. A port
// that merely names a tap found in no namespace is not enough: finding that out runs `ip` in
// every namespace on the host, and an OVS port whose device vanished is in error anyway once
// vswitchd looks again. When a pool namespace could not be read, the rule says nothing (that
// namespace may hold the device) and the gap is reported.
import type { Interface, NamespaceNetwork } from '../host/iproute.ts';
import type { LbaasDeployment } from '../host/lbaas-state.ts';
import type { NamedNamespace } from '../host/netns.ts';
import type { ProcessInfo } from '../host/procfs.ts';
import type { StatRow } from '../host/haproxy-stats.ts';
import { haproxyProcessesOf, liveHaproxyOf, stalePidsOf, vipInterfaceOf, vipOf } from '../topology/pools.ts';
import type { PoolRecord } from '../topology/pools.ts';
import { ifaceIdOf, isOnDeadVlan, ovsPortOfDevice, portPrefixOfDevice, tapNameOfPort } from '../topology/ports.ts';
import { compareProblems, makeProblem, PROBLEM_CODE_NAMES, PROBLEM_CODES } from './codes.ts';
import type { Problem, ProblemCode } from './codes.ts';
import { ovsPortInError } from './facts.ts';
import { amphoraNetworkRules, amphoraPoolRules, hostAmphoraRules } from './amphora-rules.ts';
import { deploymentConfigShapeRules, pidFileRules, poolConfigShapeRules } from './config-rules.ts';
import { interfaceIndex, namespaceIndex, processIndex, statsIndex } from '../topology/indexes.ts';
import type { DiagnosisFacts, ProbeGap } from './facts.ts';
import { cloudProblems } from './cloud-rules.ts';
import { CLOUD_CODES } from './cloud-facts.ts';

/**
 * /proc start times are exact to the tick, but boot time (btime) is whole seconds: a config
 * written just before haproxy started could look up to a second newer. Two seconds of slack.
 */
export const CONFIG_NEWER_SLACK_MS = 2000;

const iso = (ms: number) => new Date(ms).toISOString();

function poolLabel(pool: PoolRecord): string {
  return pool.layout === 'v1' ? `Pool ${pool.id}` : `Pool ${pool.id} (load balancer ${pool.loadBalancerId})`;
}

function vipText(pool: PoolRecord): string {
  const vip = vipOf(pool);
  return vip ? `${vip.address}${vip.port !== null ? `:${vip.port}` : ''}` : 'its VIP';
}

function startCommand(pool: PoolRecord): string {
  return `ip netns exec ${pool.namespaceName} haproxy -f ${pool.deployment.configPath} -p ${pool.deployment.pidPath}`;
}

/** The names of the namespaces with this inode, or how to call it when it has none. */
function whereProcessRuns(p: ProcessInfo, facts: DiagnosisFacts): string {
  if (p.netnsInode === null) return 'an unknown namespace';
  const names = facts.namespaces ? namespaceIndex(facts.namespaces).namesByInode.get(p.netnsInode) ?? [] : [];
  if (names.length > 0) return `namespace ${names.join(', ')}`;
  const init = facts.processes ? processIndex(facts.processes).byPid.get(1) : undefined;
  if (init && init.netnsInode === p.netnsInode) return 'the root namespace';
  return `an unnamed namespace (net:[${p.netnsInode}])`;
}

// ---------------------------------------------------------------------------------------------
// Pool rules

export function namespaceRules(pool: PoolRecord, facts: DiagnosisFacts): Problem[] {
  if (!facts.namespaces) return [];
  if (namespaceIndex(facts.namespaces).byName.has(pool.namespaceName)) return [];
  return [
    makeProblem(
      'NAMESPACE_MISSING',
      `${poolLabel(pool)}: namespace ${pool.namespaceName} does not exist, though its state dir ${pool.deployment.stateDir} does. Nothing can answer on ${vipText(pool)}. ` +
        `Restart the LBaaS agent (or redeploy the pool) so it recreates the namespace, plugs the VIP port and starts haproxy.`,
      { poolId: pool.id, namespace: pool.namespaceName, file: pool.deployment.stateDir },
    ),
  ];
}

export function haproxyRules(pool: PoolRecord, facts: DiagnosisFacts): Problem[] {
  const processes = facts.processes;
  if (!processes) return [];
  const out: Problem[] = [];
  const d = pool.deployment;
  const running = haproxyProcessesOf(pool, processes);
  const live = liveHaproxyOf(pool, processes);
  const base = { poolId: pool.id, namespace: pool.namespaceName };

  if (!live) {
    const pidNote = d.pids.length > 0 ? ` (pid file ${d.pidPath} still names ${d.pids.join(', ')})` : '';
    out.push(
      makeProblem(
        'HAPROXY_MISSING',
        `${poolLabel(pool)}: no haproxy runs ${d.configPath}${pidNote}, so ${vipText(pool)} refuses connections. Start it in the pool's namespace: ${startCommand(pool)} (or restart the LBaaS agent).`,
        { ...base, file: d.configPath },
      ),
    );
  }

  for (const pid of stalePidsOf(pool, processes)) {
    const other = processIndex(processes).byPid.get(pid);
    // A killed daemon whose parent has not reaped it is still listed, as a zombie: it is dead.
    const what = !other || other.state === 'Z' ? `pid ${pid}, which is not running` : `pid ${pid}, now ${other.comm} (not a haproxy on this config)`;
    const fix = live
      ? `The live haproxy is pid ${live.pid}: write it to ${d.pidPath}, or reload the pool so the file is rewritten.`
      : `Start haproxy (${startCommand(pool)}); it rewrites the file.`;
    out.push(
      makeProblem('HAPROXY_PID_STALE', `${poolLabel(pool)}: pid file ${d.pidPath} names ${what}; the agent's next reload (-sf ${pid}) will not replace the running process. ${fix}`, {
        ...base,
        pid,
        file: d.pidPath,
      }),
    );
  }

  if (running.length > 1 && live) {
    const others = running.filter((p) => p.pid !== live.pid);
    const oldest = others[0]!;
    out.push(
      makeProblem(
        'HAPROXY_MULTIPLE',
        `${poolLabel(pool)}: ${running.length} haproxy processes run ${d.configPath} (pids ${running.map((p) => `${p.pid} started ${iso(p.startedAt)}`).join(', ')}; the live one is ${live.pid}). ` +
          `After a reload (-sf) the old ones exit once their connections drain; one that stays serves the old config. If pid ${oldest.pid} does not exit, kill it: kill ${oldest.pid}.`,
        { ...base, pid: oldest.pid, processStartedAt: oldest.startedAt, file: d.configPath },
      ),
    );
  }

  if (live && d.configMtimeMs !== null && d.configMtimeMs > live.startedAt + CONFIG_NEWER_SLACK_MS) {
    const late = Math.round((d.configMtimeMs - live.startedAt) / 1000);
    out.push(
      makeProblem(
        'HAPROXY_CONFIG_NEWER',
        `${poolLabel(pool)}: ${d.configPath} changed at ${iso(d.configMtimeMs)}, ${late}s after haproxy pid ${live.pid} started (${iso(live.startedAt)}): a reload was missed and haproxy serves the old config. ` +
          `Reload it: ${startCommand(pool)} -sf ${live.pid}.`,
        { ...base, pid: live.pid, processStartedAt: live.startedAt, file: d.configPath },
      ),
    );
  }

  if (facts.namespaces) {
    const own = namespaceIndex(facts.namespaces).byName.get(pool.namespaceName) ?? null;
    for (const p of running) {
      if (p.netnsInode === null || (own && p.netnsInode === own.inode)) continue;
      const expected = own ? `namespace ${pool.namespaceName}` : `namespace ${pool.namespaceName} (which does not exist)`;
      out.push(
        makeProblem(
          'HAPROXY_OUTSIDE_NAMESPACE',
          `${poolLabel(pool)}: haproxy pid ${p.pid} runs ${d.configPath} in ${whereProcessRuns(p, facts)} instead of ${expected}, so it does not serve ${vipText(pool)} there. ` +
            `Stop it (kill ${p.pid}) and start haproxy inside the pool's namespace: ${startCommand(pool)}.`,
          { ...base, pid: p.pid, processStartedAt: p.startedAt, file: d.configPath },
        ),
      );
    }
  }

  const answer = facts.stats.get(d.socketPath);
  if (live && answer && !answer.reachable) {
    out.push(
      makeProblem(
        'STATS_SOCKET_DEAD',
        `${poolLabel(pool)}: haproxy pid ${live.pid} runs but its stats socket ${d.socketPath} does not answer (${answer.reason}: ${answer.error}). Member health is unknown and the agent reports stale statuses. ` +
          `Restart the pool's haproxy (haproxy creates the socket only when it starts): ${startCommand(pool)} -sf ${live.pid}.`,
        { ...base, pid: live.pid, processStartedAt: live.startedAt, file: d.socketPath },
      ),
    );
  }
  return out;
}

export function configRules(pool: PoolRecord): Problem[] {
  if (pool.deployment.config !== null) return [];
  return [
    makeProblem(
      'CONFIG_UNREADABLE',
      `${poolLabel(pool)}: ${pool.deployment.configPath} could not be read or parsed (${pool.deployment.configError ?? 'unknown error'}); its VIP and members are unknown, so their checks were skipped. ` +
        `Check the file; the LBaaS agent rewrites it when it redeploys the pool.`,
      { poolId: pool.id, namespace: pool.namespaceName, file: pool.deployment.configPath },
    ),
  ];
}

/** The default route of the VIP's family; blackhole, unreachable and prohibit defaults do not count. */
export function hasDefaultRoute(net: NamespaceNetwork, family: 'inet' | 'inet6'): boolean {
  return net.routes.some((r) => r.destination === 'default' && r.family === family && (r.type === null || r.type === 'unicast'));
}

export function interfaceIsDown(i: Interface): { adminDown: boolean; noCarrier: boolean } {
  const adminDown = !i.flags.includes('UP');
  const noCarrier = !adminDown && (i.flags.includes('NO-CARRIER') || i.operState === 'DOWN' || i.operState === 'LOWERLAYERDOWN');
  return { adminDown, noCarrier };
}

export function networkRules(pool: PoolRecord, facts: DiagnosisFacts): Problem[] {
  const net = facts.networks.get(pool.namespaceName);
  if (!net) return [];
  const ns = pool.namespaceName;
  const base = { poolId: pool.id, namespace: ns };
  const iface = vipInterfaceOf(pool, net);
  if (!iface) {
    const present = net.interfaces.map((i) => i.name).join(', ') || 'none';
    return [
      makeProblem(
        'VIP_INTERFACE_MISSING',
        `${poolLabel(pool)}: namespace ${ns} has no device carrying ${vipText(pool)} and no tap (devices: ${present}): the VIP port is unplugged. ` +
          `Replug it: restart the LBaaS agent, which plugs the tap into br-int and moves it into ${ns}.`,
        base,
      ),
    ];
  }
  const out: Problem[] = [];
  const onIface = { ...base, interfaceName: iface.name };

  const seen = new Set<string>();
  for (const f of pool.frontends) {
    for (const b of f.binds) {
      if ((b.family !== 'ipv4' && b.family !== 'ipv6') || b.address === '0.0.0.0' || b.address === '::' || seen.has(b.address)) continue;
      seen.add(b.address);
      if (interfaceIndex(net.interfaces).byAddress.has(b.address)) continue;
      out.push(
        makeProblem(
          'VIP_ADDRESS_MISSING',
          `${poolLabel(pool)}: haproxy binds ${b.raw} (frontend ${f.name}) but no interface in ${ns} has ${b.address}: clients get no answer on it. ` +
            `Add it back to the VIP tap: ip -n ${ns} addr add ${b.address}/<subnet prefix> dev ${iface.name} (or restart the LBaaS agent).`,
          onIface,
        ),
      );
    }
  }

  const { adminDown, noCarrier } = interfaceIsDown(iface);
  if (adminDown || noCarrier) {
    const state = `operState ${iface.operState}, flags ${iface.flags.join(',') || 'none'}`;
    const fix = adminDown
      ? `It is administratively down: ip -n ${ns} link set ${iface.name} up (then check the default route, which went with it).`
      : `It is up but has no carrier: nothing is attached to its other end. Check its OVS port (ovs-vsctl list Interface ${iface.name}).`;
    out.push(makeProblem('INTERFACE_DOWN', `${poolLabel(pool)}: VIP interface ${iface.name} in ${ns} is down (${state}). ${fix}`, onIface));
  }

  const vip = vipOf(pool);
  const family = vip?.address.includes(':') ? 'inet6' : 'inet';
  if (!hasDefaultRoute(net, family)) {
    out.push(
      makeProblem(
        'NO_DEFAULT_ROUTE',
        `${poolLabel(pool)}: namespace ${ns} has no ${family === 'inet6' ? 'IPv6' : 'IPv4'} default route: replies to clients outside the VIP's subnet are lost. ` +
          `Add it: ip -n ${ns} ${family === 'inet6' ? '-6 ' : ''}route add default via <subnet gateway> dev ${iface.name} (or restart the LBaaS agent).`,
        onIface,
      ),
    );
  }

  if (facts.ovs) out.push(...ovsRules(pool, iface, facts));
  return out;
}

function ovsRules(pool: PoolRecord, iface: Interface, facts: DiagnosisFacts): Problem[] {
  const snapshot = facts.ovs!;
  const prefix = portPrefixOfDevice(iface.name);
  // Only neutron-named devices (tap/ns- + 11 characters of the port id) belong on OVS: an
  // amphora's eth1 is a VM NIC, not an OVS port.
  if (!prefix) return [];
  const ns = pool.namespaceName;
  const expectedName = iface.name.startsWith('tap') ? iface.name : tapNameOfPort(prefix);
  const port = ovsPortOfDevice(snapshot, iface.name);
  if (!port) {
    return [
      makeProblem(
        'OVS_PORT_MISSING',
        `${poolLabel(pool)}: ${iface.name} is in ${ns} but no OVS bridge has a port named ${expectedName}: the VIP is cut off from the network. ` +
          `Replug it (restart the LBaaS agent), or add it back: ovs-vsctl add-port br-int ${expectedName} -- set Interface ${expectedName} external_ids:iface-id=<port id starting ${prefix}>.`,
        { poolId: pool.id, namespace: ns, interfaceName: iface.name, ovsPort: expectedName },
      ),
    ];
  }
  const out: Problem[] = [];
  const links = { poolId: pool.id, namespace: ns, interfaceName: iface.name, ovsPort: port.name };
  if (isOnDeadVlan(port)) {
    out.push(
      makeProblem(
        'OVS_DEAD_VLAN',
        `${poolLabel(pool)}: OVS port ${port.name} (bridge ${port.bridge ?? '?'}) of the VIP is on the dead VLAN 4095: OVS drops its traffic. The neutron OVS agent never bound it (port unbound, its network deleted, or the agent down). ` +
          `Check the port's binding in Neutron (openstack port show ${ifaceIdOf(port) ?? prefix}) and the OVS agent on this host; the agent retags the port when it binds it.`,
        links,
      ),
    );
  }
  if (ovsPortInError(port)) {
    const error = port.interfaces.map((i) => i.error).find((e) => e) ?? 'no error text';
    out.push(
      makeProblem(
        'OVS_INTERFACE_ERROR',
        `${poolLabel(pool)}: OVS cannot use ${port.name} (ofport -1: ${error}): vswitchd cannot open the device, so the VIP gets no traffic. ` +
          `Delete and replug the port: ovs-vsctl del-port ${port.bridge ?? 'br-int'} ${port.name}, then restart the LBaaS agent.`,
        links,
      ),
    );
  }
  const ifaceId = ifaceIdOf(port);
  if (!ifaceId || !ifaceId.startsWith(prefix)) {
    const has = ifaceId ? `external_ids:iface-id=${ifaceId}, which does not start with ${prefix}` : `no external_ids:iface-id`;
    out.push(
      makeProblem(
        'IFACE_ID_MISMATCH',
        `${poolLabel(pool)}: OVS port ${port.name} has ${has} (the port id in the device name). The OVS agent binds it as ${ifaceId ? 'another' : 'no'} Neutron port (wrong VLAN and security groups). ` +
          `Set it back: ovs-vsctl set Interface ${port.name} external_ids:iface-id=<the VIP port id, starting ${prefix}>.`,
        links,
      ),
    );
  }
  return out;
}

function statusWord(row: StatRow | undefined): string | null {
  return row?.status?.split(' ')[0] ?? null;
}

export function memberRules(pool: PoolRecord, facts: DiagnosisFacts): Problem[] {
  const answer = facts.stats.get(pool.deployment.socketPath);
  const backend = pool.backend;
  if (!answer || !answer.reachable || !backend) return [];
  const rows = statsIndex(answer.rows);
  const rowOf = (id: string) => rows.serverRow(backend.name, id);
  const base = { poolId: pool.id, namespace: pool.namespaceName };
  const judged = backend.servers
    .map((server) => ({ server, row: rowOf(server.id) }))
    .filter((m): m is { server: typeof m.server; row: StatRow } => m.row !== undefined);
  const describe = (m: { server: { id: string; address: string; port: number | null }; row: StatRow }) =>
    `${m.server.id} (${m.server.address}${m.server.port !== null ? `:${m.server.port}` : ''}) ${m.row.status}${m.row.checkStatus ? `, check ${m.row.checkStatus}${m.row.checkDesc ? ` ${m.row.checkDesc}` : ''}` : ''}`;
  // Active members that haproxy may send traffic to: not backups, not in maintenance.
  const active = judged.filter((m) => !m.server.backup && !m.server.disabled && !(m.row.status ?? '').startsWith('MAINT'));
  if (active.length > 0 && active.every((m) => statusWord(m.row) === 'DOWN')) {
    return [
      makeProblem(
        'ALL_MEMBERS_DOWN',
        `${poolLabel(pool)}: all ${active.length} active members are down (${active.map(describe).join('; ')}): ${vipText(pool)} answers 503. ` +
          `Check the members' service, and the pool's other problems: a network fault in ${pool.namespaceName} looks the same.`,
        base,
      ),
    ];
  }
  return judged
    .filter((m) => statusWord(m.row) === 'DOWN')
    .map((m) =>
      makeProblem(
        'MEMBER_DOWN',
        `${poolLabel(pool)}: member ${describe(m)}; haproxy sends it no traffic. Check the member's service, or the path from ${pool.namespaceName} to ${m.server.address}.`,
        { ...base, memberId: m.server.id },
      ),
    );
}

export function poolProblems(pool: PoolRecord, facts: DiagnosisFacts): Problem[] {
  // An amphora's VIP interface is its VRRP interface and what must be on it depends on its role.
  const network = pool.layout === 'octavia' ? amphoraNetworkRules(pool, facts) : networkRules(pool, facts);
  return [
    ...namespaceRules(pool, facts),
    ...configRules(pool),
    ...poolConfigShapeRules(pool),
    ...pidFileRules(pool),
    ...haproxyRules(pool, facts),
    ...network,
    ...memberRules(pool, facts),
    ...amphoraPoolRules(pool, facts),
  ];
}

// ---------------------------------------------------------------------------------------------
// Host rules

/** qlbaas- namespaces no state dir names. */
export function orphanNamespaces<N extends NamedNamespace>(namespaces: readonly N[], deployments: readonly LbaasDeployment[]): N[] {
  const named = new Set(deployments.map((d) => d.namespace));
  return namespaces.filter((n) => n.kind === 'qlbaas' && !named.has(n.name));
}

export function orphanNamespaceRules(facts: DiagnosisFacts): Problem[] {
  if (!facts.namespaces) return [];
  return orphanNamespaces(facts.namespaces, facts.deployments).map((n) =>
    makeProblem(
      'ORPHAN_NAMESPACE',
      `Namespace ${n.name} looks like a neutron-lbaas namespace but no pool state dir names it: a leftover of a deleted pool or load balancer. ` +
        `If nothing runs in it (ip netns pids ${n.name} prints nothing), delete it: ip netns delete ${n.name}.`,
      { namespace: n.name },
    ),
  );
}

export function orphanOvsPortRules(facts: DiagnosisFacts): Problem[] {
  if (!facts.ovs) return [];
  const inError = facts.ovs.ports.filter(ovsPortInError);
  if (inError.length === 0) return [];
  if (!facts.namespaces) return [];
  const existing = new Set(facts.namespaces.map((n) => n.name));
  const poolNamespaces = [...new Set(facts.deployments.map((d) => d.namespace))].filter((n) => existing.has(n));
  // A pool namespace we could not read may hold the device: say nothing rather than guess.
  if (poolNamespaces.some((n) => !facts.networks.has(n))) return [];
  const poolPorts = new Set<string>();
  for (const n of poolNamespaces) {
    for (const i of facts.networks.get(n)!.interfaces) {
      const port = ovsPortOfDevice(facts.ovs, i.name);
      if (port) poolPorts.add(port.name);
    }
  }
  return inError
    .filter((p) => !poolPorts.has(p.name))
    .map((p) => {
      const error = p.interfaces.map((i) => i.error).find((e) => e) ?? 'ofport -1';
      return makeProblem(
        'ORPHAN_OVS_PORT',
        `OVS port ${p.name} on ${p.bridge ?? 'no bridge'} has no device (${error}) and is no pool's VIP tap: a leftover of a deleted port${ifaceIdOf(p) ? ` (iface-id ${ifaceIdOf(p)})` : ''}. ` +
          `If Neutron no longer has that port, delete it: ovs-vsctl del-port ${p.bridge ?? 'br-int'} ${p.name}.`,
        { ovsPort: p.name },
      );
    });
}

// ---------------------------------------------------------------------------------------------
// Gaps

const PROBE_HINTS: Record<ProbeGap['probe'], string> = {
  lbaas: 'Check that LBTOPO_LBAAS_DIR and LBTOPO_OCTAVIA_DIR are readable.',
  netns: 'Check that LBTOPO_NETNS_DIR is readable.',
  proc: 'Check that /proc is readable (run as root).',
  ip: 'Check that ip (iproute2) is installed and that the namespace still exists.',
  ovs: 'Check that ovs-vsctl is installed, that ovsdb-server runs, and that LBTOPO_OVSDB points at it.',
  stats: 'Check the stats socket.',
  cloud: 'Check that the cloud named by LBTOPO_CLOUD answers from this host: clouds.yaml, Keystone (auth_url, credentials) and the network and load-balancer endpoints of its catalog.',
  amphora: 'Check that LBTOPO_OCTAVIA_DIR and LBTOPO_AMPHORA_AGENT_CONF are readable.',
  rule: 'Check that ip (iproute2) is installed and that the namespace still exists.',
};

/** The codes that could not be judged because this probe was missing. */
function skippedCodes(gap: ProbeGap, codes: ReadonlySet<ProblemCode>): ProblemCode[] {
  return PROBLEM_CODE_NAMES.filter((c) => codes.has(c) && (gap.probe === 'lbaas' ? c !== 'CHECK_INCOMPLETE' : (PROBLEM_CODES[c].needs as readonly string[]).includes(gap.probe)));
}

export function gapProblem(gap: ProbeGap, codes: ReadonlySet<ProblemCode>, links: { poolId?: string | null; namespace?: string | null } = {}): Problem {
  const scope = gap.scope ? ` (${gap.scope})` : '';
  const stale = gap.staleObservedAt !== null ? `; its last good observation, from ${iso(gap.staleObservedAt)}, was not judged, as it may no longer hold` : '';
  const skipped = skippedCodes(gap, codes);
  const subject = links.poolId ? `pool ${links.poolId}` : 'this host';
  return makeProblem(
    'CHECK_INCOMPLETE',
    `Could not check ${subject} completely: the ${gap.probe} probe${scope} failed (${gap.kind}: ${gap.message})${stale}. Skipped: ${skipped.join(', ') || 'nothing'}. ${PROBE_HINTS[gap.probe]}`,
    {
      poolId: links.poolId ?? null,
      namespace: links.namespace ?? (gap.probe === 'ip' ? gap.scope : null),
      file: gap.probe === 'stats' ? gap.scope : null,
      probe: gap.scope ? `${gap.probe}:${gap.scope}` : gap.probe,
    },
  );
}

/** Whether a gap concerns a pool: host-wide probes concern every pool, ip and stats only their own. */
export function gapConcernsPool(gap: ProbeGap, pool: PoolRecord): boolean {
  if (gap.probe === 'ip' || gap.probe === 'rule') return gap.scope === pool.namespaceName;
  if (gap.probe === 'amphora') return pool.layout === 'octavia';
  if (gap.probe === 'stats') return gap.scope === pool.deployment.socketPath;
  if (gap.probe === 'cloud') return pool.layout !== 'v1';
  return true;
}

// ---------------------------------------------------------------------------------------------
// Putting it together

export interface JudgeOptions {
  /** Pool mode: CHECK_INCOMPLETE for this pool's gaps carries its id. */
  pool?: PoolRecord;
  /** Namespace mode: gaps carry this namespace, so a namespace's list shows them. */
  namespace?: string;
}

/**
 * Every problem the facts show among `codes`, worst first. CHECK_INCOMPLETE is always included,
 * whatever the codes: an empty answer must mean "looked and found nothing", never "could not look".
 */
export function judge(facts: DiagnosisFacts, codes: ReadonlySet<ProblemCode>, options: JudgeOptions = {}): Problem[] {
  const found: Problem[] = [];
  for (const pool of facts.pools) found.push(...poolProblems(pool, facts));
  // Problems of a state dir that belong to no one pool (a frontend leading nowhere, a load
  // balancer with no pool): on the host's and the namespace's lists, not on a pool's.
  if (!options.pool) for (const d of facts.deployments) found.push(...deploymentConfigShapeRules(d));
  if (codes.has('ORPHAN_NAMESPACE')) found.push(...orphanNamespaceRules(facts));
  if (codes.has('ORPHAN_OVS_PORT')) found.push(...orphanOvsPortRules(facts));
  if ([...codes].some((c) => CLOUD_CODES.has(c))) found.push(...cloudProblems(facts, codes.has('MISSING_ON_HOST')));
  if (!options.pool && !options.namespace) found.push(...hostAmphoraRules(facts));
  const out = found.filter((p) => codes.has(p.code));
  for (const gap of facts.gaps) {
    if (options.pool) {
      if (gapConcernsPool(gap, options.pool)) out.push(gapProblem(gap, codes, { poolId: options.pool.id, namespace: options.pool.namespaceName }));
      continue;
    }
    const owners = facts.pools.filter((p) => gap.probe !== 'lbaas' && gap.probe !== 'netns' && gap.probe !== 'proc' && gap.probe !== 'ovs' && gap.probe !== 'cloud' && gapConcernsPool(gap, p));
    out.push(gapProblem(gap, codes, { poolId: owners.length === 1 ? owners[0]!.id : null, namespace: options.namespace ?? null }));
  }
  return out.sort(compareProblems);
}
