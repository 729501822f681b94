// `lbtopo check`: a Nagios/Icinga plugin over the host's problems (the same `problems` query
// the API serves, in-process or against --url), following the plugin guidelines
// (https://nagios-plugins.org/doc/guidelines.html): one status line with perfdata, the plugin
// exit codes, -w/-c as Nagios ranges, -t for the whole run, -v/-vv/-vvv, -V.
import { parseArgs } from 'node:util';
import { ConfigError, parseDuration } from '../config.ts';
import { PROBLEM_CODE_NAMES, severityRank } from '../diagnose/codes.ts';
import { FLEET_PROBLEM_CODE_NAMES } from '../fleet/codes.ts';
import type { ProblemCode, Severity } from '../diagnose/codes.ts';
import { runGraphQL, TARGET_OPTIONS, targetFromFlags, UnreachableError, UsageError } from './client.ts';
import type { GraphQLAnswer } from './client.ts';
import { settingOptions } from '../config.ts';
import { alerts, NagiosRangeError, parseRange } from './nagios-range.ts';
import type { NagiosRange } from './nagios-range.ts';
import { packageVersion } from '../version.ts';

export const EXIT = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
type Status = keyof typeof EXIT;

/** NRPE 3 carries up to 64 KiB; older NRPE and many Nagios setups far less. Long output stops here. */
export const MAX_OUTPUT_BYTES = 8192;
const DEFAULT_TIMEOUT = '10s';

export const CHECK_USAGE = `usage: lbtopo check [-w RANGE] [-c RANGE] [-t DURATION] [-v[v[v]]] [options]

Nagios/Icinga plugin: looks for problems on this LBaaS host (every code, see the ProblemCode
enum in the schema) and prints one status line with perfdata:
  LBAAS OK - 12 pools, no problems | critical=0;;0;0 alerting=0;0;;0 warning=0;;;0 info=0;;;0 pools=12;;;0 pools_critical=0;;;0 time=0.41s;;;0

thresholds, as Nagios ranges (10 = alert above 10, 10: = below 10, ~:10 = above 10,
10:20 = outside 10..20, @10:20 = inside 10..20), counted after --ignore:
  -c, --critical RANGE CRITICAL when the number of CRITICAL problems (perfdata "critical")
                       is outside RANGE (default 0: any CRITICAL problem)
  -w, --warning RANGE  WARNING when the number of CRITICAL+WARNING problems (perfdata
                       "alerting") is outside RANGE (default 0); so CRITICAL problems inside
                       -c still warn
  INFO problems (a single member down, leftover namespaces and OVS ports) never alert; they
  are counted in perfdata. A probe that failed is a WARNING problem (CHECK_INCOMPLETE): a
  check that could not look does not say OK.

options:
  -t, --timeout DURATION  the whole run, in-process or --url (default ${DEFAULT_TIMEOUT}; e.g. 500ms,
                       30s): past it, UNKNOWN naming what was still running. Keep it under
                       check_nrpe's -t (10s by default).
  --ignore CODE        leave problems with this code out, repeatable (e.g. --ignore ALL_MEMBERS_DOWN)
  --max-age SECONDS    look at the host when the cached observation is older (default LBTOPO_TTL;
                       0 = look now)
  -v, --verbose        one more line per CRITICAL and WARNING problem (what and what to do);
                       -vv also INFO problems; -vvv also the probes that ran and their times.
                       Output stops at ${MAX_OUTPUT_BYTES} bytes (NRPE and Nagios truncate long output)
  -V, --version        print the version
  --url URL            ask a running server instead of running in-process
  --token TOKEN        bearer token for --url (default LBTOPO_TOKEN)
  (and every serve setting, e.g. --lbaas-dir, for in-process runs: see lbtopo --help)

exit: 0 OK, 1 WARNING, 2 CRITICAL (also when the query itself failed on the host), 3 UNKNOWN
(bad flags or settings, --url unreachable or refusing the token, -t reached)
`;

const CHECK_QUERY = `query LbtopoCheck($maxAge: Float) {
  pools(maxAge: $maxAge) { id }
  problems(maxAge: $maxAge) { code severity message poolId }
}`;

interface CheckedProblem {
  code: ProblemCode;
  severity: Severity;
  message: string;
  poolId?: string | null;
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
  /** On the number of CRITICAL problems. */
  critical: NagiosRange;
  /** On the number of CRITICAL + WARNING problems. */
  warning: NagiosRange;
}

export const DEFAULT_THRESHOLDS: CheckThresholds = { critical: parseRange('0'), warning: parseRange('0') };

/** label=value[UOM];[warn];[crit];[min];[max], with trailing empty fields dropped. */
export function perfdatum(label: string, value: number, options: { uom?: string; warn?: string; crit?: string; min?: number; max?: number } = {}): string {
  const quoted = /^[A-Za-z0-9_]+$/.test(label) ? label : `'${label.replace(/'/g, "''")}'`;
  const fields = [`${value}${options.uom ?? ''}`, options.warn ?? '', options.crit ?? '', options.min === undefined ? '' : String(options.min), options.max === undefined ? '' : String(options.max)];
  while (fields.length > 1 && fields[fields.length - 1] === '') fields.pop();
  return `${quoted}=${fields.join(';')}`;
}

