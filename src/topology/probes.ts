// The six looks at the host that everything else is built from, bound to the configuration.
// Each is a ProbeDefinition: the cache runner decides whether it runs, and records what it saw.
//   lbaas  LBaaS state dirs and haproxy configs (files only)
//   netns  named namespaces (readdir + stat)
//   proc   one /proc scan (files only)
//   ip     one `ip -batch` per namespace (scope = namespace name)
//   ovs    one ovs-vsctl transaction (scope = OVSDB target)
//   stats  one haproxy stats socket conversation (scope = socket path)
import type { Config, ProbeName } from '../config.ts';
import type { ProbeDefinition } from '../cache/runner.ts';
import type { CommandGateway } from '../host/exec.ts';
import { listLbaasDeployments } from '../host/lbaas-state.ts';
import type { LbaasDeployment } from '../host/lbaas-state.ts';
import { listNamespaces } from '../host/netns.ts';
import type { NamedNamespace } from '../host/netns.ts';
import { scanProcesses } from '../host/procfs.ts';
import type { ProcessInfo } from '../host/procfs.ts';
import { readNamespaceNetwork } from '../host/iproute.ts';
import type { NamespaceNetwork } from '../host/iproute.ts';
import { readOvsSnapshot } from '../host/ovs.ts';
import type { OvsSnapshot } from '../host/ovs.ts';
import { queryHaproxyStats } from '../host/haproxy-stats.ts';
import type { HaproxyStatsResult } from '../host/haproxy-stats.ts';

/** What the stats probe stores: the socket's answer without its duration. */
export type StatsObservation = DistributiveOmit<HaproxyStatsResult, 'durationMs'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface HostProbes {
  lbaas: ProbeDefinition<LbaasDeployment[]>;
  netns: ProbeDefinition<NamedNamespace[]>;
  proc: ProbeDefinition<ProcessInfo[]>;
  ip: ProbeDefinition<NamespaceNetwork>;
  ovs: ProbeDefinition<OvsSnapshot>;
  stats: ProbeDefinition<StatsObservation>;
}

export function defineHostProbes(config: Config, gateway: CommandGateway): HostProbes {
  const ttl = (name: ProbeName) => config.probeTtlMs[name];
  return {
    lbaas: {
      name: 'lbaas',
      ttlMs: ttl('lbaas'),
      run: () => listLbaasDeployments({ lbaasDir: config.lbaasDir, octaviaDir: config.octaviaDir }),
    },
    netns: { name: 'netns', ttlMs: ttl('netns'), run: () => listNamespaces(config.netnsDir) },
    proc: { name: 'proc', ttlMs: ttl('proc'), run: () => scanProcesses() },
    ip: { name: 'ip', ttlMs: ttl('ip'), run: (namespace) => readNamespaceNetwork(gateway, namespace) },
    ovs: { name: 'ovs', ttlMs: ttl('ovs'), run: (ovsdb) => readOvsSnapshot(gateway, ovsdb) },
    stats: {
      name: 'stats',
      ttlMs: ttl('stats'),
      // durationMs is dropped: it differs on every look and would defeat the append-on-change log.
      run: async (socketPath) => {
        const { durationMs: _, ...result } = await queryHaproxyStats(socketPath, { timeoutMs: Math.min(2000, config.commandTimeoutMs) });
        return result;
      },
    },
  };
}
