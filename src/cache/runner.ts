// The cache policy between the API and host discovery. A probe (one kind of look at the host,
// for one scope such as a namespace) is served from the observation log while it is fresh
// enough; otherwise it runs, and concurrent callers needing the same probe share one run
// (single flight). A failed run never erases what we knew: the caller gets the last good
// observation marked stale with the error, or, when there is none, a ProbeFailedError.
import { DiscoveryError, toDiscoveryError } from '../host/errors.ts';
import { withCancellation } from '../host/cancellation.ts';
import type { ObservationStore } from './store.ts';

export interface ProbeDefinition<T> {
  name: string;
  /** Freshness: an observation younger than this is served without running anything. */
  ttlMs: number;
  /**
   * look.fresh: the caller asked for a look made now (maxAge 0), so a probe that keeps a live
   * replica of its source (the OVSDB monitor's) reads the source itself: the way to check the replica.
   */
  run(scope: string, look?: { fresh: boolean }): Promise<T>;
  /**
   * A small summary per subject (e.g. which haproxy runs each config), kept as its own
   * append-on-change history under `name`. Full payloads change on every look (counters, RSS),
   * so their history is short; a summary changes only when the subject does, so its history
   * reaches back days. A subject missing from a look is recorded as null: a disappearance is a change.
   */
  history?: { name: string; summarize(value: T): Map<string, unknown> };
}

export type ProbeSource = 'ran' | 'cache' | 'shared' | 'stale' | 'failed';

export interface ProbeTraceEntry {
  probe: string;
  scope: string;
  source: ProbeSource;
  durationMs: number;
  observedAt: string | null;
  error?: { kind: string; message: string };
}

export interface Observed<T> {
  value: T;
  /** Epoch ms of the latest look that saw this value. */
  observedAt: number;
  /** True when the newest look failed and this is the last good observation. */
  stale: boolean;
  error?: { kind: string; message: string };
}

/**
 * One look a request made, as the answer cache (answers.ts) needs it to tell later whether the
 * same look would now be served the same observation.
 */
export interface LookRecord {
  def: ProbeDefinition<unknown>;
  scope: string;
  maxAgeMs: number | undefined;
  aheadMs: number;
  source: ProbeSource;
  observedAt: number | null;
  payload: unknown;
}

export class ProbeFailedError extends Error {
  override readonly name = 'ProbeFailedError';
  readonly probe: string;
  readonly scope: string;
  readonly kind: string;
  constructor(probe: string, scope: string, kind: string, detail: string) {
    super(`probe ${probe}${scope ? `(${scope})` : ''} failed: ${detail}`);
    this.probe = probe;
    this.scope = scope;
    this.kind = kind;
  }
}

/**
 * A request's limits on waiting (src/graphql/limits.ts sets them): `stopWaiting` fires when its
 * deadline nears or its client leaves; from then on it starts no run and waits for none (the last
 * good observation is served, marked with a 'deadline' error). `clientGone` fires only when the
 * client left: a run that every waiter left that way is cancelled (its queued commands never
 * start, the running ones are killed); one left for a deadline goes on, so the next request finds it.
 */
export interface WaitBudget {
  stopWaiting: AbortSignal;
  clientGone: AbortSignal;
}

interface Run {
  observedAt: number;
  value: unknown;
  durationMs: number;
}

export class ProbeRunner {
  private readonly inflight = new Map<string, Promise<Run>>();
  /** Who still waits for each run in flight, to cancel a run its clients all left. */
  private readonly interest = new Map<string, { controller: AbortController; waiting: number; keep: boolean }>();
  /** Number of probe runs started (not cache hits), for tests and metrics. */
  runCount = 0;
  private readonly listeners = new Set<(entry: ProbeTraceEntry) => void>();
  /**
   * Change events (netlink, OVSDB monitor, directory watches) outdate an observation before its
   * TTL runs out. An observation is trusted only if its look started after the last event that
   * touched it: a look already running when the event came may have read the old state.
   */
  // Ordered by a sequence, not the clock: an event and a look in the same millisecond must not tie.
  private sequence = 0;
  private readonly invalidatedAt = new Map<string, number>();
  private readonly probeInvalidatedAt = new Map<string, number>();
  private readonly lastLookStartedAt = new Map<string, number>();
  /**
   * Bumped by every event and every look recorded (or failed): while it stands still, nothing a
   * request could be served has changed but the clock (answers.ts skips its per-look checks).
   */
  generation = 0;

