// Who this host is in the fleet: its name (LBTOPO_HOST), what it is, which build runs and since
// when. The kind is read from what the host holds: an Octavia amphora has the fixed namespace
// amphora-haproxy and its load balancers under the Octavia base path; a neutron network node has
// neither (qlbaas- namespaces and the neutron-lbaas state path).
import { readFileSync } from 'node:fs';
import { projectPath } from '../paths.ts';
import type { LbaasDeployment } from '../host/lbaas-state.ts';
import type { NamedNamespace } from '../host/netns.ts';
import type { TopologySession } from './session.ts';

export const HOST_KINDS = ['NETWORK_NODE', 'AMPHORA'] as const;
export type HostKind = (typeof HOST_KINDS)[number];

/** The HostKind enum of both schemas (host and fleet). */
export const HOST_KIND_VALUES = {
  NETWORK_NODE: { value: 'NETWORK_NODE', description: 'A neutron network node (neutron-lbaas qlbaas- namespaces).' },
  AMPHORA: { value: 'AMPHORA', description: 'An Octavia amphora (the amphora-haproxy namespace, load balancers under the Octavia base path).' },
} as const satisfies Record<HostKind, { value: HostKind; description: string }>;

export interface HostIdentity {
  name: string;
  kind: HostKind;
  version: string;
  /** Epoch ms this lbtopo process started. */
  startedAt: number;
}

export const LBTOPO_VERSION: string = (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string }).version;
export const PROCESS_STARTED_AT = Math.round(Date.now() - process.uptime() * 1000);

/**
 * What the state dirs hold decides: an Octavia load balancer makes an amphora, a neutron-lbaas
 * pool a network node. With neither (a spare amphora before its first load balancer, a new
 * network node), the amphora-haproxy namespace makes an amphora.
 */
export function hostKindOf(deployments: readonly LbaasDeployment[] | null, namespaces: readonly NamedNamespace[] | null): HostKind {
  if (deployments?.some((d) => d.layout === 'octavia')) return 'AMPHORA';
  if (deployments?.some((d) => d.layout !== 'octavia')) return 'NETWORK_NODE';
  if (namespaces?.some((n) => n.kind === 'amphora-haproxy')) return 'AMPHORA';
  return 'NETWORK_NODE';
}

/** Reads the state dirs and the namespace list (no command runs); a failed probe counts as absent. */
export async function hostIdentity(session: TopologySession): Promise<HostIdentity> {
  const [deployments, namespaces] = await Promise.all([
    session.deployments().then((o) => o.value, () => null),
    session.namespaces().then((o) => o.value, () => null),
  ]);
  return { name: session.config.host, kind: hostKindOf(deployments, namespaces), version: LBTOPO_VERSION, startedAt: PROCESS_STARTED_AT };
}
