// The /metrics part for Octavia amphorae: the operating statuses Octavia will compute from the
// next heartbeat (topology/octavia-status.ts), one series per object with its status as a label
// and the value 1, the usual shape of an enum in Prometheus (openstack-exporter's status gauges
// look the same). An object whose status Octavia would keep unchanged (no heartbeat, RESTARTING)
// has no series: unknown is not a status.
import type { Gauge } from 'prom-client';
import type { TopologySession } from './topology/session.ts';
import type { PoolRecord } from './topology/pools.ts';
import { octaviaStatusOfLoadBalancer } from './topology/amphora.ts';
import type { OctaviaStatus } from './topology/octavia-status.ts';

export type OctaviaSample = OctaviaStatus;

export const OCTAVIA_STATUS_HELP =
  'Octavia load balancers on this amphora: the operating_status (label status) Octavia will compute for the load balancer, each listener, pool and member from the next heartbeat; 1 per object, absent when Octavia would keep the previous status (no heartbeat).';

export async function scrapeOctavia(session: TopologySession, pools: readonly PoolRecord[]): Promise<OctaviaSample[]> {
  const ids = [...new Set(pools.filter((p) => p.layout === 'octavia' && p.loadBalancerId).map((p) => p.loadBalancerId!))];
  const all = await Promise.all(ids.map((id) => octaviaStatusOfLoadBalancer(session, id).catch(() => null)));
  return all.filter((s): s is OctaviaStatus => s !== null);
}

export function fillOctaviaStatus(g: Gauge<string>, samples: readonly OctaviaSample[]): void {
  for (const lb of samples) {
    const set = (kind: string, id: string, status: string | null) => {
      if (status !== null) g.set({ load_balancer: lb.loadBalancerId, kind, id, status }, 1);
    };
    set('loadbalancer', lb.loadBalancerId, lb.operatingStatus);
    for (const l of lb.listeners) set('listener', l.id, l.operatingStatus);
    for (const p of lb.pools) {
      set('pool', p.id, p.operatingStatus);
      for (const m of p.members) set('member', m.id, m.operatingStatus);
    }
  }
}
