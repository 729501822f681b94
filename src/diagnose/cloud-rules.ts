// Rules that compare the host with the cloud: pure functions of DiagnosisFacts (cloud facts
// included), no I/O. A cloud fact that is null (not asked, or the cloud did not answer) makes its
// rules say nothing; the gap is a CHECK_INCOMPLETE naming the cloud.
//
// Decisions:
//   - Only v2 and Octavia pools are compared: neutron-lbaas v1 has no API left (it was retired
//     with neutron-lbaas) and Octavia does not hold v1 pools.
//   - "This host serves it" in the API is the VIP port's binding:host_id (neutron-lbaas v2 ports,
//     device_id = load balancer id): Octavia has no hosting-agent record.
//   - Members come from the load balancer's status tree, which has no admin state: a member the
//     API shows OFFLINE (how Octavia shows a disabled one) may be absent from the config.
//   - OPERATING_STATUS_DRIFT is judged on members only: neutron-lbaas v2 sets the load balancer,
//     listener and pool ONLINE after each operation and never updates them (API_ONLINE_BUT_DEAD
//     is that case); only members follow haproxy. haproxy statuses map as Octavia's health
//     manager maps them (heartbeat_udp.py): UP ONLINE, DOWN ERROR, DRAIN DRAINING, MAINT OFFLINE,
//     no check NO_MONITOR.
import { memberOperatingStatus } from '../topology/octavia-status.ts';
import type { NamespaceNetwork } from '../host/iproute.ts';
import type { StatRow } from '../host/haproxy-stats.ts';
import { DEVICE_OWNER_LBAAS_V2, DEVICE_OWNER_OCTAVIA } from '../cloud/neutron.ts';
import type { NeutronPort } from '../cloud/neutron.ts';
import { liveHaproxyOf, vipInterfaceOf, vipOf } from '../topology/pools.ts';
import type { PoolRecord } from '../topology/pools.ts';
import { portPrefixOfDevice } from '../topology/ports.ts';
import { makeProblem } from './codes.ts';
import type { Problem } from './codes.ts';
import type { CloudFacts } from './cloud-facts.ts';
import { comparablePools } from './cloud-facts.ts';
import type { DiagnosisFacts } from './facts.ts';

const label = (pool: PoolRecord) => `Pool ${pool.id} (load balancer ${pool.loadBalancerId})`;

function lbOf(cloud: CloudFacts, id: string) {
  return cloud.loadBalancers?.find((l) => l.id === id) ?? null;
}

/** The neutron-lbaas v2 VIP port of a load balancer, or Octavia's placeholder VIP port. */
function vipPortsOf(ports: readonly NeutronPort[], loadBalancerId: string): NeutronPort[] {
  return ports.filter((p) => (p.deviceOwner === DEVICE_OWNER_LBAAS_V2 && p.deviceId === loadBalancerId) || (p.deviceOwner === DEVICE_OWNER_OCTAVIA && p.deviceId === `lb-${loadBalancerId}`));
}

/** Octavia's VIP port: admin-down on purpose (the amphorae carry the VIP in allowed_address_pairs). */
export function isOctaviaPlaceholder(port: NeutronPort): boolean {
  return port.deviceOwner === DEVICE_OWNER_OCTAVIA && !port.adminStateUp && (port.name.startsWith('octavia-lb-') || port.deviceId.startsWith('lb-'));
}

