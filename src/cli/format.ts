// Output formats for the list commands (`pools`, `problems`), as openstack CLI users expect them
// (cliff's formatters): `-f table` for people, `-f json|yaml|csv|value` for scripts, `-c COLUMN`
// (repeatable) to choose and order columns. Rows arrive sorted by the command; every format
// prints them in that order, so two runs over the same host print the same bytes.
import { UsageError } from './client.ts';

export const LIST_FORMATS = ['table', 'json', 'yaml', 'value', 'csv'] as const;
export type ListFormat = (typeof LIST_FORMATS)[number];

export type Cell = string | number | boolean | null;
export type Row = Record<string, Cell>;

export const FORMAT_HELP = `output (as the openstack CLI):
  -f, --format FORMAT  table (default), json, yaml, value (values only, space-separated), csv
  -c, --column NAME    show this column, repeatable, in the order given (default: all)
  --noindent           json on one line`;

/** parseArgs options every list command takes. */
export const FORMAT_OPTIONS = {
  format: { type: 'string', short: 'f' },
  column: { type: 'string', short: 'c', multiple: true },
  noindent: { type: 'boolean' },
} as const;

export function parseFormat<F extends string>(text: string | undefined, allowed: readonly F[], fallback: F): F {
  if (text === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(text)) throw new UsageError(`-f ${JSON.stringify(text)}: expected one of ${allowed.join(', ')}`);
  return text as F;
}

/** The columns to show: all by default, else those named (case-insensitive), in the order given. */
export function selectColumns(all: readonly string[], asked: readonly string[] | undefined): string[] {
  if (!asked || asked.length === 0) return [...all];
  return asked.map((name) => {
    const found = all.find((c) => c.toLowerCase() === name.toLowerCase());
    if (!found) throw new UsageError(`-c ${JSON.stringify(name)}: no such column (columns: ${all.join(', ')})`);
    return found;
  });
}

const text = (v: Cell) => (v === null ? '' : String(v));

/** +----+ boxes, as cliff's table formatter draws them (left-aligned, numbers right-aligned). */
function table(rows: readonly Row[], columns: readonly string[]): string {
  const cells = rows.map((r) => columns.map((c) => text(r[c] ?? null)));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => Math.max(...row[i]!.split('\n').map((l) => l.length)))));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const numeric = columns.map((c) => rows.length > 0 && rows.every((r) => typeof r[c] === 'number' || r[c] === null));
  const line = (values: string[], header = false) => {
    // A cell with several lines makes the row that tall.
    const split = values.map((v) => v.split('\n'));
    const height = Math.max(...split.map((s) => s.length));
    const out: string[] = [];
    for (let k = 0; k < height; k++) {
      out.push(`| ${split.map((s, i) => (numeric[i] && !header ? (s[k] ?? '').padStart(widths[i]!) : (s[k] ?? '').padEnd(widths[i]!))).join(' | ')} |`);
    }
    return out.join('\n');
  };
  return [rule, line([...columns], true), rule, ...cells.map((r) => line(r)), ...(rows.length > 0 ? [rule] : [])].join('\n') + '\n';
}

/** RFC 4180, every non-numeric value quoted (cliff's default, --quote nonnumeric). */
function csv(rows: readonly Row[], columns: readonly string[]): string {
  const quote = (v: Cell) => (typeof v === 'number' ? String(v) : `"${text(v).replace(/"/g, '""')}"`);
  return [columns.map((c) => quote(c)), ...rows.map((r) => columns.map((c) => quote(r[c] ?? null)))].map((l) => l.join(',')).join('\r\n') + '\r\n';
}

/** A YAML scalar: plain when YAML would read it back as the same string, else JSON-quoted (valid YAML). */
export function yamlScalar(v: Cell): string {
  if (v === null) return 'null';
  if (typeof v !== 'string') return String(v);
  const plain = /^[A-Za-z_/][A-Za-z0-9_./@+-]*$/.test(v) && !/^(true|false|null|yes|no|on|off|y|n|~)$/i.test(v);
  return plain ? v : JSON.stringify(v);
}

function yaml(rows: readonly Row[], columns: readonly string[]): string {
  if (rows.length === 0) return '[]\n';
  return rows.map((r) => columns.map((c, i) => `${i === 0 ? '- ' : '  '}${yamlScalar(c)}: ${yamlScalar(r[c] ?? null)}`).join('\n')).join('\n') + '\n';
}

export function formatRows(rows: readonly Row[], columns: readonly string[], format: ListFormat, options: { noindent?: boolean } = {}): string {
  switch (format) {
    case 'table':
      return table(rows, columns);
    case 'csv':
      return csv(rows, columns);
    case 'yaml':
      return yaml(rows, columns);
    case 'value':
      return rows.map((r) => columns.map((c) => text(r[c] ?? null)).join(' ')).join('\n') + (rows.length > 0 ? '\n' : '');
    case 'json': {
      const picked = rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null])));
      return `${JSON.stringify(picked, null, options.noindent ? undefined : 2)}\n`;
    }
  }
}
