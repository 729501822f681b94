// The file worker's thread (see fs-worker.ts): runs each named job synchronously and answers
// with its result or its error.
import { parentPort } from 'node:worker_threads';
import { DiscoveryError } from './errors.ts';
import type { FsWorkerReply, FsWorkerRequest } from './fs-worker.ts';
import { readProcessHere, scanProcessesHere } from './procfs.ts';

const jobs = {
  'proc-scan': scanProcessesHere,
  'proc-read': readProcessHere,
};
export type FsJobs = typeof jobs;

parentPort?.on('message', (request: FsWorkerRequest) => {
  let reply: FsWorkerReply;
  try {
    const job = jobs[request.job] as (...args: unknown[]) => unknown;
    reply = { id: request.id, ok: true, value: job(...request.args) };
  } catch (err) {
    reply = {
      id: request.id,
      ok: false,
      error: err instanceof DiscoveryError
        ? { kind: err.kind, source: [...err.source], message: err.message }
        : { kind: null, source: [request.job], message: err instanceof Error ? err.message : String(err) },
    };
  }
  parentPort!.postMessage(reply);
});
