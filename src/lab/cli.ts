// `lbtopo lab up|down`: a lab from the shell. A lab made here outlives the command (its lock is
// held by a detached holder) until `lbtopo lab down`.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DEFAULT_BASE_DIR, isPoolFault, labDown, labDownAll, labUp, POOL_FAULTS, type Lab, type PoolFault } from './lab.ts';

const USAGE = `usage:
  lbtopo lab up [--pools N] [--v2 N] [--octavia 0|1] [--amphora-pair] [--fault POOLINDEX:FAULT ...] [--orphans] [--dir BASE] [--no-wait]
  lbtopo lab down [DIR | --all] [--dir BASE]

  up     builds a lab (default 3 v1 pools, 1 v2 load balancer, no Octavia amphora) under BASE
         (default ${DEFAULT_BASE_DIR}), prints its dir, the LBTOPO_* settings that point lbtopo at it
         and its pools (v1 first, then v2, then Octavia); the lab stays up. --octavia 1 adds one
         amphora load balancer (namespace amphora-haproxy, VIP on eth1); at most one fits a host.
         --amphora-pair adds an ACTIVE_STANDBY pair with real keepalived (namespaces lbta-<lab>-0/1);
         the settings printed for each amphora point one lbtopo at it
  down   undoes the lab in DIR, or every lab under BASE with --all
  faults: ${POOL_FAULTS.join(', ')}
`;

class UsageError extends Error {}

function wholeNumber(value: string | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`${option} needs a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

function parseFault(spec: string): { index: number; fault: PoolFault } {
  const match = /^(\d+):(.+)$/.exec(spec);
  if (!match || !isPoolFault(match[2] ?? '')) throw new UsageError(`--fault needs POOLINDEX:FAULT (faults: ${POOL_FAULTS.join(', ')}), got ${JSON.stringify(spec)}`);
  return { index: Number(match[1]), fault: match[2] as PoolFault };
}

export async function labCommand(args: string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  try {
    switch (subcommand) {
      case 'up':
        return await up(rest);
      case 'down':
        return await down(rest);
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE);
        return 0;
      default:
        throw new UsageError(subcommand === undefined ? 'lab needs a subcommand' : `unknown lab subcommand ${JSON.stringify(subcommand)}`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`lbtopo lab: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`lbtopo lab: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

async function up(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      pools: { type: 'string' },
      v2: { type: 'string' },
      octavia: { type: 'string' },
      fault: { type: 'string', multiple: true },
      orphans: { type: 'boolean' },
      'amphora-pair': { type: 'boolean' },
      dir: { type: 'string' },
      'no-wait': { type: 'boolean' },
    },
  });
  if (positionals.length > 0) throw new UsageError(`lab up takes no arguments, got ${positionals.join(' ')}`);
  const v1Pools = wholeNumber(values.pools, '--pools', 3);
  const v2LoadBalancers = wholeNumber(values.v2, '--v2', 1);
  const octaviaLoadBalancers = wholeNumber(values.octavia, '--octavia', 0);
  if (octaviaLoadBalancers > 1) throw new UsageError(`--octavia is 0 or 1 (an amphora's namespace is always amphora-haproxy), got ${octaviaLoadBalancers}`);
  const poolCount = v1Pools + v2LoadBalancers + octaviaLoadBalancers;
  const faults = (values.fault ?? []).map(parseFault);
  for (const { index } of faults) {
    if (index >= poolCount) throw new UsageError(`--fault pool index ${index} is out of range (the lab has ${poolCount} pools, from 0)`);
  }

  const lab = await labUp({
    v1Pools,
    v2LoadBalancers,
    octaviaLoadBalancers,
    amphoraPair: values['amphora-pair'] ?? false,
    ...(values.dir === undefined ? {} : { baseDir: values.dir }),
    waitForHealth: !values['no-wait'],
    outliveProcess: true,
  });
  try {
    for (const { index, fault } of faults) {
      const pool = lab.pools[index];
      if (pool) await lab.injectFault(pool.poolId, fault);
    }
    if (values.orphans) {
      await lab.addOrphanNamespace();
      await lab.addOrphanOvsPort();
    }
  } catch (error) {
    await lab.down();
    throw error;
  }
  process.stdout.write(describeLab(lab));
  return 0;
}

async function down(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { all: { type: 'boolean' }, dir: { type: 'string' } },
  });
  if (values.all) {
    if (positionals.length > 0) throw new UsageError('lab down takes either DIR or --all');
    await labDownAll(values.dir ?? DEFAULT_BASE_DIR);
    return 0;
  }
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError('lab down needs DIR or --all');
  await labDown(positionals[0]);
  return 0;
}

export function describeLab(lab: Lab): string {
  const lines = [lab.dir, ...Object.entries(lab.env()).map(([key, value]) => `${key}=${value}`), ''];
  const rows = lab.pools.map((pool, index) => [
    String(index),
    pool.layout,
    pool.poolId,
    pool.namespace,
    pool.tapName,
    `${pool.vip}/${pool.prefixLength}`,
    String(lab.haproxyPid(pool.poolId) ?? '-'),
    pool.faults.join(',') || '-',
  ]);
  const header = ['#', 'layout', 'pool', 'namespace', 'tap', 'vip', 'haproxy', 'faults'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const format = (row: string[]): string => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  lines.push(format(header), ...rows.map(format));
  for (const amp of lab.amphoraPair?.amphorae ?? []) {
    const env = Object.entries(lab.amphoraEnv(amp.index)).filter(([key]) => key.startsWith('LBTOPO_AMPHORA') || key === 'LBTOPO_OCTAVIA_DIR');
    lines.push('', `amphora ${amp.index} (${amp.role}, VRRP ${amp.vrrpIp}, VIP ${lab.amphoraPair!.vip}): ${env.map(([key, value]) => `${key}=${value}`).join(' ')}`);
  }
  if (lab.orphanNamespaces.length > 0 || lab.orphanOvsPorts.length > 0) lines.push('');
  if (lab.orphanNamespaces.length > 0) lines.push(`orphan namespaces: ${lab.orphanNamespaces.join(' ')}`);
  if (lab.orphanOvsPorts.length > 0) lines.push(`orphan OVS ports: ${lab.orphanOvsPorts.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

// Also runnable on its own: node src/lab/cli.ts up --pools 2
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  labCommand(process.argv.slice(2)).then((code) => process.exit(code));
}
