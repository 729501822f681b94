// Whole answers reused while nothing they were built from has changed. A warm 200-pool trace is
// ~400 looks served from the cache, then ~35 ms of resolvers, joins and rules turning the same
// observations into the same answer again; a script polling `pools(where: {haproxy: MISSING})`
// pays that on every call. An answer is a pure function of the observations its looks were
// served (and of the clock, for ages and certificate days), so it is kept with the looks that made
// it and served again while every one of those looks would be served the same observation now:
// same row (lastSeen) and same payload, still within the maxAge asked for, not outdated by any
// change event. That is exactly when executing again would give the same answer.
//
// What is never reused: an answer any of whose looks ran into a failure or a stale observation,
// one that read outside the runner (session.reusable), one asked with maxAge 0, a mutation, one
// whose request stopped waiting (deadline), and anything while change events are not flowing
// (without the netns watch, only the per-request stat of each namespace file notices a deleted
// namespace before its TTL; a reused answer would skip it). Reuse is also capped at
// REUSE_MS after an answer was built or last checked: what depends on the clock (certificate days
// left, how long a drift has lasted) is then at most that old. What another process writes into
// the cache file moves its data_version, which store.ts notices; the next check sees the new rows.
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import type { LookRecord, ProbeRunner, ProbeTraceEntry } from './runner.ts';

export const REUSE_MS = 1000;
const MAX_ANSWERS = 64;

interface Entry {
  result: unknown;
  looks: LookRecord[];
  /** runner.generation when the looks were last found valid: unchanged means nothing to check. */
  generation: number;
  /** Epoch ms after which the looks must be checked again (the earliest expiry, capped by REUSE_MS). */
  checkBy: number;
}

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  private readonly runner: ProbeRunner;
  /** Reuse only while this says change events flow (the host watchers' netns watch). */
  private readonly eventsFlow: () => boolean;
  hits = 0;
  misses = 0;

  constructor(runner: ProbeRunner, eventsFlow: () => boolean) {
    this.runner = runner;
    this.eventsFlow = eventsFlow;
  }

  /**
   * The kept answer for `key`, with the trace its looks would give (each a cache hit), or null
   * when it must be executed.
   */
  lookup(key: string): { result: unknown; trace: ProbeTraceEntry[]; token: object } | null {
    const entry = this.valid(key);
    if (!entry) return null;
    const trace = entry.looks.map((l): ProbeTraceEntry => ({ probe: l.def.name, scope: l.scope, source: 'cache', durationMs: 0, observedAt: new Date(l.observedAt!).toISOString() }));
    return { result: entry.result, trace, token: entry };
  }

  /**
   * Whether lookup(key) would now give the answer `token` came with (the HTTP replay's check,
   * src/http/replay.ts): counted as a reuse when it would.
   */
  stillReuses(key: string, token: object): boolean {
    const entry = this.entries.get(key);
    if (entry !== token) return false;
    return this.valid(key) === token;
  }

  /** The entry for key if it may be reused now (checked and counted), else null (counted as a miss). */
  private valid(key: string): Entry | null {
    const entry = this.entries.get(key);
    if (!entry || !this.eventsFlow()) {
      this.misses++;
      return null;
    }
    const now = Date.now();
    if (entry.generation !== this.runner.generation || now >= entry.checkBy) {
      const checkBy = this.stillServed(entry.looks, now);
      if (checkBy === null) {
        this.entries.delete(key);
        this.misses++;
        return null;
      }
      entry.generation = this.runner.generation;
      entry.checkBy = checkBy;
    }
    // Most recently used last, so the oldest is evicted first.
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits++;
    return entry;
  }

  /** Keeps an executed answer when it can be reused (see the top of this file). */
  keep(key: string, result: unknown, looks: LookRecord[], reusable: boolean): void {
    if (!reusable || !this.eventsFlow() || looks.length === 0) return;
    if (looks.some((l) => l.observedAt === null || (l.source !== 'cache' && l.source !== 'ran' && l.source !== 'shared') || l.maxAgeMs === 0)) return;
    const checkBy = this.stillServed(looks, Date.now());
    if (checkBy === null) return;
    // Each (probe, scope) once: a request may look at the same thing twice (cloud and host sessions).
    const unique = new Map<string, LookRecord>();
    for (const l of looks) unique.set(`${l.def.name}\u0000${l.scope}`, l);
    this.entries.delete(key);
    this.entries.set(key, { result, looks: [...unique.values()], generation: this.runner.generation, checkBy });
    while (this.entries.size > MAX_ANSWERS) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Drops every kept answer (tests; a settings change). */
  clear(): void {
    this.entries.clear();
  }

  /**
   * Whether every look would be served the same observation now; if so, when that must be
   * checked again (the first look to expire, at most REUSE_MS from now); else null.
   */
  private stillServed(looks: readonly LookRecord[], now: number): number | null {
    let checkBy = now + REUSE_MS;
    for (const look of looks) {
      const served = this.runner.servable(look.def, look.scope, look.maxAgeMs, look.aheadMs);
      if (!served || served.lastSeen !== look.observedAt || served.payload !== look.payload) return null;
      checkBy = Math.min(checkBy, served.lastSeen + (look.maxAgeMs ?? look.def.ttlMs) - look.aheadMs);
    }
    return checkBy;
  }
}

/** lbtopo_answers_total{outcome}: queries answered by a reused answer, and executed ones. */
export function registerAnswerMetrics(registers: Registry[], answers: AnswerCache): void {
  new Counter({
    name: 'lbtopo_answers_total',
    help: 'Queries answered, by outcome: reused (every look it was built from unchanged) or executed.',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      this.inc({ outcome: 'reused' }, answers.hits);
      this.inc({ outcome: 'executed' }, answers.misses);
    },
  });
}
