// The Octavia amphora this lbtopo runs on: its VRRP role (keepalived), agent config and
// certificates, and the statuses Octavia will compute from its heartbeat. Thin: the joins are in
// topology/amphora.ts and topology/octavia-status.ts.
import { builder } from './builder.ts';
import { applyMaxAge } from './arguments.ts';
import { MAX_AGE_DESCRIPTION } from './arguments.ts';
import { NamespaceRef } from './namespace.ts';
import { PoolRef } from './pool.ts';
import { ProcessRef } from './process.ts';
import { findNamespace, listPools, listProcessRecords } from '../topology/queries.ts';
import { keepalivedProcessesOf, liveKeepalivedOf, octaviaStatusOfLoadBalancer, vrrpViewOfSession } from '../topology/amphora.ts';
import type { VrrpEvidence } from '../topology/amphora.ts';
import type { AmphoraState, CertificateFile, HealthManagerTarget, LvsListenerFiles } from '../host/amphora-state.ts';
import type { LvsRealServer, VrrpInstance, VrrpScript } from '../host/keepalived-config.ts';
import type { ListenerStatus, MemberStatus, OctaviaStatus, PoolStatus } from '../topology/octavia-status.ts';
import type { GraphQLContext } from './context.ts';

type AmphoraRecord = AmphoraState & { observedAt: number };

const AmphoraRef = builder.objectRef<AmphoraRecord>('Amphora');
const VrrpInstanceRef = builder.objectRef<VrrpInstance>('VrrpInstance');
const VrrpScriptRef = builder.objectRef<VrrpScript>('VrrpScript');
const VrrpEvidenceRef = builder.objectRef<VrrpEvidence>('VrrpEvidence');
const CertificateRef = builder.objectRef<CertificateFile>('AmphoraCertificate');
const HealthManagerTargetRef = builder.objectRef<HealthManagerTarget>('HealthManagerTarget');
const OctaviaStatusRef = builder.objectRef<OctaviaStatus>('OctaviaStatus');
const LvsListenerRef = builder.objectRef<LvsListenerFiles>('LvsListener');
const LvsRealServerRef = builder.objectRef<LvsRealServer>('LvsRealServer');
const ListenerStatusRef = builder.objectRef<ListenerStatus>('OctaviaListenerStatus');
const PoolStatusRef = builder.objectRef<PoolStatus>('OctaviaPoolStatus');
const MemberStatusRef = builder.objectRef<MemberStatus>('OctaviaMemberStatus');

const VrrpRoleEnum = builder.enumType('VrrpRole', {
  description: "An amphora's live role, judged from the host (keepalived keeps no state file).",
  values: {
    SINGLE: { value: 'SINGLE', description: 'No keepalived config: a SINGLE-topology amphora.' },
    MASTER: { value: 'MASTER', description: 'keepalived runs and holds a VIP on the VRRP interface.' },
    BACKUP: { value: 'BACKUP', description: 'keepalived runs and neither the VIP, its rule nor its table-1 default route is present (keepalived FAULT from a failing check script looks the same).' },
    FAULT: { value: 'FAULT', description: 'keepalived does not run (any VIP left is stale), or it runs mid-transition (rules or routes without the VIP).' },
    UNKNOWN: { value: 'UNKNOWN', description: 'What decides it could not be read (/proc, the addresses or the rules of the namespace).' },
  } as const,
});

const OperatingStatusEnum = builder.enumType('OctaviaOperatingStatus', {
  description: 'Octavia operating_status values.',
  values: Object.fromEntries(['ONLINE', 'DEGRADED', 'ERROR', 'OFFLINE', 'DRAINING', 'NO_MONITOR'].map((v) => [v, { value: v, description: `Octavia ${v}.` }])) as Record<'ONLINE' | 'DEGRADED' | 'ERROR' | 'OFFLINE' | 'DRAINING' | 'NO_MONITOR', { value: string; description: string }>,
});

const HeartbeatEnum = builder.enumType('OctaviaHeartbeat', {
  description: "Whether the amphora's health sender would send a heartbeat now.",
  values: {
    SENT: { value: 'SENT', description: 'A heartbeat goes out (every heartbeat_interval).' },
    SUPPRESSED_KEEPALIVED_DOWN: { value: 'SUPPRESSED_KEEPALIVED_DOWN', description: 'keepalived is configured but not running: the sender skips the heartbeat, and Octavia fails the amphora over after heartbeat_timeout.' },
    SUPPRESSED_STATS_UNREADABLE: { value: 'SUPPRESSED_STATS_UNREADABLE', description: "haproxy runs but its stats socket does not answer: the sender's loop fails before sending." },
  } as const,
});