  readonly store: ObservationStore;
  private readonly log: (message: string) => void;

  constructor(store: ObservationStore, log: (message: string) => void = (m) => console.error(m)) {
    this.store = store;
    this.log = log;
  }

  onObserve(listener: (entry: ProbeTraceEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Probes running now, as probe:scope (the check's deadline names what it was waiting for). */
  running(): string[] {
    return [...this.inflight.keys()].map((k) => k.replace('\u0000', ':').replace(/:$/, ''));
  }

  /**
   * An event says the host changed what `probe` (one scope, or every scope when none is given)
   * observes: the next caller looks again, and no caller joins a look that started before now.
   */
  invalidate(probe: string, scope?: string): void {
    const now = ++this.sequence;
    this.generation++;
    if (scope === undefined) this.probeInvalidatedAt.set(probe, now);
    else this.invalidatedAt.set(`${probe}\u0000${scope}`, now);
    for (const key of this.inflight.keys()) {
      if (scope === undefined ? key.startsWith(`${probe}\u0000`) : key === `${probe}\u0000${scope}`) this.inflight.delete(key);
    }
  }

  /** Whether an event arrived after the look that made the latest observation of (probe, scope). */
  private outdatedByEvent(probe: string, key: string): boolean {
    const event = Math.max(this.invalidatedAt.get(key) ?? 0, this.probeInvalidatedAt.get(probe) ?? 0);
    // An observation read from the file (no look in this process) predates every event here.
    return event > (this.lastLookStartedAt.get(key) ?? 0);
  }

  /**
   * options.aheadMs refreshes ahead: an observation that would expire within that long counts as
   * expired, so a background refresher keeps what checks and scrapes need warm.
   */
  async observe<T>(def: ProbeDefinition<T>, scope: string, options: { maxAgeMs?: number | undefined; aheadMs?: number; budget?: WaitBudget | undefined; looks?: LookRecord[] } = {}, trace?: ProbeTraceEntry[]): Promise<Observed<T>> {
    const t0 = performance.now();
    const emit = (entry: ProbeTraceEntry, payload?: unknown, observedAt?: number) => {
      trace?.push(entry);
      options.looks?.push({ def: def as ProbeDefinition<unknown>, scope, maxAgeMs: options.maxAgeMs, aheadMs: options.aheadMs ?? 0, source: entry.source, observedAt: observedAt ?? null, payload });
      for (const l of this.listeners) l(entry);
    };
    const key = `${def.name}\u0000${scope}`;
    const latest = this.servable(def, scope, options.maxAgeMs, options.aheadMs ?? 0);
    if (latest) {
      emit({ probe: def.name, scope, source: 'cache', durationMs: performance.now() - t0, observedAt: iso(latest.lastSeen) }, latest.payload, latest.lastSeen);
      return { value: latest.payload as T, observedAt: latest.lastSeen, stale: false };
    }
    let run = this.inflight.get(key);
    const shared = run !== undefined;
    if (!run && !options.budget?.stopWaiting.aborted) {
      const controller = new AbortController();
      const started = this.start(def, scope, key, controller.signal, options.maxAgeMs === 0);
      const interest = { controller, waiting: 0, keep: false };
      run = started;
      this.inflight.set(key, started);
      this.interest.set(key, interest);
      // An event may have replaced this run with a newer one: clear only our own entry.
      const clear = () => {
        if (this.inflight.get(key) === started) this.inflight.delete(key);
        if (this.interest.get(key) === interest) this.interest.delete(key);
      };
      started.then(clear, clear);
    }
    try {
      const result = await this.waitFor(key, run, options.budget, def.name);
      emit({ probe: def.name, scope, source: shared ? 'shared' : 'ran', durationMs: shared ? performance.now() - t0 : result.durationMs, observedAt: iso(result.observedAt) }, result.value, result.observedAt);
      return { value: result.value as T, observedAt: result.observedAt, stale: false };
    } catch (err) {
      const failure = toDiscoveryError(err, def.name);
      const error = { kind: failure.kind, message: failure.message };
      // A vanished object is news, not a failure to look: serving its old state would answer wrong.
      const lastGood = failure.kind === 'gone' ? null : this.store.latest(def.name, scope);
      if (lastGood) {
        emit({ probe: def.name, scope, source: 'stale', durationMs: performance.now() - t0, observedAt: iso(lastGood.lastSeen), error });
        return { value: lastGood.payload as T, observedAt: lastGood.lastSeen, stale: true, error };
      }
      emit({ probe: def.name, scope, source: 'failed', durationMs: performance.now() - t0, observedAt: null, error });
      throw new ProbeFailedError(def.name, scope, failure.kind, failure.message);
    }
  }

  /**
   * The observation observe() would serve from the cache now, without running or recording
   * anything; null when it would look (none, too old for maxAge, or outdated by an event).
   */
  servable(def: ProbeDefinition<unknown>, scope: string, maxAge: number | undefined, aheadMs = 0): { lastSeen: number; payload: unknown } | null {
    const maxAgeMs = (maxAge ?? def.ttlMs) - aheadMs;
    const latest = this.store.latest(def.name, scope);
    if (!latest || Date.now() - latest.lastSeen >= maxAgeMs || this.outdatedByEvent(def.name, `${def.name}\u0000${scope}`)) return null;
    return latest;
  }

  /**
   * Waits for a run within the caller's budget. Without a budget the caller waits to the end
   * and the run is never cancelled; with one, the caller stops waiting when its budget says so
   * (a 'deadline' DiscoveryError, which observe turns into the last good observation).
   */
  private waitFor(key: string, run: Promise<Run> | undefined, budget: WaitBudget | undefined, probe: string): Promise<Run> {
    const interest = this.interest.get(key);
    if (!budget) {
      if (interest) interest.keep = true;
      return run!;
    }
    const notWaited = () => new DiscoveryError('deadline', probe, `not waited for: ${reasonOf(budget.stopWaiting)}`);
    if (!run || budget.stopWaiting.aborted) return Promise.reject(notWaited());
    if (interest) interest.waiting++;
    return new Promise<Run>((resolve, reject) => {
      let left = false;
      const done = () => {
        budget.stopWaiting.removeEventListener('abort', leave);
        if (interest && !left) interest.waiting--;
      };
      const leave = () => {
        left = true;
        reject(notWaited());
        if (!interest) return;
        interest.waiting--;
        if (!budget.clientGone.aborted) interest.keep = true;
        if (interest.waiting === 0 && !interest.keep) {
          // Nobody waits any more: stop the commands it queued or runs, and let the next request start afresh.
          if (this.inflight.get(key) === run) this.inflight.delete(key);
          this.interest.delete(key);
          interest.controller.abort(budget.clientGone.reason);
        }
      };
      budget.stopWaiting.addEventListener('abort', leave, { once: true });
      run.then((r) => { done(); resolve(r); }, (e: unknown) => { done(); reject(e); });
    });
  }

  private async start<T>(def: ProbeDefinition<T>, scope: string, key: string, cancel: AbortSignal, fresh: boolean): Promise<Run> {
    this.runCount++;
    const t0 = performance.now();
    const startedAt = ++this.sequence;
    try {
      const value = await withCancellation(cancel, () => def.run(scope, { fresh }));
      const observedAt = Date.now();
      // Newest look wins: a look that an event overtook, finishing after a newer look was
      // recorded, must not overwrite what the newer one saw.
      if ((this.lastLookStartedAt.get(key) ?? 0) <= startedAt) {
        this.lastLookStartedAt.set(key, startedAt);
        this.store.record(def.name, scope, observedAt, value);
        if (def.history) this.store.recordSubjects(def.history.name, observedAt, def.history.summarize(value));
        this.generation++;
      }
      return { observedAt, value, durationMs: performance.now() - t0 };
    } catch (err) {
      // Cancelled because every client left: not a failure of the host, nothing to record.
      if (cancel.aborted) throw new DiscoveryError('deadline', def.name, `cancelled: ${reasonOf(cancel)}`);
      if (!(err instanceof DiscoveryError)) this.log(`probe ${def.name}(${scope}) threw unexpectedly: ${(err as Error)?.stack ?? err}`);
      const failure = toDiscoveryError(err, def.name);
      this.store.recordFailure(def.name, scope, Date.now(), failure.kind, failure.message);
      this.generation++;
      throw failure;
    }
  }
}

function reasonOf(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : String(reason ?? 'aborted');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
