// `lbtopo pools` and `lbtopo problems`: the questions typed daily, as tables (or json, yaml, csv,
// value). Each column names the GraphQL fields it needs, and the query asks only for the
// columns shown: `lbtopo pools -c id -c haproxy` reads the state dirs and /proc and runs nothing,
// exactly as the same GraphQL would. In-process, or against a server with --url.
import { parseArgs } from 'node:util';
import { settingOptions } from '../config.ts';
import { PROBLEM_CODE_NAMES, SEVERITIES } from '../diagnose/codes.ts';
import { runGraphQL, TARGET_OPTIONS, targetFromFlags, UnreachableError, UsageError } from './client.ts';
import type { GraphQLAnswer, Target } from './client.ts';
import { FORMAT_HELP, FORMAT_OPTIONS, formatRows, LIST_FORMATS, parseFormat, selectColumns } from './format.ts';
import type { Cell, Row } from './format.ts';

export interface Column<T> {
  name: string;
  /** The GraphQL selection this column needs inside the listed object. */
  fields: string;
  value: (item: T) => Cell;
}

const TARGET_HELP = `target:
  --url URL            ask a running server instead of running in-process
  --token TOKEN        bearer token for --url (default LBTOPO_TOKEN)
  --timeout DURATION   how long to wait for --url (default 30s)
  (and every serve setting, e.g. --lbaas-dir, for in-process runs: see lbtopo --help)`;

interface PoolItem {
  id: string;
  layout?: string;
  loadBalancerId?: string | null;
  namespaceName?: string;
  namespace?: { name: string } | null;
  vip?: { address: string; port: number | null } | null;
  haproxy?: { pid: number } | null;
  members?: Array<{ status: string | null }> | null;
  problems?: Array<{ severity: string; code: string }> | null;
}

export const POOL_COLUMNS: Column<PoolItem>[] = [
  { name: 'id', fields: 'id', value: (p) => p.id },
  { name: 'layout', fields: 'layout', value: (p) => p.layout?.toLowerCase() ?? null },
  { name: 'load_balancer', fields: 'loadBalancerId', value: (p) => p.loadBalancerId ?? null },
  { name: 'namespace', fields: 'namespaceName namespace { name }', value: (p) => (p.namespace ? p.namespace.name : `${p.namespaceName} (missing)`) },
  { name: 'vip', fields: 'vip { address port }', value: (p) => (p.vip ? `${p.vip.address}${p.vip.port === null ? '' : `:${p.vip.port}`}` : null) },
  { name: 'haproxy', fields: 'haproxy { pid }', value: (p) => (p.haproxy ? p.haproxy.pid : 'missing') },
  {
    name: 'members_up',
    fields: 'members { status }',
    value: (p) => {
      if (!p.members) return null;
      // A status that could not be read (stats socket dead) is unknown, not down.
      if (p.members.some((m) => m.status === null)) return `?/${p.members.length}`;
      return `${p.members.filter((m) => /^(UP|no check)/.test(m.status!)).length}/${p.members.length}`;
    },
  },
  { name: 'problems', fields: 'problems { severity code }', value: (p) => (p.problems ?? []).map((x) => x.code).join(', ') },
];

interface ProblemItem {
  severity: string;
  code: string;
  poolId?: string | null;
  namespaceName?: string | null;
  ovsPortName?: string | null;
  interfaceName?: string | null;
  memberId?: string | null;
  pid?: number | null;
  probe?: string | null;
  file?: string | null;
  message?: string;
}

/** What a problem is about besides its pool: the most specific object it names. */
function subjectOf(p: ProblemItem): string | null {
  if (p.memberId) return `member ${p.memberId}`;
  if (p.ovsPortName) return `ovs port ${p.ovsPortName}`;
  if (p.interfaceName) return `interface ${p.interfaceName}`;
  if (p.pid != null) return `pid ${p.pid}`;
  if (p.probe) return `probe ${p.probe}`;
  if (p.namespaceName) return `namespace ${p.namespaceName}`;
  return p.file ?? null;
}

export const PROBLEM_COLUMNS: Column<ProblemItem>[] = [
  { name: 'severity', fields: 'severity', value: (p) => p.severity },
  { name: 'code', fields: 'code', value: (p) => p.code },
  { name: 'pool', fields: 'poolId', value: (p) => p.poolId ?? null },
  { name: 'subject', fields: 'memberId ovsPortName interfaceName pid probe namespaceName file', value: subjectOf },
  { name: 'message', fields: 'message', value: (p) => p.message ?? null },
];

const POOLS_USAGE = `usage: lbtopo pools [--missing] [--problem CODE] [-f FORMAT] [-c COLUMN ...]

The pools on this host, one row each, sorted by id.

  --missing            only pools with no live haproxy (reads the state dirs and /proc only)
  --problem CODE       only pools with this problem (e.g. OVS_DEAD_VLAN, HAPROXY_MISSING)
  --severity S         only pools with a problem of this severity (CRITICAL, WARNING, INFO)
columns: ${POOL_COLUMNS.map((c) => c.name).join(', ')}
  (only the columns shown are looked up: -c id -c haproxy runs no command)

${FORMAT_HELP}

${TARGET_HELP}

exit: 0 listed (fields that could not be read are empty, with a note on stderr), 1 the query
failed or the server could not be reached, 2 usage error
`;

