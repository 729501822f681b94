// The version in package.json: one source for `lbtopo --version`, `check -V` and lbtopo_build_info.
import { readFileSync } from 'node:fs';
import { projectPath } from './paths.ts';

let version: string | null = null;
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string }).version;
  return version;
}
