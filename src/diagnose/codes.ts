// The problem codes: the one table of what each diagnosis means, how bad it is, and which probes
// it needs (lbaas is needed by all of them and not listed). The GraphQL enum, the README and the
// Nagios check all read this table, so a severity is decided here and nowhere else.
//
// How the severities were chosen:
//   CRITICAL  the VIP does not work (or not from where clients are) until someone acts:
//             nothing runs it, it is unplugged, or its traffic is dropped.
//   WARNING   the VIP works now but something is wrong that will bite: a missed reload, a stale
//             pid file the next reload trusts, a dead stats socket (neutron shows stale health),
//             every member down (often the tenant's backends, but an LB-side fault looks the
//             same, so it is not INFO), and CHECK_INCOMPLETE: a monitor that could not look must
//             not say OK.
//   INFO      nothing is broken for users: one member down while others serve (the tenant's
//             backend, routed around), leftovers to clean up when convenient.
//
// | code                      | severity | needs            |
// |---------------------------|----------|------------------|
// | NAMESPACE_MISSING         | CRITICAL | netns            |
// | HAPROXY_MISSING           | CRITICAL | proc             |
// | HAPROXY_OUTSIDE_NAMESPACE | CRITICAL | proc netns       |
// | VIP_INTERFACE_MISSING     | CRITICAL | netns ip         |
// | VIP_ADDRESS_MISSING       | CRITICAL | netns ip         |
// | INTERFACE_DOWN            | CRITICAL | netns ip         |
// | NO_DEFAULT_ROUTE          | CRITICAL | netns ip         |
// | OVS_PORT_MISSING          | CRITICAL | netns ip ovs     |
// | OVS_DEAD_VLAN             | CRITICAL | netns ip ovs     |
// | OVS_INTERFACE_ERROR       | CRITICAL | netns ip ovs     |
// | HAPROXY_PID_STALE         | WARNING  | proc             |
// | HAPROXY_CONFIG_NEWER      | WARNING  | proc             |
// | HAPROXY_MULTIPLE          | WARNING  | proc             |
// | STATS_SOCKET_DEAD         | WARNING  | proc stats       |
// | CONFIG_UNREADABLE         | WARNING  | -                |
// | CONFIG_INCOMPLETE         | WARNING  | -                |
// | PID_FILE_UNREADABLE       | WARNING  | -                |
// | IFACE_ID_MISMATCH         | WARNING  | netns ip ovs     |
// | ALL_MEMBERS_DOWN          | WARNING  | stats            |
// | CHECK_INCOMPLETE          | WARNING  | -                |
// | MEMBER_DOWN               | INFO     | stats            |
// | ORPHAN_NAMESPACE          | INFO     | netns            |
// | ORPHAN_OVS_PORT           | INFO     | ovs (netns ip)   |
//
// Host against cloud (only with a cloud configured; v2 and Octavia pools, as neutron-lbaas v1 has
// no API left to ask). CRITICAL where the disagreement means clients get nothing, WARNING where it
// will bite or where the API misleads whoever watches it:
// | API_ONLINE_BUT_DEAD       | CRITICAL | cloud proc netns ip |
// | MISSING_ON_HOST           | CRITICAL | cloud            |
// | UNKNOWN_TO_API            | WARNING  | cloud            |
// | MEMBER_SET_DRIFT          | WARNING  | cloud            |
// | PORT_BINDING_DRIFT        | WARNING  | cloud netns ip   |
// | OPERATING_STATUS_DRIFT    | WARNING  | cloud stats      |
// Amphora codes (amphora-rules.ts):
// | KEEPALIVED_DOWN           | CRITICAL | amphora proc     |
// | POLICY_ROUTE_MISSING      | CRITICAL | amphora proc netns ip rule |
// | LISTENER_COUNT_MISMATCH   | WARNING  | proc stats       |
// | HAPROXY_RESTARTING        | WARNING  | proc (history)   |
// | LOOPBACK_DOWN             | WARNING  | netns ip         |
// | HM_TARGETS_INVALID        | WARNING  | amphora          |
// | CERT_EXPIRING             | WARNING  | amphora          |
// KEEPALIVED_DOWN is CRITICAL although the VIP may still answer: the health sender stops the
// heartbeat, so Octavia fails the amphora over within about 60 s, and the VIP cannot move meanwhile.
import type { ProbeName } from '../config.ts';

