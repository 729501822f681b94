// The policy-routing rules of one namespace (`ip rule`), for the amphora's `from VIP lookup 1`.
// Kept apart from iproute.ts on purpose: the `ip -batch` of addresses and routes is being replaced
// by an in-process netlink reader, and rules are only needed in amphora namespaces, so this is
// its own small probe that either reader can sit beside.
//   ip -j -n NS rule show      → IPv4 rules
//   ip -6 -j -n NS rule show   → IPv6 rules (a batch line cannot carry -6, see iproute.ts)
// Recorded output (iproute2 6.1.0):
//   [{"priority":0,"src":"all","table":"local"},{"priority":100,"src":"10.0.0.5","table":"1"},
//    {"priority":101,"src":"10.0.1.0","srclen":24,"table":"2"},{"priority":32766,"src":"all","table":"main"}, …]
// A host source (/32, /128) has no "srclen".
import { z } from 'zod';
import type { CommandGateway } from './exec.ts';
import { DiscoveryError } from './errors.ts';
import { isMissingNamespace } from './iproute.ts';
import { isValidNamespaceName } from './names.ts';

export interface IpRule {
  family: 'inet' | 'inet6';
  priority: number | null;
  /** 'all' or an address. */
  source: string;
  /** null: a host source (/32 or /128) or 'all'. */
  sourceLength: number | null;
  destination: string | null;
  /** Table id as a number, or its name (local, main, default). */
  table: number | string | null;
  /** unicast (lookup), blackhole, unreachable, prohibit, goto, nop. */
  action: string | null;
}

const ruleSchema = z.object({
  priority: z.number().int().optional(),
  src: z.string().optional(),
  srclen: z.number().int().optional(),
  dst: z.string().optional(),
  table: z.union([z.string(), z.number()]).optional(),
  action: z.string().optional(),
});

export function ipRuleArgv(namespace: string, family: 'inet' | 'inet6'): string[] {
  return family === 'inet6' ? ['ip', '-6', '-j', '-n', namespace, 'rule', 'show'] : ['ip', '-j', '-n', namespace, 'rule', 'show'];
}

export function parseIpRules(stdout: string, family: 'inet' | 'inet6', argv: readonly string[]): IpRule[] {
  let value: unknown;
  try {
    value = JSON.parse(stdout.trim() === '' ? '[]' : stdout);
  } catch (error) {
    throw new DiscoveryError('parse', argv, `not JSON: ${(error as Error).message}`);
  }
  const parsed = z.array(ruleSchema).safeParse(value);
  if (!parsed.success) throw new DiscoveryError('parse', argv, `unexpected JSON: ${z.prettifyError(parsed.error)}`);
  return parsed.data.map((r) => ({
    family,
    priority: r.priority ?? null,
    source: r.src ?? 'all',
    sourceLength: r.srclen ?? null,
    destination: r.dst ?? null,
    table: r.table === undefined ? null : typeof r.table === 'number' || !/^\d+$/.test(r.table) ? r.table : Number(r.table),
    action: r.action ?? null,
  }));
}

/** Both families' rules of a named namespace. A missing namespace is 'gone'; bad names never run. */
export async function readIpRules(gateway: CommandGateway, namespace: string): Promise<IpRule[]> {
  if (!isValidNamespaceName(namespace)) throw new DiscoveryError('invalid', ipRuleArgv(namespace, 'inet'), `not a valid namespace name: ${JSON.stringify(namespace)}`);
  const one = async (family: 'inet' | 'inet6') => {
    const argv = ipRuleArgv(namespace, family);
    try {
      return parseIpRules((await gateway.run(argv)).stdout, family, argv);
    } catch (err) {
      if (err instanceof DiscoveryError && err.kind === 'exit' && isMissingNamespace(err.stderr ?? '')) {
        throw new DiscoveryError('gone', argv, `namespace ${namespace} does not exist (any more)`, { exitCode: err.exitCode, stderr: err.stderr });
      }
      throw err;
    }
  };
  const [v4, v6] = await Promise.all([one('inet'), one('inet6')]);
  return [...v4, ...v6];
}

/** Whether a rule sends traffic from `address` (as a host source) to `table`. */
export function isSourceRule(rule: IpRule, address: string, table: number | string): boolean {
  const hostLength = rule.family === 'inet6' ? 128 : 32;
  return rule.source === address && (rule.sourceLength === null || rule.sourceLength === hostLength) && rule.table === table && (rule.action === null || rule.action === 'unicast');
}
