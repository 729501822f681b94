// `lbtopo query`: runs a GraphQL document from a file, stdin or --query, prints the JSON
// response. Exit codes are for scripts: 0 data without errors, 1 errors (GraphQL errors,
// a server that could not be reached), 2 usage (bad flags, no document, a bad --var).
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { runGraphQL, TARGET_OPTIONS, targetFromFlags, UnreachableError, UsageError } from './client.ts';
import { settingOptions } from '../config.ts';

export const QUERY_USAGE = `usage: lbtopo query FILE | - | --query '{ ... }' [options]

Runs a GraphQL document and prints the JSON response (data, errors, extensions).

  FILE | -             the document (a .graphql file, or - for stdin)
  -q, --query TEXT     the document inline
  --var NAME=VALUE     a variable, repeatable; VALUE is parsed as JSON when it is valid JSON
                       (--var n=3, --var 'ids=["a"]'), else taken as a string (--var id=2f...);
                       quote a number meant as a string: --var 'id="123"'
  --operation NAME     the operation to run when the document has several
  --url URL            ask a running server (http://host:4000 or .../graphql) instead of
                       running in-process
  --token TOKEN        bearer token for --url (default LBTOPO_TOKEN)
  --timeout DURATION   how long to wait for --url (default 30s)
  --compact            one line of JSON instead of indented
  (and every serve setting, e.g. --lbaas-dir, --ttl, for in-process runs: see lbtopo --help)

exit: 0 data and no errors, 1 GraphQL errors or server unreachable, 2 usage error
`;


/** --var values: JSON when it parses, else the text itself. */
export function parseVarValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function parseVars(specs: readonly string[]): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = eq > 0 ? spec.slice(0, eq) : '';
    if (!/^[_A-Za-z][_0-9A-Za-z]*$/.test(name)) throw new UsageError(`--var ${JSON.stringify(spec)}: expected NAME=VALUE with a GraphQL variable name`);
    vars[name] = parseVarValue(spec.slice(eq + 1));
  }
  return vars;
}

function readDocument(positionals: string[], inline: string | undefined): string {
  if (inline !== undefined && positionals.length > 0) throw new UsageError('give either FILE (or -) or --query, not both');
  if (positionals.length > 1) throw new UsageError(`one document at a time (got ${positionals.join(' ')})`);
  if (inline !== undefined) return inline;
  const file = positionals[0];
  if (file === undefined) throw new UsageError('no document: give FILE, - (stdin) or --query');
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file === '-' ? 'stdin' : file}: ${(err as Error).message}`);
  }
}

export async function queryCommand(args: string[]): Promise<number> {
  let request;
  let target;
  let compact = false;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        ...settingOptions(),
        query: { type: 'string', short: 'q' },
        var: { type: 'string', multiple: true },
        operation: { type: 'string' },
        ...TARGET_OPTIONS,
        compact: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(QUERY_USAGE);
      return 0;
    }
    const document = readDocument(positionals, values.query);
    if (document.trim() === '') throw new UsageError('the document is empty');
    target = targetFromFlags(values);
    compact = values.compact ?? false;
    request = { query: document, variables: parseVars(values.var ?? []), operationName: values.operation ?? null };
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`lbtopo query: ${(err as Error).message}\n\n${QUERY_USAGE}`);
      return 2;
    }
    throw err;
  }
  let answer;
  try {
    answer = await runGraphQL(target, request);
  } catch (err) {
    if (err instanceof UnreachableError) {
      process.stderr.write(`lbtopo query: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  process.stdout.write(`${JSON.stringify(answer.body, null, compact ? undefined : 2)}\n`);
  const ok = answer.body.data != null && (answer.body.errors ?? []).length === 0;
  return ok ? 0 : 1;
}