/** The plugin's verdict and status line from the pools and problems (pure, for tests). */
export function evaluate(poolCount: number | null, problems: readonly CheckedProblem[], thresholds: CheckThresholds = DEFAULT_THRESHOLDS, seconds: number | null = null): { status: Status; line: string } {
  const count = (s: Severity) => problems.filter((p) => p.severity === s).length;
  const critical = count('CRITICAL');
  const warning = count('WARNING');
  const info = count('INFO');
  const alerting = critical + warning;
  const status: Status = alerts(thresholds.critical, critical) ? 'CRITICAL' : alerts(thresholds.warning, alerting) ? 'WARNING' : 'OK';
  const pools = poolCount === null ? 'pools unknown' : `${poolCount} pool${poolCount === 1 ? '' : 's'}`;
  const parts = [critical > 0 ? `${critical} critical` : '', warning > 0 ? `${warning} warning` : '', info > 0 ? `${info} info` : ''].filter(Boolean);
  const summary = codeSummary(problems, ['CRITICAL', 'WARNING']);
  const text = parts.length === 0 ? 'no problems' : `${parts.join(', ')}${summary ? `: ${summary}` : ''}`;
  const poolsCritical = new Set(problems.filter((p) => p.severity === 'CRITICAL' && p.poolId).map((p) => p.poolId)).size;
  const perf = [
    perfdatum('critical', critical, { crit: thresholds.critical.text, min: 0 }),
    perfdatum('alerting', alerting, { warn: thresholds.warning.text, min: 0 }),
    perfdatum('warning', warning, { min: 0 }),
    perfdatum('info', info, { min: 0 }),
    ...(poolCount === null ? [] : [perfdatum('pools', poolCount, { min: 0 }), perfdatum('pools_critical', poolsCritical, { min: 0, max: poolCount })]),
    ...(seconds === null ? [] : [perfdatum('time', Math.round(seconds * 1000) / 1000, { uom: 's', min: 0 })]),
  ];
  return { status, line: `LBAAS ${status} - ${pools}, ${text} | ${perf.join(' ')}` };
}

/** The status line, then long output cut at a line boundary to stay under max bytes. */
export function capOutput(lines: readonly string[], max = MAX_OUTPUT_BYTES): string {
  const out = [lines[0] ?? ''];
  let size = Buffer.byteLength(out[0]!) + 1;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const rest = lines.length - i;
    const note = `... ${rest} more line${rest === 1 ? '' : 's'} cut (${max} bytes); lbtopo problems lists every problem`;
    // Keep room for the note unless this is the last line and it fits.
    const need = Buffer.byteLength(line) + 1 + (i === lines.length - 1 ? 0 : Buffer.byteLength(note) + 1);
    if (size + need > max) {
      out.push(note);
      break;
    }
    out.push(line);
    size += Buffer.byteLength(line) + 1;
  }
  return `${out.join('\n')}\n`;
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ');

function unknown(reason: string): number {
  process.stdout.write(`LBAAS UNKNOWN - ${oneLine(reason)}\n`);
  return EXIT.UNKNOWN;
}

/** -v, -vv, -vvv (parseArgs counts a repeated boolean as one, so count the tokens). */
function verbosity(args: readonly string[]): number {
  let n = 0;
  for (const a of args) {
    if (a === '--') break;
    if (a === '--verbose') n++;
    else if (/^-[a-zA-Z]+$/.test(a)) n += [...a.slice(1)].filter((c) => c === 'v').length;
  }
  return n;
}