const PROBLEMS_USAGE = `usage: lbtopo problems [--severity S] [--code CODE] [-f FORMAT] [-c COLUMN ...]

Everything wrong on this host, worst first (then by pool and code). The message says what to do.

  --severity S         only this severity: CRITICAL, WARNING or INFO (CHECK_INCOMPLETE is always
                       listed: an empty list must mean nothing was found)
  --code CODE          only this code
columns: ${PROBLEM_COLUMNS.map((c) => c.name).join(', ')}

${FORMAT_HELP}

${TARGET_HELP}

exit: 0 listed, 1 the query failed or the server could not be reached, 2 usage error
`;

/** Notes for GraphQL errors beside data (e.g. a dead stats socket): one line per distinct message. */
function noteErrors(answer: GraphQLAnswer, command: string): void {
  const messages = [...new Set((answer.body.errors ?? []).map((e) => e.message))];
  for (const m of messages.slice(0, 5)) process.stderr.write(`lbtopo ${command}: note: ${m}\n`);
  if (messages.length > 5) process.stderr.write(`lbtopo ${command}: note: and ${messages.length - 5} more\n`);
}

interface ListSpec<T> {
  command: string;
  usage: string;
  columns: Column<T>[];
  extraOptions: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
  /** The root field with its arguments, from the command's own flags. */
  root: (values: Record<string, unknown>) => string;
  rootName: string;
  /** Fields the sort needs whatever the columns. */
  alwaysFields: string[];
  sort?: (a: T, b: T) => number;
}

function validated(flag: string, text: unknown, allowed: readonly string[]): string | null {
  if (text === undefined) return null;
  if (!allowed.includes(String(text))) throw new UsageError(`--${flag} ${JSON.stringify(text)}: expected one of ${allowed.join(', ')}`);
  return String(text);
}

async function runList<T>(spec: ListSpec<T>, args: string[]): Promise<number> {
  let target: Target;
  let query: string;
  let columns: string[];
  let format;
  let noindent = false;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { ...settingOptions(), ...spec.extraOptions, ...FORMAT_OPTIONS, ...TARGET_OPTIONS, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      process.stdout.write(spec.usage);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    format = parseFormat(values.format as string | undefined, LIST_FORMATS, 'table');
    columns = selectColumns(spec.columns.map((c) => c.name), values.column as string[] | undefined);
    noindent = (values.noindent as boolean | undefined) ?? false;
    const fields = [...new Set([...spec.alwaysFields, ...spec.columns.filter((c) => columns.includes(c.name)).map((c) => c.fields)])];
    query = `{ ${spec.rootName}: ${spec.root(values)} { ${fields.join(' ')} } }`;
    target = targetFromFlags(values);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`lbtopo ${spec.command}: ${(err as Error).message}\n\n${spec.usage}`);
      return 2;
    }
    throw err;
  }
  let answer: GraphQLAnswer;
  try {
    answer = await runGraphQL(target, { query });
  } catch (err) {
    if (err instanceof UnreachableError) {
      process.stderr.write(`lbtopo ${spec.command}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const items = answer.body.data?.[spec.rootName] as T[] | null | undefined;
  if (!items) {
    process.stderr.write(`lbtopo ${spec.command}: ${answer.body.errors?.[0]?.message ?? `HTTP ${answer.status}, no data`}\n`);
    return 1;
  }
  noteErrors(answer, spec.command);
  const sorted = spec.sort ? [...items].sort(spec.sort) : items;
  const rows: Row[] = sorted.map((item) => Object.fromEntries(spec.columns.filter((c) => columns.includes(c.name)).map((c) => [c.name, c.value(item)])));
  process.stdout.write(formatRows(rows, columns, format, { noindent }));
  return 0;
}

export function poolsCommand(args: string[]): Promise<number> {
  return runList<PoolItem>(
    {
      command: 'pools',
      usage: POOLS_USAGE,
      columns: POOL_COLUMNS,
      extraOptions: { missing: { type: 'boolean' }, problem: { type: 'string' }, severity: { type: 'string' } },
      rootName: 'pools',
      alwaysFields: ['id'],
      root: (v) => {
        const where = [
          v.missing ? 'haproxy: MISSING' : '',
          validated('problem', v.problem, PROBLEM_CODE_NAMES) ? `problem: ${v.problem}` : '',
          validated('severity', v.severity, SEVERITIES) ? `severity: ${v.severity}` : '',
        ].filter(Boolean);
        return where.length > 0 ? `pools(where: { ${where.join(', ')} })` : 'pools';
      },
      sort: (a, b) => a.id.localeCompare(b.id),
    },
    args,
  );
}

export function problemsCommand(args: string[]): Promise<number> {
  return runList<ProblemItem>(
    {
      command: 'problems',
      usage: PROBLEMS_USAGE,
      columns: PROBLEM_COLUMNS,
      extraOptions: { severity: { type: 'string' }, code: { type: 'string' } },
      rootName: 'problems',
      alwaysFields: [],
      root: (v) => {
        const a = [validated('severity', v.severity, SEVERITIES) ? `severity: ${v.severity}` : '', validated('code', v.code, PROBLEM_CODE_NAMES) ? `code: ${v.code}` : ''].filter(Boolean);
        return a.length > 0 ? `problems(${a.join(', ')})` : 'problems';
      },
      // The server's order: worst first, then pool, code and the other links.
    },
    args,
  );
}
