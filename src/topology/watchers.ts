// Change events that outdate cached observations before their TTL runs out, so a warm answer is as
// fresh as the host's last word:
//   netns dir (inotify)         -> netns, and the per-namespace watches follow the list
//   LBaaS / Octavia state dirs  -> lbaas (recursive inotify: configs, pid files, new pools)
//   netlink, one socket per ns  -> ip(namespace): link, address and route changes
//   OVSDB monitor               -> ovs(target)
// Counters, /proc and stats sockets raise no events: they keep their TTLs (see refresher.ts).
// A watch that cannot be set up is reported in `status` and the probe simply keeps its TTL.
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { ProbeRunner } from '../cache/runner.ts';
import type { Config } from '../config.ts';
import { listNamespaces } from '../host/netns.ts';
import type { OvsSnapshot } from '../host/ovs.ts';

export interface Closable {
  close(): void;
  /** Resolves true once events flow (the socket is subscribed), false if it never will. */
  readonly ready?: Promise<boolean>;
}

/** How one namespace's netlink events are heard (src/host/netlink.ts), injected so tests and the fallback can do without. */
export type NamespaceWatchFactory = (
  name: string,
  nsfsPath: string,
  handlers: { onChange(kind: string): void; onOverflow(): void; onError(err: Error): void },
) => Closable;

/** The OVS tables as a monitor keeps them from its row updates, and since when (epoch ms). */
export interface OvsReplica {
  snapshot: OvsSnapshot;
  since: number;
}

/** How OVSDB changes are heard (src/host/ovsdb-jsonrpc.ts), and the replica of the tables the monitor keeps, if it does. */
export type OvsMonitorFactory = (
  target: string,
  handlers: { onChange(tables: string[]): void; onReconnect(): void; onError(err: Error): void },
) => Closable & { replica?(): OvsReplica | null };

export interface WatchSources {
  watchNamespace?: NamespaceWatchFactory;
  monitorOvs?: OvsMonitorFactory;
}

export interface WatchStatus {
  source: string;
  active: boolean;
  reason?: string;
}

export interface HostWatchers {
  status(): WatchStatus[];
  /** Namespaces whose netlink watch is subscribed: changes there reach the cache. */
  watchedNamespaces(): string[];
  /**
   * Whether the netns dir is watched: a namespace deleted or made again under its name then
   * outdates its network at once, so a request need not stat each namespace file first.
   */
  namespaceFilesWatched(): boolean;
  /**
   * The tables of `target` as the OVSDB monitor holds them now, kept by its row updates; null
   * when no monitor of that target is in place. Every change it applies has already outdated
   * the cached `ovs` observation, so a look that reads this sees the change.
   */
  ovsReplica(target: string): OvsReplica | null;
  close(): void;
}