export async function checkCommand(args: string[]): Promise<number> {
  let target;
  let thresholds: CheckThresholds;
  let ignored: Set<string>;
  let verbose = 0;
  let maxAge: number | null = null;
  let deadlineMs: number;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        ...settingOptions(),
        warning: { type: 'string', short: 'w' },
        critical: { type: 'string', short: 'c' },
        ignore: { type: 'string', multiple: true },
        'max-age': { type: 'string' },
        verbose: { type: 'boolean', short: 'v', multiple: true },
        version: { type: 'boolean', short: 'V' },
        ...TARGET_OPTIONS,
        timeout: { type: 'string', short: 't' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(CHECK_USAGE);
      return EXIT.OK;
    }
    if (values.version) {
      process.stdout.write(`lbtopo check ${packageVersion()}\n`);
      return EXIT.OK;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const range = (flag: string, text: string | undefined, fallback: NagiosRange) => {
      if (text === undefined) return fallback;
      try {
        return parseRange(text);
      } catch (err) {
        throw new UsageError(`--${flag} ${(err as Error).message}`);
      }
    };
    thresholds = { warning: range('warning', values.warning, DEFAULT_THRESHOLDS.warning), critical: range('critical', values.critical, DEFAULT_THRESHOLDS.critical) };
    ignored = new Set(values.ignore ?? []);
    // A fleet (--url of lbtopo fleet serve) adds HOST_STALE.
    const codes: string[] = [...PROBLEM_CODE_NAMES, ...FLEET_PROBLEM_CODE_NAMES];
    for (const code of ignored) if (!codes.includes(code)) throw new UsageError(`--ignore ${code}: not a problem code (${codes.join(', ')})`);
    if (values['max-age'] !== undefined) {
      if (!/^\d+(\.\d+)?$/.test(values['max-age'])) throw new UsageError(`--max-age ${JSON.stringify(values['max-age'])}: expected seconds >= 0`);
      maxAge = Number(values['max-age']);
    }
    verbose = verbosity(args);
    const timeout = values.timeout ?? DEFAULT_TIMEOUT;
    const ms = parseDuration(timeout);
    if (ms === null || ms <= 0) throw new UsageError(`--timeout ${JSON.stringify(timeout)} is not a duration above 0 (e.g. 10s)`);
    deadlineMs = ms;
    target = targetFromFlags({ ...values, timeout });
  } catch (err) {
    if (err instanceof UsageError || err instanceof NagiosRangeError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return unknown(`bad usage: ${(err as Error).message} (see lbtopo check --help)`);
    throw err;
  }

  // The deadline covers everything from here: loading the app, every probe, the answer.
  const t0 = performance.now();
  let runningNow: () => string[] = () => (target.url ? [`an answer from ${target.url}`] : ['the app to start']);
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), deadlineMs);
  });
  let answer: GraphQLAnswer;
  try {
    const request = { query: CHECK_QUERY, variables: maxAge === null ? {} : { maxAge }, ...(verbose >= 3 ? { extensions: { trace: true } } : {}) };
    const run = runGraphQL(target, request, {
      signal: abort.signal,
      onApp: (app) => {
        runningNow = () => {
          const running = app.runner.running();
          return running.length > 0 ? running : ['the diagnosis (no probe running)'];
        };
      },
    });
    run.catch(() => {});
    const first = await Promise.race([run, deadline]);
    if (first === 'timeout') {
      const slow = runningNow();
      abort.abort();
      const shown = slow.slice(0, 5).join(', ') + (slow.length > 5 ? ` and ${slow.length - 5} more` : '');
      process.stdout.write(`LBAAS UNKNOWN - timed out after ${deadlineMs / 1000}s (-t) waiting for ${shown}\n`);
      // Probes still running (an `ip` that hangs, a silent stats socket) must not hold the plugin
      // past its deadline: the monitoring system kills it next, with a less useful message.
      process.exitCode = EXIT.UNKNOWN;
      setImmediate(() => process.exit(EXIT.UNKNOWN));
      return EXIT.UNKNOWN;
    }
    answer = first;
  } catch (err) {
    if (err instanceof UnreachableError) return unknown(err.message);
    if (err instanceof ConfigError) return unknown(err.message);
    return unknown(`internal error: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  if (answer.status === 401 || answer.status === 403) return unknown(`${target.url} refused the request (HTTP ${answer.status}): ${answer.body.errors?.[0]?.message ?? 'no detail'}`);
  const data = answer.body.data as { pools?: Array<{ id: string }> | null; problems?: CheckedProblem[] | null } | null | undefined;
  const errors = answer.body.errors ?? [];
  if (!data?.problems) {
    process.stdout.write(`LBAAS CRITICAL - the problems query failed: ${oneLine(errors[0]?.message ?? `HTTP ${answer.status}, no data`)}\n`);
    return EXIT.CRITICAL;
  }
  const problems = data.problems.filter((p) => !ignored.has(p.code));
  let { status, line } = evaluate(data.pools ? data.pools.length : null, problems, thresholds, seconds);
  // A part of the answer that failed on the host (e.g. the pool list) is not OK either.
  if (errors.length > 0) {
    status = 'CRITICAL';
    line = line.replace(/^LBAAS \w+ - /, `LBAAS CRITICAL - query error: ${oneLine(errors[0]!.message)}; `);
  }
  const lines = [line];
  const shown: Severity[] = verbose >= 2 ? ['CRITICAL', 'WARNING', 'INFO'] : verbose === 1 ? ['CRITICAL', 'WARNING'] : [];
  for (const p of problems) if (shown.includes(p.severity)) lines.push(`${p.severity} ${p.code}: ${oneLine(p.message)}`);
  if (verbose >= 3) {
    const probes = (answer.body.extensions?.probes ?? []) as Array<{ probe: string; scope: string; source: string; durationMs: number }>;
    for (const p of probes) lines.push(`probe ${p.probe}${p.scope ? ` ${p.scope}` : ''}: ${p.source} in ${p.durationMs} ms`);
  }
  process.stdout.write(capOutput(lines));
  return EXIT[status];
}
