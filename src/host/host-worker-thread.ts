// The thread behind each WorkerChannel (worker-channel.ts, host-workers.ts): runs the named job
// (awaiting it when it is asynchronous) and answers with its result or its error. The result
// crosses as JSON, serialized and hashed here (known-json.ts): the main thread parses it, and
// the store records that JSON instead of serializing the result again.
import { parentPort } from 'node:worker_threads';
import { DiscoveryError } from './errors.ts';
import type { HostWorkerReply, HostWorkerRequest } from './worker-channel.ts';
import { readProcessHere, scanProcessesHere } from './procfs.ts';
import { listLbaasDeploymentsHere } from './lbaas-state.ts';
import { queryCompactStats } from './haproxy-stats.ts';
import { toKnownJson } from './known-json.ts';

const jobs = {
  'proc-scan': scanProcessesHere,
  'proc-read': readProcessHere,
  'lbaas-list': listLbaasDeploymentsHere,
  'stats-query': queryCompactStats,
};
export type HostJobs = typeof jobs;

parentPort?.on('message', (request: HostWorkerRequest) => {
  const answer = (reply: HostWorkerReply) => parentPort!.postMessage(reply);
  const failed = (err: unknown) => answer({
    id: request.id,
    ok: false,
    error: err instanceof DiscoveryError
      ? { kind: err.kind, source: [...err.source], message: err.message }
      : { kind: null, source: [request.job], message: err instanceof Error ? err.message : String(err) },
  });
  try {
    const job = jobs[request.job] as (...args: unknown[]) => unknown;
    Promise.resolve(job(...request.args)).then((value) => answer({ id: request.id, ok: true, value: toKnownJson(value) }), failed);
  } catch (err) {
    failed(err);
  }
});