export function unknownToApiRules(pool: PoolRecord, cloud: CloudFacts): Problem[] {
  if (!cloud.loadBalancers || !cloud.pools) return [];
  const lbId = pool.loadBalancerId!;
  const links = { poolId: pool.id, namespace: pool.namespaceName, file: pool.deployment.configPath };
  const lb = lbOf(cloud, lbId);
  const fix = `If nothing should answer on ${vipOf(pool)?.address ?? 'its VIP'} from this host any more, stop its haproxy and remove ${pool.deployment.stateDir} and namespace ${pool.namespaceName} (the agent does when it learns of the delete).`;
  if (!lb || lb.provisioningStatus === 'DELETED') {
    return [
      makeProblem(
        'UNKNOWN_TO_API',
        `${label(pool)}: cloud ${cloud.cloud} ${lb ? 'shows load balancer ' + lbId + ' DELETED' : `has no load balancer ${lbId}`}, yet it is deployed here (${pool.deployment.stateDir}). ${fix}`,
        links,
      ),
    ];
  }
  const apiPool = cloud.pools.find((p) => p.id === pool.id);
  if (!apiPool || apiPool.provisioningStatus === 'DELETED') {
    return [makeProblem('UNKNOWN_TO_API', `${label(pool)}: cloud ${cloud.cloud} knows load balancer ${lbId} but ${apiPool ? 'shows pool ' + pool.id + ' DELETED' : `has no pool ${pool.id}`}, yet its backend is in ${pool.deployment.configPath}. Redeploy the load balancer so the config is rewritten from the API.`, links)];
  }
  if (!apiPool.loadBalancerIds.includes(lbId)) {
    return [makeProblem('UNKNOWN_TO_API', `${label(pool)}: cloud ${cloud.cloud} puts pool ${pool.id} in load balancer ${apiPool.loadBalancerIds.join(', ') || 'none'}, not ${lbId} as deployed here. Redeploy both load balancers.`, links)];
  }
  return [];
}

/** The VIP is not here: no namespace, or the VIP address on no interface in it. Null: not known (ip not read). */
function vipAbsence(pool: PoolRecord, facts: DiagnosisFacts): string | null | undefined {
  if (!facts.namespaces) return undefined;
  if (!facts.namespaces.some((n) => n.name === pool.namespaceName)) return `namespace ${pool.namespaceName} does not exist`;
  const net: NamespaceNetwork | undefined = facts.networks.get(pool.namespaceName);
  if (!net) return undefined;
  const vip = vipOf(pool);
  if (vip && !net.interfaces.some((i) => i.addresses.some((a) => a.address === vip.address))) return `no interface in ${pool.namespaceName} has the VIP ${vip.address}`;
  if (!vipInterfaceOf(pool, net)) return `${pool.namespaceName} has no VIP interface`;
  return null;
}

export function onlineButDeadRules(pool: PoolRecord, facts: DiagnosisFacts, cloud: CloudFacts): Problem[] {
  if (!cloud.loadBalancers) return [];
  const lb = lbOf(cloud, pool.loadBalancerId!);
  if (!lb) return [];
  const listeners = (cloud.listeners ?? []).filter((l) => pool.frontends.some((f) => f.name === l.id));
  const online = [...(lb.operatingStatus === 'ONLINE' ? [`load balancer ${lb.id}`] : []), ...listeners.filter((l) => l.operatingStatus === 'ONLINE').map((l) => `listener ${l.id}`)];
  if (online.length === 0) return [];
  const dead: string[] = [];
  if (facts.processes && !liveHaproxyOf(pool, facts.processes)) dead.push(`no haproxy runs ${pool.deployment.configPath}`);
  const vip = vipAbsence(pool, facts);
  if (vip) dead.push(vip);
  if (dead.length === 0) return [];
  return [
    makeProblem(
      'API_ONLINE_BUT_DEAD',
      `${label(pool)}: cloud ${cloud.cloud} shows ${online.join(' and ')} ONLINE, but on this host ${dead.join(' and ')}: clients of ${vipOf(pool)?.address ?? 'the VIP'} get nothing while the API says all is well. ` +
        `Fix the host (see this pool's other problems), or fail the load balancer over; do not trust the API's status for it until then.`,
      { poolId: pool.id, namespace: pool.namespaceName },
    ),
  ];
}

