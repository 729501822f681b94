// The main thread's end of the store's writer thread (store-writer-thread.ts): sends write
// operations in order, hands each answer to the store, and can wait for answers synchronously
// when the store must read what it wrote (history(), close()). Nothing here knows SQL.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { WriteOp } from './store-writes.ts';
import type { WriterMessage, WriterRequest, WriterThreadData } from './store-writer-thread.ts';

const threadUrl = new URL(`./store-writer-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

export class WriterThread {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly posted: Int32Array;
  private readonly onMessage: (message: WriterMessage) => void;
  private readonly onEnd: (reason: string) => void;
  private nextSeq = 1;
  private ended = false;
  /** The close request's seq once sent, and whether it was answered. */
  private closing: { seq: number; answered: boolean } | null = null;

  /**
   * `onMessage` gets every message, in order, whether received by the loop or by receiveUntil();
   * `onEnd` is told once if the thread dies or cannot start (its unanswered operations are the
   * store's to replay).
   */
  constructor(file: string, pollMs: number, onMessage: (message: WriterMessage) => void, onEnd: (reason: string) => void) {
    this.onMessage = onMessage;
    this.onEnd = onEnd;
    const { port1, port2 } = new MessageChannel();
    const shared = new SharedArrayBuffer(4);
    this.posted = new Int32Array(shared);
    this.port = port1;
    const data: WriterThreadData = { file, port: port2, posted: shared, pollMs };
    this.worker = new Worker(threadUrl, { workerData: data, transferList: [port2], execArgv: [] });
    // Neither keeps the process alive: close() waits for what is unwritten.
    this.worker.unref();
    this.port.unref();
    this.port.on('message', (message: WriterMessage) => this.dispatch(message));
    this.worker.on('error', (err) => this.end(`the store's writer thread failed: ${err.message}`));
    this.worker.on('exit', (code) => this.end(`the store's writer thread exited (code ${code})`));
  }

  send(op: WriteOp): number {
    const seq = this.nextSeq++;
    this.port.postMessage({ seq, op } satisfies WriterRequest);
    return seq;
  }

  /**
   * Blocks this thread, handing messages to onMessage as they come, until `done()` or `timeoutMs`;
   * false when the time ran out (the thread is then stuck or gone).
   */
  receiveUntil(done: () => boolean, timeoutMs: number): boolean {
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      if (this.ended) return false;
      const seen = Atomics.load(this.posted, 0);
      const received = receiveMessageOnPort(this.port);
      if (received) {
        this.dispatch(received.message as WriterMessage);
        continue;
      }
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.posted, 0, seen, Math.min(left, 100));
    }
    return true;
  }

  /** Closes the thread's connection (after every operation sent) and ends it. */
  close(timeoutMs: number): void {
    if (this.ended) return;
    const closing = { seq: this.nextSeq++, answered: false };
    this.closing = closing;
    this.port.postMessage({ seq: closing.seq, op: 'close' } satisfies WriterRequest);
    this.receiveUntil(() => closing.answered, timeoutMs);
    this.terminate();
  }

  /** Answers to earlier operations still go to the store; the close answer ends close()'s wait. */
  private dispatch(message: WriterMessage): void {
    if (this.closing && message.seq === this.closing.seq) this.closing.answered = true;
    else this.onMessage(message);
  }

  terminate(): void {
    this.ended = true;
    this.port.close();
    void this.worker.terminate();
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.port.close();
    this.onEnd(reason);
  }
}
