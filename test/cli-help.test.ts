// Every subcommand answers --help (exit 0, its usage on stdout, nothing run), and --version says
// the version in package.json. Before, `serve --help` started a server and `lab up --help` built a lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const lbtopo = (args: string[]) => spawnSync(process.execPath, ['src/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 20_000, env: { ...process.env, LBTOPO_LISTEN: '127.0.0.1:1' } });

test('--help and -h on every subcommand print its usage and exit 0', () => {
  const cases: Array<[string[], RegExp]> = [
    [['serve'], /^usage: lbtopo serve /],
    [['schema'], /^usage: lbtopo schema /],
    [['demo'], /^usage: lbtopo demo /],
    [['lab', 'up'], /^usage:\n {2}lbtopo lab up /],
    [['lab', 'down'], /^usage:\n {2}lbtopo lab up /],
    [['lab'], /^usage:\n {2}lbtopo lab up /],
    [['query'], /^usage: lbtopo query /],
    [['check'], /^usage: lbtopo check /],
    [['pools'], /^usage: lbtopo pools /],
    [['problems'], /^usage: lbtopo problems /],
    [['trace'], /^usage: lbtopo trace /],
    [[], /^usage: lbtopo <command>/],
  ];
  for (const [command, usage] of cases) {
    for (const flag of ['--help', '-h']) {
      const run = lbtopo([...command, flag]);
      assert.equal(run.status, 0, `${command.join(' ')} ${flag}: ${run.stderr}`);
      assert.match(run.stdout, usage, `${command.join(' ')} ${flag}`);
      assert.equal(run.stderr, '', `${command.join(' ')} ${flag} says nothing else`);
    }
  }
});

test('--version, -V and check -V print the version from package.json', () => {
  const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
  for (const args of [['--version'], ['-V'], ['version']]) assert.equal(lbtopo(args).stdout, `lbtopo ${version}\n`, args.join(' '));
  const check = lbtopo(['check', '-V']);
  assert.equal(check.status, 0);
  assert.equal(check.stdout, `lbtopo check ${version}\n`);
});