export const SEVERITIES = ['CRITICAL', 'WARNING', 'INFO'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface ProblemCodeSpec {
  severity: Severity;
  /** Probes the rule reads besides lbaas. */
  needs: readonly ProbeName[];
  /** What it means, for the GraphQL enum and the docs. */
  meaning: string;
  /** Whether it concerns one pool (false: host-wide, such as leftovers). */
  perPool: boolean;
}

export const PROBLEM_CODES = {
  NAMESPACE_MISSING: { severity: 'CRITICAL', needs: ['netns'], perPool: true, meaning: "The pool's state dir exists but its namespace does not: nothing can answer on the VIP." },
  HAPROXY_MISSING: { severity: 'CRITICAL', needs: ['proc'], perPool: true, meaning: "No live haproxy runs the pool's config: the VIP refuses connections." },
  HAPROXY_OUTSIDE_NAMESPACE: { severity: 'CRITICAL', needs: ['proc', 'netns'], perPool: true, meaning: "A haproxy runs the pool's config in another network namespace than the pool's: it does not serve the VIP." },
  VIP_INTERFACE_MISSING: { severity: 'CRITICAL', needs: ['netns', 'ip'], perPool: true, meaning: "The pool's namespace has no device carrying the VIP and no tap: the VIP port is unplugged." },
  VIP_ADDRESS_MISSING: { severity: 'CRITICAL', needs: ['netns', 'ip'], perPool: true, meaning: 'The haproxy config binds an address that no interface in the namespace has.' },
  INTERFACE_DOWN: { severity: 'CRITICAL', needs: ['netns', 'ip'], perPool: true, meaning: 'The VIP interface is administratively down (no UP flag) or has no carrier (operState DOWN). An OVS internal port reports UNKNOWN when it works, so the flags decide.' },
  NO_DEFAULT_ROUTE: { severity: 'CRITICAL', needs: ['netns', 'ip'], perPool: true, meaning: "The pool's namespace has no default route for the VIP's address family: replies to clients outside the VIP subnet are lost." },
  OVS_PORT_MISSING: { severity: 'CRITICAL', needs: ['netns', 'ip', 'ovs'], perPool: true, meaning: 'The VIP tap is in the namespace but no OVS bridge has a port of that name: it is cut off from the network.' },
  OVS_DEAD_VLAN: { severity: 'CRITICAL', needs: ['netns', 'ip', 'ovs'], perPool: true, meaning: "The VIP tap's OVS port is on the dead VLAN 4095: OVS drops its traffic (the neutron agent never bound it)." },
  OVS_INTERFACE_ERROR: { severity: 'CRITICAL', needs: ['netns', 'ip', 'ovs'], perPool: true, meaning: "The VIP tap's OVS interface has ofport -1: vswitchd could not open the device." },
  HAPROXY_PID_STALE: { severity: 'WARNING', needs: ['proc'], perPool: true, meaning: "The pool's pid file names a process that is not a live haproxy on the pool's config; the agent's next reload (-sf) trusts it." },
  HAPROXY_CONFIG_NEWER: { severity: 'WARNING', needs: ['proc'], perPool: true, meaning: 'The config file changed after the live haproxy started: a reload was missed and haproxy serves the old config.' },
  HAPROXY_MULTIPLE: { severity: 'WARNING', needs: ['proc'], perPool: true, meaning: "More than one haproxy runs the pool's config: old ones draining after a reload (-sf), or one that never exits." },
  STATS_SOCKET_DEAD: { severity: 'WARNING', needs: ['proc', 'stats'], perPool: true, meaning: 'haproxy runs but its stats socket does not answer: member health is unknown and the agent reports stale statuses.' },
  CONFIG_UNREADABLE: { severity: 'WARNING', needs: [], perPool: true, meaning: "The pool's haproxy config could not be read or parsed: its VIP and members are unknown, so their checks were skipped." },
  CONFIG_INCOMPLETE: { severity: 'WARNING', needs: [], perPool: true, meaning: 'The haproxy config parses but cannot serve: only global/defaults, a frontend whose traffic goes to no backend, or a backend no frontend sends traffic to.' },
  PID_FILE_UNREADABLE: { severity: 'WARNING', needs: [], perPool: true, meaning: "The pool's pid file exists but could not be read (not a regular file, too large, unreadable): which haproxy the agent signals on reload is unknown." },
  IFACE_ID_MISMATCH: { severity: 'WARNING', needs: ['netns', 'ip', 'ovs'], perPool: true, meaning: "The VIP tap's OVS external_ids:iface-id does not start with the 11 characters of the tap name (or is missing): the agent binds it as another Neutron port." },
  ALL_MEMBERS_DOWN: { severity: 'WARNING', needs: ['stats'], perPool: true, meaning: "Every active member of the pool is DOWN: the VIP answers 503. The tenant's backends, or a network fault on the LB side (see the pool's other problems)." },
  CHECK_INCOMPLETE: { severity: 'WARNING', needs: [], perPool: false, meaning: 'A probe the checks need failed (or only a stale observation was left): those checks were skipped rather than guessed. Names the probe.' },
  MEMBER_DOWN: { severity: 'INFO', needs: ['stats'], perPool: true, meaning: 'A member is DOWN while others still serve: haproxy routes around it. Not reported per member when ALL_MEMBERS_DOWN is.' },
  ORPHAN_NAMESPACE: { severity: 'INFO', needs: ['netns'], perPool: false, meaning: 'A qlbaas- namespace that no pool state dir names: a leftover of a deleted pool.' },
  API_ONLINE_BUT_DEAD: { severity: 'CRITICAL', needs: ['cloud', 'proc', 'netns', 'ip'], perPool: true, meaning: 'The API shows the load balancer or listener ONLINE while this host has no live haproxy or no VIP for it: whoever watches the API sees a working VIP that refuses connections (neutron-lbaas v2 never downgrades it).' },
  MISSING_ON_HOST: { severity: 'CRITICAL', needs: ['cloud'], perPool: false, meaning: "The API says this host serves the load balancer (its VIP port is bound here) or pool, ACTIVE and admin-up, and nothing for it is here: the agent failed to deploy it." },
  UNKNOWN_TO_API: { severity: 'WARNING', needs: ['cloud'], perPool: true, meaning: 'A pool or load balancer deployed here that the API does not know or shows DELETED: a leftover that may still answer on a VIP now given to someone else.' },
  MEMBER_SET_DRIFT: { severity: 'WARNING', needs: ['cloud'], perPool: true, meaning: "The haproxy config's members differ from the API's (by id, address or port): a configuration push was missed." },
  PORT_BINDING_DRIFT: { severity: 'WARNING', needs: ['cloud', 'netns', 'ip'], perPool: true, meaning: "A VIP tap plugged here whose Neutron port is bound to another host, failed to bind, or is admin-down (Octavia's placeholder VIP port is admin-down by design and is not reported)." },
  OPERATING_STATUS_DRIFT: { severity: 'WARNING', needs: ['cloud', 'stats'], perPool: true, meaning: "A member's status as haproxy reports it, mapped the way Octavia maps it, differs from the API's, and both have held longer than LBTOPO_CLOUD_STATUS_GRACE: the status reports are not reaching the API." },
  KEEPALIVED_DOWN: { severity: 'CRITICAL', needs: ['amphora', 'proc'], perPool: true, meaning: "An ACTIVE_STANDBY amphora's keepalived config is present but keepalived does not run: the VIP cannot move, and the amphora sends no heartbeat, so Octavia fails it over within about 60 s." },
  POLICY_ROUTE_MISSING: { severity: 'CRITICAL', needs: ['amphora', 'proc', 'netns', 'ip', 'rule'], perPool: true, meaning: "On a MASTER or SINGLE amphora the `from VIP lookup 1` rule or policy table 1's default route is missing: replies from the VIP to clients outside its subnet are lost." },
  LISTENER_COUNT_MISMATCH: { severity: 'WARNING', needs: ['proc', 'stats'], perPool: true, meaning: "The haproxy config has another number of listeners (frontends) than haproxy reports FRONTEND rows: the health manager ignores such heartbeats and fails the amphora over." },
  HAPROXY_RESTARTING: { severity: 'WARNING', needs: ['proc'], perPool: true, meaning: "An amphora's haproxy keeps being restarted (its master or daemon process changed 3 times within 10 minutes in the /proc history; reloads keep the master): a crash loop behind Restart=always." },
  LOOPBACK_DOWN: { severity: 'WARNING', needs: ['netns', 'ip'], perPool: true, meaning: "lo is down in an amphora's namespace: old haproxy workers cannot finish and linger after reloads, and memory grows." },
  HM_TARGETS_INVALID: { severity: 'WARNING', needs: ['amphora'], perPool: false, meaning: "amphora-agent.conf's [health_manager] controller_ip_port_list is empty or has an entry that is not ip:port: heartbeats reach no health manager, so Octavia shows the load balancer OFFLINE and never fails it over." },
  CERT_EXPIRING: { severity: 'WARNING', needs: ['amphora'], perPool: false, meaning: "The amphora agent's certificate or a TLS listener's PEM expires within LBTOPO_CERT_WARNING_DAYS (or has expired): the controller can no longer talk to the agent, or clients get an expired certificate." },
  ORPHAN_OVS_PORT: { severity: 'INFO', needs: ['ovs'], perPool: false, meaning: "An OVS port whose device does not exist (ofport -1, error set) and that is no pool's VIP tap: a leftover of a deleted port." },
} as const satisfies Record<string, ProblemCodeSpec>;

export type ProblemCode = keyof typeof PROBLEM_CODES;
export const PROBLEM_CODE_NAMES = Object.keys(PROBLEM_CODES) as ProblemCode[];

export function severityOf(code: ProblemCode): Severity {
  return PROBLEM_CODES[code].severity;
}

/** 0 for CRITICAL, 1 WARNING, 2 INFO: sorts the worst first. */
export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

/** The codes a filter (code and/or severity) selects; no filter selects all. */
export function selectCodes(filter: { code?: ProblemCode | null; severity?: Severity | null } = {}): Set<ProblemCode> {
  return new Set(PROBLEM_CODE_NAMES.filter((c) => (filter.code == null || c === filter.code) && (filter.severity == null || severityOf(c) === filter.severity)));
}

/** A diagnosis: what is wrong, how bad, what to do (in message), and the objects it concerns. */
export interface Problem {
  code: ProblemCode;
  severity: Severity;
  /** For an operator: names the pool, namespace, pid, port, file, and what to do. */
  message: string;
  poolId: string | null;
  /** The namespace concerned (a pool's: also when it does not exist). */
  namespace: string | null;
  pid: number | null;
  /** Start time (epoch ms) of that process when it was seen alive: pid + start is its identity. Null for a dead pid. */
  processStartedAt: number | null;
  /** OVS port name. */
  ovsPort: string | null;
  /** Device name in `namespace`. */
  interfaceName: string | null;
  memberId: string | null;
  /** The file concerned: config, pid file or stats socket. */
  file: string | null;
  /** CHECK_INCOMPLETE: the probe that failed (and its scope after a colon). */
  probe: string | null;
}

export type ProblemLinks = Partial<Omit<Problem, 'code' | 'severity' | 'message'>>;

export function makeProblem(code: ProblemCode, message: string, links: ProblemLinks = {}): Problem {
  return {
    code,
    severity: severityOf(code),
    message,
    poolId: links.poolId ?? null,
    namespace: links.namespace ?? null,
    pid: links.pid ?? null,
    processStartedAt: links.processStartedAt ?? null,
    ovsPort: links.ovsPort ?? null,
    interfaceName: links.interfaceName ?? null,
    memberId: links.memberId ?? null,
    file: links.file ?? null,
    probe: links.probe ?? null,
  };
}

/** A stable key for one finding (dashboards diff lists by it). */
export function problemKey(p: Problem): string {
  const subject = [p.poolId, p.namespace, p.ovsPort, p.memberId, p.pid, p.probe].filter((x) => x !== null && x !== undefined).join('/');
  return `${p.code}:${subject}`;
}

/** Worst first, then by pool, code and the other links, so lists are stable. */
export function compareProblems(a: Problem, b: Problem): number {
  return (
    severityRank(a.severity) - severityRank(b.severity) ||
    (a.poolId ?? '').localeCompare(b.poolId ?? '') ||
    a.code.localeCompare(b.code) ||
    (a.namespace ?? '').localeCompare(b.namespace ?? '') ||
    (a.ovsPort ?? '').localeCompare(b.ovsPort ?? '') ||
    (a.memberId ?? '').localeCompare(b.memberId ?? '') ||
    (a.pid ?? 0) - (b.pid ?? 0) ||
    (a.probe ?? '').localeCompare(b.probe ?? '')
  );
}
