// Which cancellation a host command belongs to, without threading a signal through every probe:
// the probe runner runs each probe inside `withCancellation(signal, ...)` and the command gateway
// reads the signal of the run it is called from. AsyncLocalStorage follows the awaits in between.
import { AsyncLocalStorage } from 'node:async_hooks';

const current = new AsyncLocalStorage<AbortSignal>();

export function withCancellation<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  return current.run(signal, fn);
}

/** The signal of the probe run this code runs for, if any. */
export function currentCancellation(): AbortSignal | undefined {
  return current.getStore();
}