VrrpScriptRef.implement({
  description: 'A keepalived vrrp_script (Octavia: check_script, which runs every file in vrrp/check_scripts/).',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The script name track_script refers to.' }),
    script: t.exposeString('script', { nullable: true, description: 'The command.' }),
    intervalSeconds: t.exposeFloat('intervalSeconds', { nullable: true, description: 'How often it runs.' }),
    fall: t.exposeInt('fall', { nullable: true, description: 'Failures before the instance goes FAULT.' }),
    rise: t.exposeInt('rise', { nullable: true, description: 'Successes before it recovers.' }),
  }),
});

VrrpInstanceRef.implement({
  description: 'The vrrp_instance of octavia-keepalived.conf, as written.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Instance name (the load balancer id without dashes).' }),
    initialState: t.exposeString('initialState', { nullable: true, description: "`state`: the role Octavia assigned (MASTER or BACKUP). With nopreempt the live role can differ." }),
    interface: t.exposeString('interface', { nullable: true, description: 'The VRRP interface (eth1), which also carries the VIP.' }),
    virtualRouterId: t.exposeInt('virtualRouterId', { nullable: true, description: 'virtual_router_id.' }),
    priority: t.exposeInt('priority', { nullable: true, description: 'priority (Octavia: MASTER 100, BACKUP 90).' }),
    advertIntervalSeconds: t.exposeFloat('advertIntervalSeconds', { nullable: true, description: 'advert_int.' }),
    nopreempt: t.exposeBoolean('nopreempt', { description: '`nopreempt` as written.' }),
    preempts: t.boolean({
      description:
        'Whether this amphora takes the VIP back from a lower-priority MASTER once it is healthy again. keepalived clears nopreempt when the initial state is MASTER ("nopreempt will not work with initial state MASTER - clearing", keepalived 2.2.7), so the amphora Octavia made MASTER preempts despite the nopreempt of the template.',
      resolve: (i) => !i.nopreempt || i.initialState === 'MASTER',
    }),
    unicastSourceIp: t.exposeString('unicastSourceIp', { nullable: true, description: "unicast_src_ip: this amphora's VRRP address." }),
    unicastPeers: t.exposeStringList('unicastPeers', { description: "unicast_peer: the peers' VRRP addresses." }),
    virtualIpAddresses: t.stringList({ description: 'virtual_ipaddress: the VIPs keepalived adds on MASTER (as /32 or /128 when no prefix is written).', resolve: (i) => i.virtualIpAddresses.map((v) => v.raw) }),
    virtualRoutes: t.stringList({ description: 'virtual_routes as written (table 1 routes of the VIP).', resolve: (i) => i.virtualRoutes.map((r) => r.raw) }),
    virtualRules: t.stringList({ description: 'virtual_rules as written (`from VIP/32 table 1 priority 100`).', resolve: (i) => i.virtualRules.map((r) => r.raw) }),
    trackScripts: t.exposeStringList('trackScripts', { description: 'track_script names.' }),
  }),
});

VrrpEvidenceRef.implement({
  description: 'What the live VRRP role was judged from.',
  fields: (t) => ({
    keepalivedRunning: t.exposeBoolean('keepalivedRunning', { nullable: true, description: 'Whether keepalived runs its config (null: /proc not read).' }),
    vipsPresent: t.exposeStringList('vipsPresent', { description: 'Configured VIPs found on an interface of the namespace.' }),
    vipsAbsent: t.exposeStringList('vipsAbsent', { description: 'Configured VIPs not found.' }),
    rulesMissing: t.stringList({ nullable: true, description: 'virtual_rules not in `ip rule` (null: rules not read).', resolve: (e) => e.rulesMissing?.map((r) => r.raw) ?? null }),
    rulesPresent: t.stringList({ nullable: true, description: 'virtual_rules found in `ip rule`.', resolve: (e) => e.rulesPresent?.map((r) => r.raw) ?? null }),
    defaultRoutesMissing: t.stringList({ nullable: true, description: 'virtual_routes default routes not in their table.', resolve: (e) => e.defaultRoutesMissing?.map((r) => r.raw) ?? null }),
    defaultRoutesPresent: t.stringList({ nullable: true, description: 'virtual_routes default routes found.', resolve: (e) => e.defaultRoutesPresent?.map((r) => r.raw) ?? null }),
  }),
});

