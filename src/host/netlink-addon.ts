// Loading the netlink addon (src/native/netlink.c, built by node-gyp into build/Release at
// install). Shared by the main thread (event watches) and the netlink worker (dumps).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NetlinkDumpResult {
  ino: number;
  dev: number;
  link: Buffer;
  addr: Buffer;
  route4: Buffer;
  route6: Buffer;
}

export interface NetlinkEventSocket {
  fd: number;
  ino: number;
  dev: number;
}

/** A watch handle: an opaque native object. */
export type NetlinkWatchHandle = object;

export interface NetlinkAddon {
  dumpNamespace(nsfsPath: string): NetlinkDumpResult;
  openEventSocket(nsfsPath: string, receiveBufferBytes?: number): NetlinkEventSocket;
  closeEventSocket(fd: number): void;
  watch(fd: number, callback: (errno: number, overflow: boolean, bytes: Buffer | null) => void): NetlinkWatchHandle;
  unwatch(handle: NetlinkWatchHandle): void;
}

/** The error a native call throws: errno is the positive errno number. */
export interface NativeError extends Error {
  syscall?: string;
  errno?: number;
}

export const ADDON_FILE = 'lbtopo_netlink.node';

export type AddonLoad = { addon: NetlinkAddon; path: string } | { addon: null; reason: string };

let loaded: AddonLoad | undefined;

/**
 * The addon from build/Release of the package root (found upward from this file, so the sources
 * under src/ and the compiled dist/src/ both find it). Loaded once per thread; the reason says
 * why not (not Linux, not built, or failing to load).
 */
export function loadNetlinkAddon(): AddonLoad {
  if (loaded) return loaded;
  if (process.platform !== 'linux') return (loaded = { addon: null, reason: `netlink needs Linux, this is ${process.platform}` });
  const here = dirname(fileURLToPath(import.meta.url));
  let path: string | null = null;
  for (let dir = here, i = 0; i < 5; i++, dir = dirname(dir)) {
    const candidate = join(dir, 'build', 'Release', ADDON_FILE);
    if (existsSync(candidate)) {
      path = candidate;
      break;
    }
  }
  if (!path) {
    return (loaded = {
      addon: null,
      reason: `build/Release/${ADDON_FILE} was not found above ${here}: the native build did not run or failed at install (npm run build:native says why)`,
    });
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NetlinkAddon;
    return (loaded = { addon, path });
  } catch (err) {
    return (loaded = { addon: null, reason: `${path} does not load: ${(err as Error).message}` });
  }
}
