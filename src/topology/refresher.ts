// Keeps what `check` and /metrics need warm, so a scrape or a check never waits on a cold look at
// every namespace. Each round looks through every probe (state dirs, namespaces, /proc, every
// namespace's network, OVS, every stats socket, the amphora's files, the cloud) in a session that
// refreshes ahead: an observation that would expire before the next round is looked at again now.
// It does not judge: the rules run when a check or a scrape asks (judging 1,000 pools on every
// round held the loop that answers requests for no one). Rounds never overlap, and a failing
// round only logs: the next one tries again.
import { PROBE_NAMES } from '../config.ts';
import { refreshProbes } from './refresh.ts';
import type { TopologySession } from './session.ts';

/** Per-namespace and per-socket looks a round has in flight at once. */
const ROUND_CONCURRENCY = 16;

export interface BackgroundRefresher {
  /** Resolves when the round in progress (if any) has ended. */
  stop(): Promise<void>;
}

export function startBackgroundRefresher(newSession: () => TopologySession, intervalMs: number, log: (message: string) => void): BackgroundRefresher {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();

  const round = async (): Promise<void> => {
    const session = newSession();
    // One and a half intervals ahead: the next round may start a little late.
    session.aheadMs = Math.round(intervalMs * 1.5);
    try {
      // A few looks at a time: the round takes as long (the workers set the pace), the loop stays free.
      await refreshProbes(session, PROBE_NAMES, { now: false, concurrency: ROUND_CONCURRENCY });
    } catch (err) {
      log(`background refresh failed: ${(err as Error).message}`);
    }
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
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