CertificateRef.implement({
  description: "An amphora certificate: the agent's server cert or a TLS listener PEM.",
  fields: (t) => ({
    path: t.exposeString('path', { description: 'The PEM file.' }),
    kind: t.exposeString('kind', { description: 'agent or listener.' }),
    loadBalancerId: t.exposeString('loadBalancerId', { nullable: true, description: 'Listener PEMs: the load balancer directory it is in.' }),
    subject: t.exposeString('subject', { nullable: true, description: 'Subject of the first certificate in the file.' }),
    notAfter: t.field({ type: 'DateTime', nullable: true, description: 'When it expires.', resolve: (c) => c.notAfter }),
    error: t.exposeString('error', { nullable: true, description: 'Why no certificate could be read from the file.' }),
  }),
});

HealthManagerTargetRef.implement({
  description: 'One [health_manager] controller_ip_port_list entry: where heartbeats go.',
  fields: (t) => ({
    raw: t.exposeString('raw', { description: 'As written.' }),
    host: t.exposeString('host', { nullable: true, description: 'The address.' }),
    port: t.exposeInt('port', { nullable: true, description: 'The UDP port.' }),
    error: t.exposeString('error', { nullable: true, description: 'Why it is not a usable ip:port.' }),
  }),
});

MemberStatusRef.implement({
  description: 'A member status Octavia computes from the heartbeat.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'Member id.' }),
    operatingStatus: t.field({ type: OperatingStatusEnum, nullable: true, description: 'Null: Octavia keeps the previous status (RESTARTING, an unknown status, or no heartbeat).', resolve: (m) => m.operatingStatus }),
  }),
});
PoolStatusRef.implement({
  description: 'A pool status Octavia computes from the heartbeat.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'Pool id.' }),
    operatingStatus: t.field({ type: OperatingStatusEnum, nullable: true, description: 'Null: Octavia keeps the previous status.', resolve: (p) => p.operatingStatus }),
    members: t.field({ type: [MemberStatusRef], description: 'Its members.', resolve: (p) => p.members }),
  }),
});
ListenerStatusRef.implement({
  description: 'A listener status Octavia computes from the heartbeat.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'Listener id.' }),
    operatingStatus: t.field({ type: OperatingStatusEnum, nullable: true, description: 'Null: Octavia keeps the previous status.', resolve: (l) => l.operatingStatus }),
  }),
});

OctaviaStatusRef.implement({
  description:
    "The operating statuses Octavia's health manager will compute for this load balancer from the amphora's next heartbeat, by the same rules (health_daemon + heartbeat_udp), from our stats rows. The database side is taken from the config: every frontend an enabled listener of an enabled, ACTIVE load balancer; a member the database has as NO_MONITOR stays so where this says OFFLINE.",
  fields: (t) => ({
    loadBalancerId: t.exposeString('loadBalancerId', { description: 'Load balancer id.' }),
    heartbeat: t.field({ type: HeartbeatEnum, description: 'Whether a heartbeat is sent at all.', resolve: (s) => s.heartbeat }),
    heartbeatListeners: t.exposeInt('heartbeatListeners', { description: 'Listener entries in the heartbeat.' }),
    expectedListeners: t.exposeInt('expectedListeners', { description: 'Enabled listeners in the config; a different heartbeatListeners makes the health manager ignore the heartbeat for failover purposes.' }),
    operatingStatus: t.field({ type: OperatingStatusEnum, nullable: true, description: 'The load balancer operating_status (null: no heartbeat, Octavia keeps the old one).', resolve: (s) => s.operatingStatus }),
    listeners: t.field({ type: [ListenerStatusRef], description: 'Listener statuses.', resolve: (s) => s.listeners }),
    pools: t.field({ type: [PoolStatusRef], description: 'Pool and member statuses.', resolve: (s) => s.pools }),
  }),
});

LvsRealServerRef.implement({
  description: 'An LVS real_server (a member of a UDP/SCTP pool) as configured, with its health check.',
  fields: (t) => ({
    address: t.exposeString('address', { description: 'Member address.' }),
    port: t.exposeInt('port', { nullable: true, description: 'Member port.' }),
    weight: t.exposeInt('weight', { nullable: true, description: 'Weight.' }),
    checks: t.stringList({ description: 'Health checks, as `TYPE command` (Octavia: MISC_CHECK running udp_check.sh or sctp_check).', resolve: (r) => r.checks.map((c) => (c.miscPath ? `${c.type} ${c.miscPath}` : c.type)) }),
  }),
});

