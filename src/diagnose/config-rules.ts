// Rules on the state-dir files themselves: a config that parses but cannot serve (only `global`,
// a frontend sending traffic nowhere, a backend nothing sends traffic to), a v2 or Octavia config
// that cannot be read (no pool record exists to carry CONFIG_UNREADABLE), and a pid file that
// could not be read. Pure functions over the deployments and pools, no I/O.
import type { LbaasDeployment } from '../host/lbaas-state.ts';
import type { HaproxyConfig, HaproxyFrontend } from '../host/haproxy-config.ts';
import type { PoolRecord } from '../topology/pools.ts';
import { makeProblem } from './codes.ts';
import type { Problem } from './codes.ts';

const REDEPLOY = 'The LBaaS agent rewrites the file when it redeploys the load balancer; until then haproxy serves what the file says.';

function label(d: LbaasDeployment): string {
  return d.layout === 'v1' ? `Pool ${d.id}` : `Load balancer ${d.id}`;
}

/** Backends a frontend can send traffic to: default_backend and use_backend targets; a listen section is its own. */
function targetsOf(f: HaproxyFrontend): string[] {
  const names = f.useBackends.map((u) => u.backend);
  if (f.defaultBackend) names.push(f.defaultBackend);
  if (f.kind === 'listen') names.push(f.name);
  return names;
}

/** Frontends whose traffic goes to no backend of the config (none named, or a name with no section). */
export function frontendsWithoutBackend(config: HaproxyConfig): Array<{ frontend: HaproxyFrontend; missing: string | null }> {
  const backends = new Set(config.backends.map((b) => b.name));
  const out: Array<{ frontend: HaproxyFrontend; missing: string | null }> = [];
  for (const f of config.frontends) {
    const targets = targetsOf(f);
    if (targets.length === 0) out.push({ frontend: f, missing: null });
    else if (!targets.some((t) => backends.has(t))) out.push({ frontend: f, missing: targets.find((t) => !backends.has(t)) ?? null });
  }
  return out;
}

/** Per pool: its config has no backend for it, or nothing sends traffic to its backend. */
export function poolConfigShapeRules(pool: PoolRecord): Problem[] {
  const d = pool.deployment;
  const config = d.config;
  if (!config) return [];
  const links = { poolId: pool.id, namespace: pool.namespaceName, file: d.configPath };
  if (!pool.backend) {
    const has = config.frontends.length > 0 ? `${config.frontends.length} frontend(s) but` : 'only global/defaults and';
    return [makeProblem('CONFIG_INCOMPLETE', `${label(d)}: ${d.configPath} has ${has} no backend: the pool has no members haproxy could send traffic to. ${REDEPLOY}`, links)];
  }
  const name = pool.backend.name;
  const reached = config.frontends.some((f) => targetsOf(f).includes(name));
  if (reached) return [];
  return [
    makeProblem(
      'CONFIG_INCOMPLETE',
      `${label(d)}: backend ${name} in ${d.configPath} has no frontend (no default_backend or use_backend names it): no VIP sends traffic to the pool. ${REDEPLOY}`,
      links,
    ),
  ];
}

/** Per deployment: frontends that lead nowhere, and v2/Octavia configs with no pool at all. */
export function deploymentConfigShapeRules(d: LbaasDeployment): Problem[] {
  const links = { namespace: d.namespace, file: d.configPath };
  const config = d.config;
  if (!config) {
    // A v1 pool record exists even without a config and carries CONFIG_UNREADABLE; a v2 or Octavia
    // load balancer has pools only through its config, so without one nothing else would say so.
    if (d.layout === 'v1') return [];
    return [
      makeProblem(
        'CONFIG_UNREADABLE',
        `${label(d)}: ${d.configPath} could not be read or parsed (${d.configError ?? 'unknown error'}): its pools, VIP and members are unknown, so none of them was checked. Check the file; ${REDEPLOY}`,
        links,
      ),
    ];
  }
  const out: Problem[] = [];
  if (d.layout !== 'v1' && config.backends.length === 0) {
    out.push(makeProblem('CONFIG_INCOMPLETE', `${label(d)}: ${d.configPath} has no backend section: the load balancer serves no pool. ${REDEPLOY}`, links));
  }
  for (const { frontend, missing } of frontendsWithoutBackend(config)) {
    const why = missing ? `names backend ${missing}, which the config does not have` : 'names no backend (no default_backend, no use_backend)';
    out.push(makeProblem('CONFIG_INCOMPLETE', `${label(d)}: frontend ${frontend.name} in ${d.configPath} ${why}: its clients get 503. ${REDEPLOY}`, links));
  }
  return out;
}

/** The pid file could not be read (not merely absent): the live haproxy and stale pids are unknown. */
export function pidFileRules(pool: PoolRecord): Problem[] {
  const d = pool.deployment;
  if (d.pidError === null) return [];
  return [
    makeProblem(
      'PID_FILE_UNREADABLE',
      `${pool.layout === 'v1' ? `Pool ${pool.id}` : `Pool ${pool.id} (load balancer ${pool.loadBalancerId})`}: the pid file ${d.pidPath} could not be read (${d.pidError}): which haproxy the agent will signal on the next reload is unknown. ` +
        `It must be a small regular file holding pids; remove it and reload the pool so haproxy writes it again.`,
      { poolId: pool.id, namespace: pool.namespaceName, file: d.pidPath },
    ),
  ];
}
