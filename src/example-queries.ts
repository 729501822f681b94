// The operator's everyday questions live as files in examples/queries/; GraphiQL, the tests and
// the benchmark read them from there, so there is one copy of each.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { projectPath } from './paths.ts';

export const EXAMPLE_QUERIES_DIR = pathToFileURL(projectPath('examples', 'queries') + '/');

export function readExampleQuery(name: string): string {
  return readFileSync(new URL(`${name}.graphql`, EXAMPLE_QUERIES_DIR), 'utf8');
}