LvsListenerRef.implement({
  description: 'A UDP or SCTP listener, run by its own keepalived in LVS mode (<base>/lvs/octavia-keepalivedlvs-<listener>.conf). Its live IPVS table (/proc/net/ip_vs in the namespace) is not read yet.',
  fields: (t) => ({
    listenerId: t.exposeString('listenerId', { description: 'The listener id.' }),
    configPath: t.exposeString('configPath', { description: 'The LVS keepalived config.' }),
    configError: t.exposeString('configError', { nullable: true, description: 'Why it could not be read or parsed.' }),
    protocol: t.string({ nullable: true, description: 'UDP or SCTP.', resolve: (l) => l.config?.virtualServers[0]?.protocol ?? null }),
    addresses: t.stringList({ description: 'VIP:port the virtual server listens on.', resolve: (l) => (l.config?.virtualServers ?? []).flatMap((v) => v.addresses.map((a) => `${a.address}:${a.port ?? ''}`)) }),
    lbAlgorithm: t.string({ nullable: true, description: 'lb_algo (rr, wrr, lc, sh, ...).', resolve: (l) => l.config?.virtualServers[0]?.lbAlgorithm ?? null }),
    realServers: t.field({ type: [LvsRealServerRef], description: 'Members.', resolve: (l) => (l.config?.virtualServers ?? []).flatMap((v) => v.realServers) }),
    keepalived: t.field({
      type: ProcessRef,
      nullable: true,
      description: 'The keepalived running this listener (pid file process on the config); null when none runs it.',
      resolve: async (l, _x, ctx) => {
        const running = keepalivedProcessesOf(l.configPath, await listProcessRecords(ctx.session));
        return running.find((p) => l.pids.includes(p.pid)) ?? running[0] ?? null;
      },
    }),
  }),
});

async function keepalivedOf(a: AmphoraRecord, ctx: GraphQLContext) {
  if (!a.keepalived) return null;
  return liveKeepalivedOf(a.keepalived, await listProcessRecords(ctx.session));
}