export function memberSetRules(pool: PoolRecord, cloud: CloudFacts): Problem[] {
  const tree = cloud.statusTrees.get(pool.loadBalancerId!);
  const backend = pool.backend;
  if (!tree || !backend) return [];
  const apiPool = tree.pools.find((p) => p.id === pool.id);
  if (!apiPool) return [];
  const config = new Map(backend.servers.map((s) => [s.id, s]));
  const api = new Map(apiPool.members.map((m) => [m.id, m]));
  const drift: string[] = [];
  for (const m of apiPool.members) {
    if (config.has(m.id) || m.operatingStatus === 'OFFLINE' || m.provisioningStatus === 'DELETED' || m.provisioningStatus === 'PENDING_DELETE') continue;
    drift.push(`member ${m.id} (${m.address}:${m.protocolPort}) is in the API but not in the config`);
  }
  for (const s of backend.servers) {
    const m = api.get(s.id);
    if (!m) drift.push(`member ${s.id} (${s.address}:${s.port}) is in the config but not in the API`);
    else if ((m.address !== null && m.address !== s.address) || (m.protocolPort !== null && s.port !== null && m.protocolPort !== s.port)) {
      drift.push(`member ${s.id} is ${s.address}:${s.port} in the config but ${m.address}:${m.protocolPort} in the API`);
    }
  }
  if (drift.length === 0) return [];
  return [
    makeProblem('MEMBER_SET_DRIFT', `${label(pool)}: ${pool.deployment.configPath} and cloud ${cloud.cloud} disagree: ${drift.join('; ')}. A configuration push was missed: redeploy the load balancer (or restart the LBaaS agent) so the config is rewritten from the API.`, {
      poolId: pool.id,
      namespace: pool.namespaceName,
      file: pool.deployment.configPath,
    }),
  ];
}

export function portBindingRules(pool: PoolRecord, facts: DiagnosisFacts, cloud: CloudFacts): Problem[] {
  if (!cloud.ports) return [];
  const net = facts.networks.get(pool.namespaceName);
  if (!net) return [];
  const iface = vipInterfaceOf(pool, net);
  const prefix = iface ? portPrefixOfDevice(iface.name) : null;
  // An amphora's VIP is eth1, a VM NIC: no tap of this host to compare.
  if (!iface || !prefix) return [];
  const port = cloud.ports.find((p) => p.id.startsWith(prefix)) ?? null;
  if (!port || isOctaviaPlaceholder(port)) return [];
  const wrong: string[] = [];
  if (port.bindingHost !== cloud.host) wrong.push(port.bindingHost ? `is bound to host ${port.bindingHost}, not ${cloud.host}` : 'is bound to no host');
  if (port.vifType === 'binding_failed') wrong.push('failed to bind (vif_type binding_failed)');
  if (!port.adminStateUp) wrong.push('is admin-down');
  if (wrong.length === 0) return [];
  return [
    makeProblem(
      'PORT_BINDING_DRIFT',
      `${label(pool)}: VIP tap ${iface.name} is plugged here, but in cloud ${cloud.cloud} its port ${port.id} ${wrong.join(' and ')}. The OVS agent here will not wire it as this host's (dead VLAN, no security groups), and another host may answer on the VIP. ` +
        `If this host should serve it: openstack port set --host ${cloud.host} ${port.id}${!port.adminStateUp ? ` && openstack port set --enable ${port.id}` : ''}; otherwise remove ${pool.namespaceName} here.`,
      { poolId: pool.id, namespace: pool.namespaceName, interfaceName: iface.name },
    ),
  ];
}

/** A haproxy server status as Octavia's health manager reports it. */
export function octaviaMemberStatus(row: Pick<StatRow, 'status'>): string | null {
  return memberOperatingStatus(row.status ?? '');
}

