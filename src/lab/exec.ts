// How the lab runs host commands: execa with argument arrays (never a shell), LC_ALL=C so the
// output does not depend on the locale, and errors that name the command and its stderr, because
// a lab that fails half-built must say which step broke.
import { execa } from 'execa';

export interface LabCommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface LabRunOptions {
  /** Text fed to stdin (for `ip -batch -`). */
  input?: string;
  timeoutMs?: number;
  /** Exit codes that count as success (default: only 0). */
  okExitCodes?: number[];
  /** Extra environment (merged over the current one). */
  env?: Record<string, string>;
}

export class LabCommandError extends Error {
  override readonly name = 'LabCommandError';
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(argv: readonly string[], exitCode: number | null, stderr: string, detail: string) {
    super(`${argv.join(' ')}: ${detail}`);
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** Runs a command to completion and returns its output; throws LabCommandError on failure. */
export async function run(argv: readonly string[], options: LabRunOptions = {}): Promise<LabCommandResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty argv');
  const result = await execa(file, args, {
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : 'pipe',
    timeout: options.timeoutMs ?? 30_000,
    reject: false,
    env: { LC_ALL: 'C', LANG: 'C', ...options.env },
    extendEnv: true,
    maxBuffer: 256 * 1024 * 1024,
  });
  const stdout = String(result.stdout ?? '');
  const stderr = String(result.stderr ?? '');
  if (result.timedOut) throw new LabCommandError(argv, null, stderr, `timed out after ${options.timeoutMs ?? 30_000} ms`);
  if (result.exitCode === undefined) {
    throw new LabCommandError(argv, null, stderr, result.shortMessage ?? 'could not be started');
  }
  const ok = options.okExitCodes ?? [0];
  if (!ok.includes(result.exitCode)) {
    throw new LabCommandError(argv, result.exitCode, stderr, `exit code ${result.exitCode}: ${stderr.trim().slice(0, 2000)}`);
  }
  return { stdout, stderr, exitCode: result.exitCode };
}

/** Like run(), but never throws: cleanup code tries everything and keeps going. */
export async function tryRun(argv: readonly string[], options: LabRunOptions = {}): Promise<LabCommandResult | LabCommandError> {
  try {
    return await run(argv, options);
  } catch (error) {
    if (error instanceof LabCommandError) return error;
    return new LabCommandError(argv, null, '', error instanceof Error ? error.message : String(error));
  }
}

/** Runs fn over items with at most `limit` in flight; on 2 cores more parallelism only adds contention. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, () => worker()));
  return results;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined, or throws after timeoutMs. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