AmphoraRef.implement({
  description: 'The Octavia amphora this host is: its VRRP role, keepalived, agent config, certificates and the statuses its heartbeat will produce.',
  fields: (t) => ({
    id: t.string({ nullable: true, description: '[amphora_agent] amphora_id.', resolve: (a) => a.agent?.amphoraId ?? null }),
    topology: t.string({ description: 'ACTIVE_STANDBY when a keepalived config is present, else the agent config\'s loadbalancer_topology (SINGLE by default).', resolve: (a) => (a.keepalived ? 'ACTIVE_STANDBY' : (a.agent?.topology ?? 'SINGLE')) }),
    octaviaDir: t.exposeString('octaviaDir', { description: 'The haproxy base path.' }),
    namespaceName: t.exposeString('namespace', { description: 'The namespace haproxy and keepalived run in.' }),
    namespace: t.field({ type: NamespaceRef, nullable: true, description: 'That namespace; null when it does not exist.', resolve: (a, _x, ctx) => findNamespace(ctx.session, a.namespace) }),
    role: t.field({ type: VrrpRoleEnum, description: 'The live role (reads /proc, and ip and ip rule in the namespace on ACTIVE_STANDBY).', resolve: async (_a, _x, ctx) => (await vrrpViewOfSession(ctx.session)).role }),
    roleReason: t.string({ description: 'Why that role, in a sentence.', resolve: async (_a, _x, ctx) => (await vrrpViewOfSession(ctx.session)).reason }),
    roleEvidence: t.field({ type: VrrpEvidenceRef, description: 'What the role was judged from.', resolve: async (_a, _x, ctx) => (await vrrpViewOfSession(ctx.session)).evidence }),
    vrrp: t.field({ type: VrrpInstanceRef, nullable: true, description: 'The VRRP instance as configured; null on SINGLE.', resolve: (a) => a.keepalived?.config?.vrrpInstances[0] ?? null }),
    vrrpScripts: t.field({ type: [VrrpScriptRef], description: 'vrrp_script blocks.', resolve: (a) => a.keepalived?.config?.vrrpScripts ?? [] }),
    keepalivedConfigPath: t.string({ nullable: true, description: 'octavia-keepalived.conf; null on SINGLE.', resolve: (a) => a.keepalived?.configPath ?? null }),
    keepalivedConfigError: t.string({ nullable: true, description: 'Why it could not be read or parsed.', resolve: (a) => a.keepalived?.configError ?? null }),
    keepalivedPidFile: t.string({ nullable: true, description: 'octavia-keepalived.pid.', resolve: (a) => a.keepalived?.pidPath ?? null }),
    keepalivedPidFilePids: t.intList({ description: 'Pids in it.', resolve: (a) => a.keepalived?.pids ?? [] }),
    keepalived: t.field({ type: ProcessRef, nullable: true, description: 'The live keepalived (parent) process; null when none runs the config.', resolve: (a, _x, ctx) => keepalivedOf(a, ctx) }),
    keepalivedProcesses: t.field({ type: [ProcessRef], description: 'Every keepalived process on the config (the parent and its VRRP child).', resolve: async (a, _x, ctx) => (a.keepalived ? keepalivedProcessesOf(a.keepalived.configPath, await listProcessRecords(ctx.session)) : []) }),
    checkScripts: t.stringList({ description: 'The check scripts check_script.sh runs, as `path: text`.', resolve: (a) => a.keepalived?.checkScripts.map((s) => `${s.path}: ${s.text.trim()}`) ?? [] }),
    agentConfigPath: t.string({ nullable: true, description: 'amphora-agent.conf, when present.', resolve: (a) => a.agent?.path ?? null }),
    agentConfigError: t.exposeString('agentError', { nullable: true, description: 'Why the agent config could not be read.' }),
    healthManagers: t.field({ type: [HealthManagerTargetRef], description: '[health_manager] controller_ip_port_list entries.', resolve: (a) => a.agent?.targets ?? [] }),
    certificates: t.field({ type: [CertificateRef], description: "The agent's certificate and the listener PEMs.", resolve: (a) => a.certificates }),
    lvsListeners: t.field({ type: [LvsListenerRef], description: 'UDP/SCTP listeners run by keepalived LVS.', resolve: (a) => a.lvs }),
    loadBalancers: t.field({
      type: [OctaviaStatusRef],
      description: 'Each Octavia load balancer deployed here, with the statuses Octavia will compute.',
      resolve: async (_a, _x, ctx) => {
        const ids = [...new Set((await listPools(ctx.session)).filter((p) => p.layout === 'octavia').map((p) => p.loadBalancerId!))];
        const all = await Promise.all(ids.map((id) => octaviaStatusOfLoadBalancer(ctx.session, id)));
        return all.filter((s): s is OctaviaStatus => s !== null);
      },
    }),
    observedAt: t.field({ type: 'DateTime', description: 'When the amphora files were read.', resolve: (a) => a.observedAt }),
  }),
});

builder.objectField(PoolRef, 'octaviaStatus', (t) =>
  t.field({
    type: OctaviaStatusRef,
    nullable: true,
    description: "Octavia pools: the statuses Octavia will compute for the pool's load balancer from the next heartbeat (see OctaviaStatus); null for other layouts.",
    resolve: (p, _a, ctx) => (p.layout === 'octavia' && p.loadBalancerId ? octaviaStatusOfLoadBalancer(ctx.session, p.loadBalancerId) : null),
  }),
);

builder.objectField(PoolRef, 'amphora', (t) =>
  t.field({
    type: AmphoraRef,
    nullable: true,
    description: 'Octavia pools: the amphora (this host) running it; null for other layouts.',
    resolve: async (p, _a, ctx) => {
      if (p.layout !== 'octavia') return null;
      const obs = await ctx.session.amphora();
      return { ...obs.value, observedAt: obs.observedAt };
    },
  }),
);

builder.queryField('amphora', (t) =>
  t.field({
    type: AmphoraRef,
    nullable: true,
    description: 'The Octavia amphora this host is; null when it shows no sign of being one (no agent config, no keepalived config, no Octavia load balancer).',
    args: { maxAge: t.arg.float({ description: MAX_AGE_DESCRIPTION }) },
    resolve: async (_root, args, ctx) => {
      applyMaxAge(ctx, args.maxAge);
      const obs = await ctx.session.amphora();
      const a = obs.value;
      const hasPools = (await listPools(ctx.session)).some((p) => p.layout === 'octavia');
      if (!a.agent && !a.keepalived && !a.agentError && !hasPools) return null;
      return { ...a, observedAt: obs.observedAt };
    },
  }),
);
