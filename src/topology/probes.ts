// The six looks at the host that everything else is built from, bound to the configuration.
// Each is a ProbeDefinition: the cache runner decides whether it runs, and records what it saw.
//   lbaas  LBaaS state dirs and haproxy configs (files only)
//   netns  named namespaces (readdir + stat)
//   proc   one /proc scan (files only)
//   ip     one namespace's links, addresses and routes over rtnetlink, or one `ip -batch` (scope = namespace name)
//   ovs    the OVSDB monitor's replica, else one JSON-RPC transact or one ovs-vsctl transaction (scope = OVSDB target)
//   stats  one haproxy stats socket conversation (scope = socket path)
//   amphora  an amphora's keepalived, agent, certificate and LVS files (files only)
//   rule   `ip rule` of one namespace, both families (scope = namespace name; amphora namespaces only)
import type { Config, ProbeName } from '../config.ts';
import { DiscoveryError } from '../host/errors.ts';
import type { ProbeDefinition } from '../cache/runner.ts';
import type { CommandGateway } from '../host/exec.ts';
import { listLbaasDeployments } from '../host/lbaas-state.ts';
import type { LbaasDeployment } from '../host/lbaas-state.ts';
import { listNamespaces, namespaceInodeNow } from '../host/netns.ts';
import type { NamedNamespace } from '../host/netns.ts';
import { scanProcesses } from '../host/procfs.ts';
import type { ProcessInfo } from '../host/procfs.ts';
import { readNamespaceNetworkBest, readOvsSnapshotBest } from './readers.ts';
import type { NetworkObservation, OvsObservation } from './readers.ts';
import type { OvsReplica } from './watchers.ts';
import { queryCompactStats } from '../host/haproxy-stats.ts';
import type { StatsObservation } from '../host/haproxy-stats.ts';
import { socketWorker } from '../host/host-workers.ts';
import { readAmphoraState } from '../host/amphora-state.ts';
import type { AmphoraState } from '../host/amphora-state.ts';
import { readIpRules } from '../host/ip-rules.ts';
import type { IpRule } from '../host/ip-rules.ts';
import { haproxyFiles, isHaproxy } from './pools.ts';

export type { StatsObservation } from '../host/haproxy-stats.ts';

/** The history of which haproxy runs each config file: scope = config path. */
export const HAPROXY_HISTORY = 'haproxy-by-config';

/** One entry of that history: the live haproxy processes started on the config. */
export interface HaproxySighting {
  pid: number;
  startedAt: number;
  netnsInode: number | null;
}

/** Which live haproxy processes (zombies excluded) run each config, from one /proc scan. */
export function haproxyByConfig(processes: readonly ProcessInfo[]): Map<string, HaproxySighting[]> {
  const byConfig = new Map<string, HaproxySighting[]>();
  for (const p of processes) {
    if (p.state === 'Z' || !isHaproxy(p)) continue;
    for (const config of haproxyFiles(p).configPaths) {
      const list = byConfig.get(config) ?? [];
      list.push({ pid: p.pid, startedAt: p.startedAt, netnsInode: p.netnsInode });
      byConfig.set(config, list);
    }
  }
  for (const list of byConfig.values()) list.sort((a, b) => a.pid - b.pid);
  return byConfig;
}

export interface HostProbes {
  lbaas: ProbeDefinition<LbaasDeployment[]>;
  netns: ProbeDefinition<NamedNamespace[]>;
  proc: ProbeDefinition<ProcessInfo[]>;
  ip: ProbeDefinition<NetworkObservation>;
  ovs: ProbeDefinition<OvsObservation>;
  stats: ProbeDefinition<StatsObservation>;
  amphora: ProbeDefinition<AmphoraState>;
  rule: ProbeDefinition<IpRule[]>;
  /** The inode of a named namespace now (null: gone), checked before its cached network is served. */
  namespaceInode?: (name: string) => number | null | undefined;
}

/** What a long-lived server keeps of the host between looks, for the probes to read instead of looking (src/topology/watchers.ts). */
export interface LiveSources {
  ovsReplica?(target: string): OvsReplica | null;
}

export function defineHostProbes(config: Config, gateway: CommandGateway, live: LiveSources = {}): HostProbes {
  const ttl = (name: ProbeName) => config.probeTtlMs[name];
  return {
    lbaas: {
      name: 'lbaas',
      ttlMs: ttl('lbaas'),
      run: () => listLbaasDeployments({ lbaasDir: config.lbaasDir, octaviaDir: config.octaviaDir, amphoraNamespace: config.amphoraNamespace, required: config.stateDirsGiven }),
    },
    netns: { name: 'netns', ttlMs: ttl('netns'), run: () => listNamespaces(config.netnsDir, config.amphoraNamespace) },
    proc: {
      name: 'proc',
      ttlMs: ttl('proc'),
      run: () => scanProcesses(),
      history: { name: HAPROXY_HISTORY, summarize: haproxyByConfig },
    },
    ip: {
      name: 'ip',
      ttlMs: ttl('ip'),
      run: (namespace) => readNamespaceNetworkBest(gateway, namespace, { netnsDir: config.netnsDir, netlink: config.netlink, timeoutMs: config.commandTimeoutMs }),
    },
    ovs: {
      name: 'ovs',
      ttlMs: ttl('ovs'),
      // The monitor's replica unless the caller asked for a look made now (maxAge 0): that reads
      // the server, so an operator who doubts the replica can always see past it.
      run: (ovsdb, look) => readOvsSnapshotBest(gateway, ovsdb, {
        timeoutMs: config.commandTimeoutMs, jsonRpc: config.ovsdbJsonRpc, ssl: config.ovsdbSsl,
        replica: look?.fresh ? null : live.ovsReplica?.(ovsdb) ?? null,
      }),
    },
    stats: {
      name: 'stats',
      ttlMs: ttl('stats'),
      run: (socketPath) => {
        const timeoutMs = Math.min(2000, config.commandTimeoutMs);
        // In the socket worker; the exchange bounds itself (timeoutMs), the worker gets a second more.
        // A worker that cannot start or died is no news about haproxy: ask in-process instead.
        return socketWorker.run('stats-query', [socketPath, { timeoutMs }], socketPath, timeoutMs + 1000).catch((err: unknown) => {
          if (err instanceof DiscoveryError && err.kind === 'timeout') throw err;
          return queryCompactStats(socketPath, { timeoutMs });
        });
      },
    },
    amphora: {
      name: 'amphora',
      ttlMs: ttl('amphora'),
      run: () => readAmphoraState({ octaviaDir: config.octaviaDir, namespace: config.amphoraNamespace, agentConfigPath: config.amphoraAgentConfig }),
    },
    rule: { name: 'rule', ttlMs: ttl('rule'), run: (namespace) => readIpRules(gateway, namespace) },
    namespaceInode: (name) => namespaceInodeNow(config.netnsDir, name),
  };
}
