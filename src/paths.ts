// Where the project's own files are, whether this module runs from src/ (tests, the bench) or from
// the compiled dist/src/ (npm start, bin/lbtopo, the image): the first folder up that holds package.json.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)));
export const projectPath = (...parts: string[]): string => join(PROJECT_ROOT, ...parts);
