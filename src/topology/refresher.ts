// Keeps what `check` and /metrics need warm, so a scrape or a check never waits on a cold look at
// every namespace. Each round runs the host diagnosis (every probe the rules need: state dirs,
// namespaces, /proc, every namespace's network, OVS, every stats socket) in a session that
// refreshes ahead: an observation that would expire before the next round is looked at again now.
// Rounds never overlap, and a failing round only logs: the next one tries again.
import { diagnoseHost } from '../diagnose/diagnose.ts';
import type { TopologySession } from './session.ts';

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
      await diagnoseHost(session);
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