export function operatingStatusRules(pool: PoolRecord, facts: DiagnosisFacts, cloud: CloudFacts, now: number): Problem[] {
  const tree = cloud.statusTrees.get(pool.loadBalancerId!);
  const answer = facts.stats.get(pool.deployment.socketPath);
  const backend = pool.backend;
  if (!tree || !answer?.reachable || !backend) return [];
  const apiPool = tree.pools.find((p) => p.id === pool.id);
  if (!apiPool) return [];
  const out: Problem[] = [];
  for (const m of apiPool.members) {
    const row = answer.rows.find((r) => r.type === 'server' && r.pxname === backend.name && r.svname === m.id);
    const host = row ? octaviaMemberStatus(row) : null;
    if (!row || host === null || host === m.operatingStatus) continue;
    // Both sides must have held: haproxy since its last change (lastchg), the API since the look that first showed it.
    const hostHeldMs = row.lastchg !== null ? row.lastchg * 1000 : null;
    const since = cloud.memberStatusSince.get(m.id);
    const apiHeldMs = since !== undefined ? now - since : null;
    if (hostHeldMs === null || apiHeldMs === null || hostHeldMs < cloud.statusGraceMs || apiHeldMs < cloud.statusGraceMs) continue;
    out.push(
      makeProblem(
        'OPERATING_STATUS_DRIFT',
        `${label(pool)}: member ${m.id} (${m.address}:${m.protocolPort}) is ${row.status} in haproxy (${host} as Octavia maps it) for ${Math.round(hostHeldMs / 1000)}s, but cloud ${cloud.cloud} has shown it ${m.operatingStatus} for ${Math.round(apiHeldMs / 1000)}s: status reports from this host are not reaching the API. ` +
          `Check the status reporting path (the LBaaS agent's RPC to neutron-server, or the amphora heartbeat to the health manager).`,
        { poolId: pool.id, namespace: pool.namespaceName, memberId: m.id },
      ),
    );
  }
  return out;
}

export function missingOnHostRules(facts: DiagnosisFacts, cloud: CloudFacts): Problem[] {
  if (!cloud.loadBalancers || !cloud.ports || !cloud.pools) return [];
  const deployed = new Map(facts.deployments.map((d) => [d.id, d]));
  const localPools = new Set(facts.allPools.map((p) => p.id));
  const out: Problem[] = [];
  for (const lb of cloud.loadBalancers) {
    if (lb.provisioningStatus !== 'ACTIVE' || !lb.adminStateUp) continue;
    const boundHere = vipPortsOf(cloud.ports, lb.id).find((p) => p.deviceOwner === DEVICE_OWNER_LBAAS_V2 && p.bindingHost === cloud.host);
    if (!boundHere) continue;
    const namespace = `qlbaas-${lb.id}`;
    if (!deployed.has(lb.id)) {
      out.push(
        makeProblem(
          'MISSING_ON_HOST',
          `Load balancer ${lb.id}${lb.name ? ` (${lb.name})` : ''}: cloud ${cloud.cloud} shows it ACTIVE and admin-up with its VIP port ${boundHere.id} bound to this host (${cloud.host}), but nothing for it is here (no state dir, so no namespace ${namespace} and no haproxy): ${lb.vipAddress ?? 'its VIP'} answers nowhere. ` +
            `Restart the LBaaS agent on this host so it deploys it (look for needs_resync in its log), or reschedule it.`,
          { namespace },
        ),
      );
      continue;
    }
    for (const p of cloud.pools) {
      if (!p.loadBalancerIds.includes(lb.id) || p.provisioningStatus !== 'ACTIVE' || !p.adminStateUp || localPools.has(p.id)) continue;
      out.push(
        makeProblem(
          'MISSING_ON_HOST',
          `Pool ${p.id} (load balancer ${lb.id}): cloud ${cloud.cloud} shows it ACTIVE and admin-up, and the load balancer is deployed here, but ${deployed.get(lb.id)!.configPath} has no backend for it. Redeploy the load balancer so the config is rewritten.`,
          { poolId: p.id, namespace, file: deployed.get(lb.id)!.configPath },
        ),
      );
    }
  }
  return out;
}

/** Every cloud problem the facts show (the caller filters by code). */
export function cloudProblems(facts: DiagnosisFacts, includeHostWide: boolean, now = Date.now()): Problem[] {
  const cloud = facts.cloud;
  if (!cloud) return [];
  const out: Problem[] = [];
  for (const pool of comparablePools(facts.pools)) {
    const unknown = unknownToApiRules(pool, cloud);
    out.push(...unknown);
    // A pool the API does not know has no API side to compare further.
    if (unknown.length > 0) continue;
    out.push(...onlineButDeadRules(pool, facts, cloud), ...memberSetRules(pool, cloud), ...portBindingRules(pool, facts, cloud), ...operatingStatusRules(pool, facts, cloud, now));
  }
  if (includeHostWide) out.push(...missingOnHostRules(facts, cloud));
  return out;
}
