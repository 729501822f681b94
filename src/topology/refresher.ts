// Keeps what `check` and /metrics need warm, so a scrape or a check never waits on a cold look at
// every namespace. Each round runs the host diagnosis (every probe the rules need: state dirs,
// namespaces, /proc, every namespace's network, OVS, every stats socket) in a session that
// refreshes ahead: an observation that would expire before the next round is looked at again now.
// Rounds never overlap, and a failing round only logs: the next one tries again.
import { diagnoseHost } from '../diagnose/diagnose.ts';
import type { TopologySession } from './session.ts';

export interface BackgroundRefresher {
  /** Rounds finished, and the duration of the last one (ms): for tests, /metrics and the bench. */
  readonly stats: { rounds: number; lastDurationMs: number; lastError: string | null };
  /** Resolves when the round in progress (if any) has ended. */
  stop(): Promise<void>;
}

export function startBackgroundRefresher(newSession: () => TopologySession, intervalMs: number, log: (message: string) => void): BackgroundRefresher {
  const stats = { rounds: 0, lastDurationMs: 0, lastError: null as string | null };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();

  const round = async (): Promise<void> => {
    const t0 = performance.now();
    const session = newSession();
    // One and a half intervals ahead: the next round may start a little late.
    session.aheadMs = Math.round(intervalMs * 1.5);
    try {
      await diagnoseHost(session);
      stats.lastError = null;
    } catch (err) {
      stats.lastError = (err as Error).message;
      log(`background refresh failed: ${stats.lastError}`);
    }
    stats.rounds++;
    stats.lastDurationMs = performance.now() - t0;
  };
  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      current = round().finally(() => schedule(intervalMs));
    }, delayMs);
    timer.unref();
  };
  schedule(0);
  return {
    stats,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
