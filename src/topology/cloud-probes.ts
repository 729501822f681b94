// The looks at the cloud, as ProbeDefinitions like the host's: the same runner decides whether
// they run (TTL LBTOPO_TTL_CLOUD), shares concurrent runs, records what they saw in the
// observation log and serves the last good answer, marked stale, when the cloud does not answer.
// Each is one list call (paged if the cloud pages), for the whole cloud, never one per pool:
//   cloud.ports          Neutron ports owned by load balancers (neutron-lbaas v1/v2, Octavia)
//   cloud.loadbalancers  Octavia load balancers       cloud.listeners  listeners
//   cloud.pools          pools                        cloud.healthmonitors, cloud.amphorae
//   cloud.networks, cloud.subnets
//   cloud.status         one load balancer's status tree (scope <cloud>:<lb id>): members have no
//                        collection of their own, so they are read per load balancer on this host.
// Scope is the cloud's name, so a change of cloud never serves another cloud's answer.
import type { ProbeDefinition } from '../cache/runner.ts';
import { DiscoveryError } from '../host/errors.ts';
import type { Config } from '../config.ts';
import { CloudError } from '../cloud/http.ts';
import type { CloudClient } from '../cloud/client.ts';
import { LOAD_BALANCER_DEVICE_OWNERS } from '../cloud/neutron.ts';
import type { NeutronNetwork, NeutronPort, NeutronSubnet } from '../cloud/neutron.ts';
import type { LoadBalancerStatusTree, OctaviaAmphora, OctaviaHealthMonitor, OctaviaListener, OctaviaLoadBalancer, OctaviaPool } from '../cloud/octavia.ts';

export interface CloudProbes {
  client: CloudClient;
  /** The cloud's name (clouds.yaml key, or envvars). */
  name: string;
  /** This host's name as Neutron knows it. */
  host: string;
  ports: ProbeDefinition<NeutronPort[]>;
  loadBalancers: ProbeDefinition<OctaviaLoadBalancer[]>;
  listeners: ProbeDefinition<OctaviaListener[]>;
  pools: ProbeDefinition<OctaviaPool[]>;
  healthMonitors: ProbeDefinition<OctaviaHealthMonitor[]>;
  amphorae: ProbeDefinition<OctaviaAmphora[]>;
  networks: ProbeDefinition<NeutronNetwork[]>;
  subnets: ProbeDefinition<NeutronSubnet[]>;
  /** Scope `<cloud>:<lb id>`; null when Octavia does not know the load balancer (404). */
  status: ProbeDefinition<LoadBalancerStatusTree | null>;
}

export type CloudListProbe = Exclude<keyof CloudProbes, 'client' | 'name' | 'host' | 'status'>;

/** A CloudError as the runner's typed failure, its message naming the cloud. */
function asDiscoveryError(err: unknown, cloud: string, what: string): never {
  if (err instanceof CloudError) {
    const kind = err.kind === 'timeout' ? 'timeout' : err.kind === 'parse' ? 'parse' : 'failed';
    const named = err.message.includes(`cloud ${cloud}`) ? err.message : `cloud ${cloud}: ${err.message}`;
    throw new DiscoveryError(kind, `cloud ${cloud} ${what}`, `${err.kind}: ${named}`);
  }
  throw err;
}

export function defineCloudProbes(config: Config, client: CloudClient): CloudProbes {
  const ttlMs = config.probeTtlMs.cloud;
  const name = client.name;
  const list = <T>(probe: string, what: string, run: () => Promise<T>): ProbeDefinition<T> => ({
    name: probe,
    ttlMs,
    run: () => run().catch((err) => asDiscoveryError(err, name, what)),
  });
  return {
    client,
    name,
    host: config.host,
    ports: list('cloud.ports', 'neutron ports', () => client.neutron.listPorts({ deviceOwners: LOAD_BALANCER_DEVICE_OWNERS })),
    loadBalancers: list('cloud.loadbalancers', 'octavia load balancers', () => client.octavia.listLoadBalancers()),
    listeners: list('cloud.listeners', 'octavia listeners', () => client.octavia.listListeners()),
    pools: list('cloud.pools', 'octavia pools', () => client.octavia.listPools()),
    healthMonitors: list('cloud.healthmonitors', 'octavia health monitors', () => client.octavia.listHealthMonitors()),
    amphorae: list('cloud.amphorae', 'octavia amphorae', () => client.octavia.listAmphorae()),
    networks: list('cloud.networks', 'neutron networks', () => client.neutron.listNetworks()),
    subnets: list('cloud.subnets', 'neutron subnets', () => client.neutron.listSubnets()),
    status: {
      name: 'cloud.status',
      ttlMs,
      run: (scope) => {
        const lbId = scope.slice(scope.lastIndexOf(':') + 1);
        return client.octavia.statusTree(lbId).catch((err) => {
          if (err instanceof CloudError && err.status === 404) return null;
          return asDiscoveryError(err, name, `octavia status of ${lbId}`);
        });
      },
    },
  };
}

export function statusScope(cloud: CloudProbes, loadBalancerId: string): string {
  return `${cloud.name}:${loadBalancerId}`;
}
