// The typed failure of a discovery step. Every probe turns what went wrong (a missing command, a
// timeout, a non-zero exit, output that does not parse, a vanished namespace) into one of these,
// naming the command or file, so callers can say exactly what could not be seen and why.

export type DiscoveryErrorKind =
  | 'not-found' // the command (or file) does not exist
  | 'timeout' // the command did not finish in time
  | 'exit' // the command exited with a failure code
  | 'failed' // the command could not be started or was killed
  | 'parse' // the output did not have the expected shape
  | 'gone' // the object (namespace, process) vanished while we looked
  | 'invalid' // a name was refused before it reached any command
  | 'io' // a file could not be read
  | 'overloaded' // refused: too many commands already wait for a slot
  | 'deadline'; // not waited for: the request's deadline came or its client went away

export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
  readonly kind: DiscoveryErrorKind;
  /** The command (argv) or file path involved. */
  readonly source: readonly string[];
  readonly exitCode?: number | undefined;
  readonly stderr?: string | undefined;

  constructor(
    kind: DiscoveryErrorKind,
    source: readonly string[] | string,
    detail: string,
    extra: { exitCode?: number | undefined; stderr?: string | undefined } = {},
  ) {
    const src = typeof source === 'string' ? [source] : [...source];
    super(`${src.join(' ')}: ${detail}`);
    this.kind = kind;
    this.source = src;
    this.exitCode = extra.exitCode;
    this.stderr = extra.stderr;
  }
}

/** Wraps anything thrown into a DiscoveryError so nothing untyped escapes a probe. */
export function toDiscoveryError(err: unknown, source: readonly string[] | string): DiscoveryError {
  if (err instanceof DiscoveryError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && e.code === 'ENOENT') return new DiscoveryError('not-found', source, e.message);
  return new DiscoveryError('io', source, e instanceof Error ? e.message : String(err));
}