export function startHostWatchers(config: Config, runner: ProbeRunner, sources: WatchSources, log: (message: string) => void): HostWatchers {
  const statuses = new Map<string, WatchStatus>();
  const fsWatchers: FSWatcher[] = [];
  const namespaceWatches = new Map<string, Closable>();
  const subscribed = new Set<string>();
  let ovsMonitor: ReturnType<OvsMonitorFactory> | null = null;
  let closed = false;

  const watchDir = (source: string, dir: string, recursive: boolean, onEvent: (file: string | null) => void) => {
    try {
      const w = watch(dir, { recursive, persistent: false }, (_type, file) => onEvent(file ?? null));
      w.on('error', (err) => {
        statuses.set(source, { source, active: false, reason: err.message });
        onEvent(null);
      });
      fsWatchers.push(w);
      statuses.set(source, { source, active: true });
    } catch (err) {
      statuses.set(source, { source, active: false, reason: (err as Error).message });
    }
  };

  // Closes a namespace's netlink socket at once (an open one keeps a deleted namespace alive)
  // and outdates its network: what we hold may predate whatever is under that name now.
  const dropNamespaceWatch = (name: string) => {
    namespaceWatches.get(name)?.close();
    namespaceWatches.delete(name);
    subscribed.delete(name);
    runner.invalidate('ip', name);
  };

  // A burst of directory events (a pool being written, ten namespaces made) reconciles once.
  let reconcileTimer: NodeJS.Timeout | undefined;
  const reconcileSoon = () => {
    if (closed || reconcileTimer) return;
    reconcileTimer = setTimeout(() => {
      reconcileTimer = undefined;
      void reconcileNamespaces();
    }, 10);
    reconcileTimer.unref();
  };

  const reconcileNamespaces = async () => {
    if (!sources.watchNamespace || closed) return;
    const listed = await listNamespaces(config.netnsDir).catch((err: Error) => {
      log(`watch: cannot list ${config.netnsDir}: ${err.message}`);
      return null;
    });
    if (!listed || closed) return;
    const present = new Set(listed.map((n) => n.name));
    // Close first: an open socket keeps a deleted namespace and its devices alive.
    for (const name of [...namespaceWatches.keys()]) if (!present.has(name)) dropNamespaceWatch(name);
    for (const name of present) {
      if (namespaceWatches.has(name)) continue;
      try {
        const w = sources.watchNamespace(name, join(config.netnsDir, name), {
          onChange: () => runner.invalidate('ip', name),
          // Events were lost: what we hold for this namespace may be old. Look again.
          onOverflow: () => runner.invalidate('ip', name),
          onError: (err) => {
            log(`watch: netlink events of ${name} stopped: ${err.message}`);
            dropNamespaceWatch(name);
          },
        });
        namespaceWatches.set(name, w);
        // A change between our last look and the subscription raised no event: once events flow,
        // the next answer looks again. (Invalidating before that would leave the same gap.)
        void Promise.resolve(w.ready ?? true).then((ok) => {
          if (!ok || namespaceWatches.get(name) !== w) return;
          subscribed.add(name);
          runner.invalidate('ip', name);
        }, () => {});
      } catch (err) {
        log(`watch: cannot hear netlink events of ${name}: ${(err as Error).message}`);
      }
    }
  };

  if (config.events) {
    // Before the watch, nothing was heard: a network cached from an earlier run may be of a
    // namespace deleted since. Every namespace is looked at again once.
    runner.invalidate('ip');
    watchDir('netns-dir', config.netnsDir, false, (file) => {
      runner.invalidate('netns');
      // The entry named changed (deleted, or made again under its name): its network is outdated
      // now, and its netlink socket, if any, belongs to the namespace that was there before.
      if (file === null) runner.invalidate('ip');
      else dropNamespaceWatch(file);
      reconcileSoon();
    });
    watchDir('lbaas-dir', config.lbaasDir, true, () => runner.invalidate('lbaas'));
    watchDir('octavia-dir', config.octaviaDir, true, () => runner.invalidate('lbaas'));
    if (sources.watchNamespace) {
      statuses.set('netlink', { source: 'netlink', active: true });
      reconcileSoon();
    } else {
      statuses.set('netlink', { source: 'netlink', active: false, reason: 'netlink events unavailable: namespace networks keep their TTL' });
    }
    if (sources.monitorOvs) {
      try {
        ovsMonitor = sources.monitorOvs(config.ovsdb, {
          onChange: () => runner.invalidate('ovs', config.ovsdb),
          onReconnect: () => {
            statuses.set('ovsdb-monitor', { source: 'ovsdb-monitor', active: true });
            runner.invalidate('ovs', config.ovsdb);
          },
          onError: (err) => {
            statuses.set('ovsdb-monitor', { source: 'ovsdb-monitor', active: false, reason: err.message });
            runner.invalidate('ovs', config.ovsdb);
          },
        });
        statuses.set('ovsdb-monitor', { source: 'ovsdb-monitor', active: true });
        // A change between the first look and the monitor raised no event: once it is in place,
        // the next look reads again (from its replica, so it costs nothing).
        const first = ovsMonitor;
        void Promise.resolve(first.ready ?? true).then((ok) => {
          if (ok && ovsMonitor === first && !closed) runner.invalidate('ovs', config.ovsdb);
        }, () => {});
      } catch (err) {
        statuses.set('ovsdb-monitor', { source: 'ovsdb-monitor', active: false, reason: (err as Error).message });
      }
    } else {
      statuses.set('ovsdb-monitor', { source: 'ovsdb-monitor', active: false, reason: 'OVSDB monitor unavailable: OVS keeps its TTL' });
    }
  }

  return {
    status: () => [...statuses.values()],
    watchedNamespaces: () => [...subscribed].sort(),
    namespaceFilesWatched: () => !closed && statuses.get('netns-dir')?.active === true,
    ovsReplica: (target) => (closed || target !== config.ovsdb ? null : ovsMonitor?.replica?.() ?? null),
    close() {
      closed = true;
      clearTimeout(reconcileTimer);
      for (const w of fsWatchers) w.close();
      for (const w of namespaceWatches.values()) w.close();
      namespaceWatches.clear();
      subscribed.clear();
      ovsMonitor?.close();
    },
  };
}
