// Enum values that the host schema and the fleet schema (src/fleet/graphql/) both show. Each
// schema has its own Pothos builder, so each makes its own enum types, from these one tables.

export const POOL_LAYOUT_VALUES = {
  V1: { value: 'v1', description: 'neutron-lbaas v1: <lbaas dir>/<pool id>/conf, pid, sock; namespace qlbaas-<pool id>.' },
  V2: { value: 'v2', description: 'neutron-lbaas v2: <lbaas dir>/v2/<lb id>/haproxy.conf, haproxy.pid, haproxy_stats.sock; namespace qlbaas-<lb id>.' },
  OCTAVIA: { value: 'octavia', description: 'Octavia amphora: <octavia dir>/<lb id>/haproxy.cfg; namespace amphora-haproxy.' },
} as const;

export const HAPROXY_PRESENCE_VALUES = {
  RUNNING: { value: 'RUNNING', description: 'A live haproxy runs the pool config.' },
  MISSING: { value: 'MISSING', description: 'No live haproxy runs the pool config.' },
} as const;

export const SEVERITY_VALUES = {
  CRITICAL: { value: 'CRITICAL', description: 'The VIP does not work (or not from where clients are) until someone acts.' },
  WARNING: { value: 'WARNING', description: 'It works now but something is wrong that will bite (or a check could not be made).' },
  INFO: { value: 'INFO', description: 'Nothing is broken for users: a single member down, leftovers to clean up.' },
} as const;
