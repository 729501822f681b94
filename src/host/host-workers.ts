// The two worker threads host discovery uses besides netlink's (netlink.ts):
//   fileWorker    synchronous file work: the /proc scan, the LBaaS state dirs and their configs.
//                 Through the async fs API each of those ~2,000 small calls is a thread-pool round
//                 trip through the main loop (a /proc scan took 400 ms on a busy loop, 20 ms
//                 synchronously). A read that blocks stalls only this worker, until its job times out.
//   socketWorker  the haproxy stats sockets: connect, `show info;show stat`, parse, compact. Async
//                 inside, so never given blocking work: one stuck file must not delay every socket.
import { WorkerChannel } from './worker-channel.ts';

export const fileWorker = new WorkerChannel('the file worker');
export const socketWorker = new WorkerChannel('the socket worker');

/** Starts both now (a server), so no request pays a worker's start-up. */
export function startHostWorkers(): void {
  fileWorker.start();
  socketWorker.start();
}

export async function stopHostWorkers(): Promise<void> {
  await Promise.all([fileWorker.stop(), socketWorker.stop()]);
}
