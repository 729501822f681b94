// Reading a file someone else controls (a pid file, a haproxy config in a state dir) without
// letting it hang or bloat us. A FIFO as a pid file would block open() and read() for ever; a
// symlink to /dev/zero never ends; a 50 MB "config" would be parsed and stored. So:
//   - open with O_NONBLOCK (a FIFO opens at once instead of waiting for a writer) and O_NOCTTY;
//   - fstat the opened descriptor (not the path: no race with a rename) and read only regular files;
//   - refuse a file larger than the cap before reading, and never read more than cap + 1 bytes
//     (a file growing while read is refused too);
//   - give the whole read a deadline: a hung filesystem (NFS) can hold a thread-pool thread, but
//     never the probe, whose caller gets a 'timeout' at the deadline.
// readRegularFileHere does the same synchronously, for the file worker (host-workers.ts), whose
// job timeout is then the deadline.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { DiscoveryError, toDiscoveryError } from './errors.ts';

export interface SafeReadLimits {
  /** Largest size accepted, in bytes. */
  maxBytes: number;
  /** Deadline for open + fstat + read, in ms. */
  timeoutMs: number;
}

export interface SafeReadResult {
  data: Buffer;
  /** fstat of the descriptor that was read. */
  info: Stats;
}

/** A pid file holds a few pids, one a line: 4 KiB is far more than haproxy ever writes. */
export const PID_FILE_LIMITS: SafeReadLimits = { maxBytes: 4096, timeoutMs: 2000 };
/** A neutron or Octavia haproxy config is a few KiB; 4 MiB leaves room for thousands of members. */
export const CONFIG_FILE_LIMITS: SafeReadLimits = { maxBytes: 4 * 1024 * 1024, timeoutMs: 2000 };

/** What a non-regular file is, for the error. */
export function fileKind(info: Stats): string {
  if (info.isFIFO()) return 'a FIFO';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isDirectory()) return 'a directory';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads a regular file of at most limits.maxBytes. Rejects with a DiscoveryError: 'not-found'
 * (ENOENT), 'io' (not a regular file, too large, unreadable) or 'timeout'. The error never
 * carries the file's content.
 */
export function readRegularFile(path: string, limits: SafeReadLimits): Promise<SafeReadResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new DiscoveryError('timeout', path, `not read within ${limits.timeoutMs} ms (a hung filesystem?)`)), limits.timeoutMs);
  });
  const reading = readBounded(path, limits.maxBytes);
  // A read that finishes after the deadline still closes its descriptor (readBounded's finally).
  reading.catch(() => undefined);
  return Promise.race([reading, deadline]).finally(() => clearTimeout(timer));
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** Refuses what is not a regular file of at most maxBytes; else the buffer to read it into. */
function bufferFor(path: string, info: Stats, maxBytes: number): Buffer {
  if (!info.isFile()) throw new DiscoveryError('io', path, `${fileKind(info)}, not a regular file: not read`);
  if (info.size > maxBytes) throw new DiscoveryError('io', path, `too large: ${info.size} bytes (the limit is ${maxBytes}): not read`);
  // Sized by fstat plus one byte (to see growth), grown as needed, never past maxBytes + 1.
  return Buffer.alloc(Math.min(maxBytes + 1, Math.max(info.size + 1, 4096)));
}

/** The buffer with room after `length`, or a refusal once the file grew past maxBytes. */
function roomIn(path: string, buffer: Buffer, length: number, maxBytes: number): Buffer {
  if (length > maxBytes) throw new DiscoveryError('io', path, `grew beyond ${maxBytes} bytes while it was read: not read`);
  if (length < buffer.length) return buffer;
  const bigger = Buffer.alloc(Math.min(maxBytes + 1, buffer.length * 2));
  buffer.copy(bigger, 0, 0, length);
  return bigger;
}

async function readBounded(path: string, maxBytes: number): Promise<SafeReadResult> {
  let handle: FileHandle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (error) {
    throw toDiscoveryError(error, path);
  }
  try {
    const info = await handle.stat();
    let buffer = bufferFor(path, info, maxBytes);
    let length = 0;
    for (;;) {
      buffer = roomIn(path, buffer, length, maxBytes);
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    roomIn(path, buffer, length, maxBytes);
    return { data: buffer.subarray(0, length), info };
  } catch (error) {
    throw toDiscoveryError(error, path);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** readRegularFile blocking the calling thread, for the file worker (no deadline of its own). */
export function readRegularFileHere(path: string, limits: SafeReadLimits): SafeReadResult {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (error) {
    throw toDiscoveryError(error, path);
  }
  try {
    const info = fstatSync(fd);
    let buffer = bufferFor(path, info, limits.maxBytes);
    let length = 0;
    for (;;) {
      buffer = roomIn(path, buffer, length, limits.maxBytes);
      const bytesRead = readSync(fd, buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    roomIn(path, buffer, length, limits.maxBytes);
    return { data: buffer.subarray(0, length), info };
  } catch (error) {
    throw toDiscoveryError(error, path);
  } finally {
    try {
      closeSync(fd);
    } catch {
      // Closing cannot fail in a way that changes what was read.
    }
  }
}
