// The one gateway every host command goes through. Argument arrays only (execa never gets a
// shell), a timeout, a concurrency limit, LC_ALL=C so output does not depend on the locale, and a
// record of each run that tests and the API read to prove what ran and what it cost.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { DiscoveryError } from './errors.ts';
import { currentCancellation } from './cancellation.ts';
import { killMarkedProcesses, outputPipesOf, RUN_MARK_VARIABLE } from './descendants.ts';

export interface CommandRun {
  argv: string[];
  startedAt: number; // epoch ms
  durationMs: number;
  exitCode: number | null;
  timedOut: boolean;
  /** Pids outside the command's process group ended at its timeout (setsid, double fork). */
  killedDescendants?: number[];
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
  /** How many commands may wait for a slot; beyond that a run is refused at once (kind 'overloaded'). */
  queueLimit?: number;
}

type RunListener = (run: CommandRun) => void;

export class CommandGateway {
  readonly timeoutMs: number;
  readonly concurrency: number;
  private readonly keepRuns: number;
  readonly queueLimit: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** Runs refused because the queue was full (never decreases). */
  queueRefusals = 0;
  private readonly listeners = new Set<RunListener>();
  /** Every run so far (bounded), oldest first. */
  readonly runs: CommandRun[] = [];
  /** Total number of commands started since the gateway was made (never decreases). */
  runCount = 0;

  constructor(options: CommandGatewayOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.keepRuns = options.keepRuns ?? 10_000;
    this.queueLimit = Math.max(0, options.queueLimit ?? 4096);
  }

  /** Commands waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
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
    // A probe run nobody waits for any more (its clients left) cancels the commands it queued.
    const signal = options.signal ?? currentCancellation();
    await this.acquire(argv, signal);
    const startedAt = Date.now();
    const t0 = performance.now();
    const record: CommandRun = { argv: [...argv], startedAt, durationMs: 0, exitCode: null, timedOut: false };
    this.runCount++;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const mark = `${process.pid}-${this.runCount}-${randomBytes(6).toString('hex')}`;
    try {
      // A process group of its own, so a timeout kills the command and anything it started: a
      // grandchild holding stdout open would otherwise keep us waiting past the timeout.
      const subprocess = execa(argv[0], argv.slice(1), {
        input: options.input,
        cancelSignal: signal,
        reject: false,
        shell: false,
        detached: true,
        stripFinalNewline: false,
        env: { LC_ALL: 'C', LANG: 'C', [RUN_MARK_VARIABLE]: mark },
        extendEnv: true,
        stdin: options.input === undefined ? 'ignore' : 'pipe',
        maxBuffer: 64 * 1024 * 1024,
      });
      const pipes = outputPipesOf(subprocess.pid);
      let timedOut = false;
      let giveUp: (() => void) | undefined;
      const gaveUp = new Promise<null>((resolve) => { giveUp = () => resolve(null); });
      let grace: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(subprocess.pid);
        const killed = killMarkedProcesses(mark, pipes);
        if (killed.length > 0) record.killedDescendants = killed;
        // Whatever still holds the pipes (a process that cleared its environment and closed
        // nothing we know of) no longer holds the slot: we stop waiting a second later.
        grace = setTimeout(() => giveUp?.(), 1000);
        grace.unref();
      }, timeoutMs);
      const settled = await Promise.race([subprocess, gaveUp]).finally(() => {
        clearTimeout(timer);
        clearTimeout(grace);
      });
      if (settled === null) {
        subprocess.stdout?.destroy();
        subprocess.stderr?.destroy();
        subprocess.catch(() => {});
      }
      record.timedOut = timedOut;
      if (timedOut) {
        record.error = `timed out after ${timeoutMs} ms`;
        throw new DiscoveryError('timeout', argv, record.error);
      }
      const result = settled!;
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

  private acquire(argv: readonly string[], signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(new DiscoveryError('failed', argv, `not started: ${abortReason(signal)}`));
    if (this.active < this.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.queueLimit) {
      this.queueRefusals++;
      return Promise.reject(new DiscoveryError('overloaded', argv, `refused: ${this.waiting.length} commands already wait for one of ${this.concurrency} slots (LBTOPO_COMMAND_QUEUE)`));
    }
    return new Promise((resolve, reject) => {
      const start = () => {
        signal?.removeEventListener('abort', leave);
        this.active++;
        resolve();
      };
      // A caller that gives up while waiting leaves the queue: its command never starts.
      const leave = () => {
        const at = this.waiting.indexOf(start);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new DiscoveryError('failed', argv, `not started: ${abortReason(signal!)}`));
      };
      signal?.addEventListener('abort', leave, { once: true });
      this.waiting.push(start);
    });
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

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : String(reason ?? 'aborted');
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.slice(0, 300) ?? '';
}
