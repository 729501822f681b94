// The one gateway every host command goes through. Argument arrays only (execa never gets a
// shell), a timeout, a concurrency limit, LC_ALL=C so output does not depend on the locale, and a
// record of each run that tests and the API read to prove what ran and what it cost.
import { execa } from 'execa';
import { DiscoveryError } from './errors.ts';

export interface CommandRun {
  argv: string[];
  startedAt: number; // epoch ms
  durationMs: number;
  exitCode: number | null;
  timedOut: boolean;
  error?: string;
}

export interface RunOptions {
  /** Text written to the command's stdin (for `ip -batch -`). */
  input?: string;
  timeoutMs?: number;
  /** Abandoned requests kill their commands. */
  signal?: AbortSignal;
  /** Exit codes that are not failures (default: only 0). */
  okExitCodes?: number[];
}

export interface CommandOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface CommandGatewayOptions {
  timeoutMs?: number;
  concurrency?: number;
  /** How many run records to keep (oldest dropped first). */
  keepRuns?: number;
}

type RunListener = (run: CommandRun) => void;

export class CommandGateway {
  readonly timeoutMs: number;
  readonly concurrency: number;
  private readonly keepRuns: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly listeners = new Set<RunListener>();
  /** Every run so far (bounded), oldest first. */
  readonly runs: CommandRun[] = [];
  /** Total number of commands started since the gateway was made (never decreases). */
  runCount = 0;

  constructor(options: CommandGatewayOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.keepRuns = options.keepRuns ?? 10_000;
  }

  /** Called after each run ends; returns a function that removes the listener. */
  onRun(listener: RunListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs argv[0] with argv[1..] as arguments. Resolves with the output when the exit code is
   * accepted; otherwise rejects with a DiscoveryError naming the command and why.
   */
  async run(argv: readonly string[], options: RunOptions = {}): Promise<CommandOutput> {
    if (argv.length === 0 || !argv[0]) throw new Error('CommandGateway.run: empty argv');
    await this.acquire();
    const startedAt = Date.now();
    const t0 = performance.now();
    const record: CommandRun = { argv: [...argv], startedAt, durationMs: 0, exitCode: null, timedOut: false };
    this.runCount++;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    try {
      // A process group of its own, so a timeout kills the command and anything it started: a
      // grandchild holding stdout open would otherwise keep us waiting past the timeout.
      const subprocess = execa(argv[0], argv.slice(1), {
        input: options.input,
        cancelSignal: options.signal,
        reject: false,
        shell: false,
        detached: true,
        stripFinalNewline: false,
        env: { LC_ALL: 'C', LANG: 'C' },
        extendEnv: true,
        stdin: options.input === undefined ? 'ignore' : 'pipe',
        maxBuffer: 64 * 1024 * 1024,
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(subprocess.pid);
      }, timeoutMs);
      const result = await subprocess.finally(() => clearTimeout(timer));
      record.timedOut = timedOut;
      if (timedOut) {
        record.error = `timed out after ${timeoutMs} ms`;
        throw new DiscoveryError('timeout', argv, record.error);
      }
      record.exitCode = result.exitCode ?? null;
      const stdout = String(result.stdout ?? '');
      const stderr = String(result.stderr ?? '');
      if (result.failed && result.exitCode === undefined) {
        // Spawn failure (ENOENT, EACCES) or a signal.
        const code = (result as { code?: string }).code;
        const kind = code === 'ENOENT' ? 'not-found' : 'failed';
        record.error = kind === 'not-found' ? `${argv[0]}: command not found` : String(result.shortMessage ?? result.message);
        throw new DiscoveryError(kind, argv, record.error);
      }
      const ok = options.okExitCodes ?? [0];
      if (!ok.includes(result.exitCode ?? -1)) {
        record.error = `exit code ${result.exitCode}: ${firstLine(stderr) || firstLine(stdout)}`;
        throw new DiscoveryError('exit', argv, record.error, { exitCode: result.exitCode, stderr });
      }
      return { stdout, stderr, exitCode: result.exitCode ?? 0 };
    } finally {
      record.durationMs = performance.now() - t0;
      this.runs.push(record);
      if (this.runs.length > this.keepRuns) this.runs.splice(0, this.runs.length - this.keepRuns);
      for (const listener of this.listeners) listener(record);
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.active < this.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => { this.active++; resolve(); }));
  }

  private release(): void {
    this.active--;
    const next = this.waiting.shift();
    if (next) next();
  }
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.slice(0, 300) ?? '';
}
