// The store's writer thread (store.ts, ThreadedWrites): applies the write operations the main
// thread sends, in order, over a connection of its own to the cache file, and answers each on
// the port it was given. After each answer it bumps a shared counter, so the main thread can
// wait for answers synchronously (Atomics.wait) when it must (history(), close()). Between
// operations it asks the file every OTHER_WRITERS_POLL_MS whether another connection wrote (a
// CLI check on the same file) and says so, so the main thread stops trusting what it remembers.
import { workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ObservationWrites } from './store-writes.ts';
import type { WriteOp } from './store-writes.ts';

export interface WriterThreadData {
  file: string;
  port: MessagePort;
  /** Int32Array over a SharedArrayBuffer: [0] counts the messages posted on `port`. */
  posted: SharedArrayBuffer;
  pollMs: number;
}

export type WriterRequest = { seq: number; op: WriteOp } | { seq: number; op: 'close' };
export type WriterMessage =
  | { seq: number; reply: import('./store-writes.ts').WriteReply }
  | { seq: null; otherWriters: true }
  | { seq: null; openFailed: string };

const { file, port, posted, pollMs } = workerData as WriterThreadData;
const counter = new Int32Array(posted);

function post(message: WriterMessage): void {
  port.postMessage(message);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
}

let db: Database.Database | null = null;
let writes: ObservationWrites | null = null;
try {
  db = new Database(file, { timeout: 5000 });
  // The main thread set WAL and ran the migrations; synchronous is per connection (see store.ts).
  db.pragma('synchronous = NORMAL');
  writes = new ObservationWrites(db);
  writes.otherWriters(); // the baseline
} catch (error) {
  post({ seq: null, openFailed: error instanceof Error ? error.message : String(error) });
}

const poll = setInterval(() => {
  try {
    if (writes?.otherWriters()) post({ seq: null, otherWriters: true });
  } catch {
    // The next write says what is wrong with the file.
  }
}, pollMs);

port.on('message', (request: WriterRequest) => {
  if (request.op === 'close') {
    clearInterval(poll);
    try {
      db?.close();
    } catch {
      // Closing a broken handle may fail; the thread ends either way.
    }
    db = null;
    writes = null;
    post({ seq: request.seq, reply: { ok: true, otherWriters: false } });
    port.close();
    return;
  }
  const reply = writes ? writes.apply(request.op) : { ok: false as const, code: null, message: 'the writer thread has no open cache file', otherWriters: false };
  post({ seq: request.seq, reply });
});
