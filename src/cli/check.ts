// `lbtopo check`: a Nagios/Icinga plugin over the host's problems (the same `problems` query
// the API serves, in-process or against --url). One status line with perfdata, the plugin exit
// codes, and thresholds on the number of problems by severity.
import { parseArgs } from 'node:util';
import { ConfigError } from '../config.ts';
import { PROBLEM_CODE_NAMES, severityRank } from '../diagnose/codes.ts';
import { FLEET_PROBLEM_CODE_NAMES } from '../fleet/codes.ts';
import type { ProblemCode, Severity } from '../diagnose/codes.ts';
import { runGraphQL, TARGET_OPTIONS, targetFromFlags, UnreachableError, UsageError } from './client.ts';
import { settingOptions } from '../config.ts';

export const EXIT = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
type Status = keyof typeof EXIT;

export const CHECK_USAGE = `usage: lbtopo check [options]

Nagios/Icinga plugin: looks for problems on this LBaaS host (every code, see the ProblemCode
enum in the schema) and prints one status line with perfdata:
  LBAAS OK - 12 pools, no problems | pools=12 critical=0 warning=0 info=0

thresholds (counts of problems, after --ignore):
  --critical N         CRITICAL when there are at least N CRITICAL problems (default 1)
  --warning N          WARNING when there are at least N CRITICAL+WARNING problems (default 1);
                       so CRITICAL problems under --critical still warn
  INFO problems (a single member down, leftover namespaces and OVS ports) never alert; they
  are counted in perfdata. A probe that failed is a WARNING problem (CHECK_INCOMPLETE): a
  check that could not look does not say OK.

options:
  --ignore CODE        leave problems with this code out, repeatable (e.g. --ignore ALL_MEMBERS_DOWN)
  --max-age SECONDS    look at the host when the cached observation is older (default LBTOPO_TTL;
                       0 = look now)
  -v, --verbose        one more line per problem: severity, code and what to do
  --url URL            ask a running server instead of running in-process
  --token TOKEN        bearer token for --url (default LBTOPO_TOKEN)
  --timeout DURATION   how long to wait for --url (default 30s)
  (and every serve setting, e.g. --lbaas-dir, for in-process runs: see lbtopo --help)

exit: 0 OK, 1 WARNING, 2 CRITICAL (also when the query itself failed on the host), 3 UNKNOWN
(bad flags or settings, --url unreachable or refusing the token)
`;

const CHECK_QUERY = `query LbtopoCheck($maxAge: Float) {
  pools(maxAge: $maxAge) { id }
  problems(maxAge: $maxAge) { code severity message poolId }
}`;

interface CheckedProblem {
  code: ProblemCode;
  severity: Severity;
  message: string;
}


function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`--${flag} ${JSON.stringify(text)}: expected a whole number >= 1`);
  return Number(text);
}

/** "HAPROXY_MISSING x2, NAMESPACE_MISSING, STATS_SOCKET_DEAD": worst severity first, then by code. */
function codeSummary(problems: readonly CheckedProblem[], severities: readonly Severity[]): string {
  const counts = new Map<string, { severity: Severity; n: number }>();
  for (const p of problems) {
    if (!severities.includes(p.severity)) continue;
    const c = counts.get(p.code) ?? { severity: p.severity, n: 0 };
    c.n++;
    counts.set(p.code, c);
  }
  return [...counts]
    .sort(([a, x], [b, y]) => severityRank(x.severity) - severityRank(y.severity) || a.localeCompare(b))
    .map(([code, { n }]) => (n > 1 ? `${code} x${n}` : code))
    .join(', ');
}

export interface CheckThresholds {
  warning: number;
  critical: number;
}

