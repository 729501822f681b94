// The operator's everyday questions live as files in examples/queries/; GraphiQL, the tests and
// the benchmark read them from there, so there is one copy of each.
import { readFileSync } from 'node:fs';

export const EXAMPLE_QUERIES_DIR = new URL('../examples/queries/', import.meta.url);

export function readExampleQuery(name: string): string {
  return readFileSync(new URL(`${name}.graphql`, EXAMPLE_QUERIES_DIR), 'utf8');
}