/** The plugin's verdict and status line from the pools and problems (pure, for tests). */
export function evaluate(poolCount: number | null, problems: readonly CheckedProblem[], thresholds: CheckThresholds): { status: Status; line: string } {
  const count = (s: Severity) => problems.filter((p) => p.severity === s).length;
  const critical = count('CRITICAL');
  const warning = count('WARNING');
  const info = count('INFO');
  const status: Status = critical >= thresholds.critical ? 'CRITICAL' : critical + warning >= thresholds.warning ? 'WARNING' : 'OK';
  const pools = poolCount === null ? 'pools unknown' : `${poolCount} pool${poolCount === 1 ? '' : 's'}`;
  const parts = [critical > 0 ? `${critical} critical` : '', warning > 0 ? `${warning} warning` : '', info > 0 ? `${info} info` : ''].filter(Boolean);
  const alerting = codeSummary(problems, ['CRITICAL', 'WARNING']);
  const text = parts.length === 0 ? 'no problems' : `${parts.join(', ')}${alerting ? `: ${alerting}` : ''}`;
  const perfdata = `${poolCount === null ? '' : `pools=${poolCount} `}critical=${critical} warning=${warning} info=${info}`;
  return { status, line: `LBAAS ${status} - ${pools}, ${text} | ${perfdata}` };
}

function unknown(reason: string): number {
  process.stdout.write(`LBAAS UNKNOWN - ${reason.replace(/\s*\n\s*/g, ' ')}\n`);
  return EXIT.UNKNOWN;
}

export async function checkCommand(args: string[]): Promise<number> {
  let target;
  let thresholds: CheckThresholds;
  let ignored: Set<string>;
  let verbose = false;
  let maxAge: number | null = null;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        ...settingOptions(),
        warning: { type: 'string' },
        critical: { type: 'string' },
        ignore: { type: 'string', multiple: true },
        'max-age': { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        ...TARGET_OPTIONS,
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(CHECK_USAGE);
      return EXIT.OK;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    thresholds = { warning: positiveInt('warning', values.warning, 1), critical: positiveInt('critical', values.critical, 1) };
    ignored = new Set(values.ignore ?? []);
    // A fleet (--url of lbtopo fleet serve) adds HOST_STALE.
    const codes: string[] = [...PROBLEM_CODE_NAMES, ...FLEET_PROBLEM_CODE_NAMES];
    for (const code of ignored) if (!codes.includes(code)) throw new UsageError(`--ignore ${code}: not a problem code (${codes.join(', ')})`);
    if (values['max-age'] !== undefined) {
      if (!/^\d+(\.\d+)?$/.test(values['max-age'])) throw new UsageError(`--max-age ${JSON.stringify(values['max-age'])}: expected seconds >= 0`);
      maxAge = Number(values['max-age']);
    }
    verbose = values.verbose ?? false;
    target = targetFromFlags(values);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return unknown(`bad usage: ${(err as Error).message} (see lbtopo check --help)`);
    throw err;
  }

  let answer;
  try {
    answer = await runGraphQL(target, { query: CHECK_QUERY, variables: maxAge === null ? {} : { maxAge } });
  } catch (err) {
    if (err instanceof UnreachableError) return unknown(err.message);
    if (err instanceof ConfigError) return unknown(err.message);
    return unknown(`internal error: ${(err as Error).message}`);
  }
  if (answer.status === 401 || answer.status === 403) return unknown(`${target.url} refused the request (HTTP ${answer.status}): ${answer.body.errors?.[0]?.message ?? 'no detail'}`);
  const data = answer.body.data as { pools?: Array<{ id: string }> | null; problems?: CheckedProblem[] | null } | null | undefined;
  const errors = answer.body.errors ?? [];
  if (!data?.problems) {
    process.stdout.write(`LBAAS CRITICAL - the problems query failed: ${errors[0]?.message ?? `HTTP ${answer.status}, no data`}\n`);
    return EXIT.CRITICAL;
  }
  const problems = data.problems.filter((p) => !ignored.has(p.code));
  const verdict = evaluate(data.pools ? data.pools.length : null, problems, thresholds);
  let { status, line } = verdict;
  // A part of the answer that failed on the host (e.g. the pool list) is not OK either.
  if (errors.length > 0) {
    status = 'CRITICAL';
    line = line.replace(/^LBAAS \w+ - /, `LBAAS CRITICAL - query error: ${errors[0]!.message.replace(/\s*\n\s*/g, ' ')}; `);
  }
  const out = [line];
  if (verbose) for (const p of problems) out.push(`${p.severity} ${p.code}: ${p.message}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return EXIT[status];
}
