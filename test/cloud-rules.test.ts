// The cloud rules as pure functions, for the cases the lab cannot make: a VIP tap whose port is
// Octavia's admin-down placeholder, binding_failed, a member the API shows OFFLINE (disabled), and
// how haproxy statuses map to Octavia's. The real-server proofs are in cloud.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHaproxyConfig } from '../src/host/haproxy-config.ts';
import type { LbaasDeployment } from '../src/host/lbaas-state.ts';
import type { NamespaceNetwork } from '../src/host/iproute.ts';
import { poolsFromDeployments } from '../src/topology/pools.ts';
import { emptyFacts } from '../src/diagnose/facts.ts';
import type { CloudFacts } from '../src/diagnose/cloud-facts.ts';
import { cloudProblems, isOctaviaPlaceholder, octaviaMemberStatus } from '../src/diagnose/cloud-rules.ts';
import type { NeutronPort } from '../src/cloud/neutron.ts';

const LB = '1b7e0d8a-0c57-4c1e-9a51-6f0a5e1d2c3b';
const POOL = '5e1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const LISTENER = 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f';
const PORT = '70081ac2-6f11-4c1e-9d5a-0123456789ab';
const TAP = 'tap70081ac2-6f';
const M1 = '8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d';
const M2 = '3c4d5e6f-7a8b-4c9d-9e0f-1a2b3c4d5e6f';
const DIR = `/var/lib/neutron/lbaas/v2/${LB}`;
const CONFIG = `global\n\tstats socket ${DIR}/haproxy_stats.sock\nfrontend ${LISTENER}\n\tbind 10.0.0.10:80\n\tdefault_backend ${POOL}\nbackend ${POOL}\n\tserver ${M1} 10.0.0.3:80 check\n`;

const deployment: LbaasDeployment = {
  layout: 'v2', id: LB, stateDir: DIR, configPath: `${DIR}/haproxy.conf`, pidPath: `${DIR}/haproxy.pid`, socketPath: `${DIR}/haproxy_stats.sock`, socketExists: true,
  namespace: `qlbaas-${LB}`, configMtimeMs: 0, pids: [], pidError: null, config: parseHaproxyConfig(CONFIG, { source: `${DIR}/haproxy.conf` }), configError: null,
};
const network: NamespaceNetwork = {
  namespace: `qlbaas-${LB}`,
  interfaces: [{ index: 2, name: TAP, macAddress: null, mtu: 1450, operState: 'UNKNOWN', flags: ['UP'], kind: null, master: null, linkIndex: null, linkNetnsId: null, addresses: [{ family: 'inet', address: '10.0.0.10', prefixLength: 24, scope: 'global', broadcast: null, label: null, dynamic: false }], stats: null }],
  routes: [],
};

function port(overrides: Partial<NeutronPort>): NeutronPort {
  return { id: PORT, name: '', networkId: 'n', macAddress: null, adminStateUp: true, status: 'ACTIVE', deviceId: LB, deviceOwner: 'neutron:LOADBALANCERV2', fixedIps: [], allowedAddressPairs: [], bindingHost: 'net-1', vifType: 'ovs', projectId: null, ...overrides };
}

function cloud(overrides: Partial<CloudFacts>): CloudFacts {
  return {
    cloud: 'c', host: 'net-1', ports: [port({})],
    loadBalancers: [{ id: LB, name: '', provisioningStatus: 'ACTIVE', operatingStatus: 'ONLINE', adminStateUp: true, vipAddress: '10.0.0.10', vipPortId: PORT, vipNetworkId: null, vipSubnetId: null, provider: null, listenerIds: [LISTENER], poolIds: [POOL] }],
    listeners: [], pools: [{ id: POOL, name: '', protocol: 'HTTP', lbAlgorithm: 'ROUND_ROBIN', provisioningStatus: 'ACTIVE', operatingStatus: 'ONLINE', adminStateUp: true, loadBalancerIds: [LB], listenerIds: [LISTENER], memberIds: [M1], healthMonitorId: null }],
    statusTrees: new Map(), memberStatusSince: new Map(), statusGraceMs: 20_000, ...overrides,
  };
}

function codes(c: CloudFacts): string[] {
  const pools = poolsFromDeployments([deployment]);
  return cloudProblems(emptyFacts({ deployments: [deployment], allPools: pools, pools, networks: new Map([[network.namespace, network]]), cloud: c }), true).map((p) => p.code);
}

test('PORT_BINDING_DRIFT: bound here and ovs is fine; another host, binding_failed or admin-down are not; the Octavia placeholder is never', () => {
  assert.deepEqual(codes(cloud({})), []);
  assert.deepEqual(codes(cloud({ ports: [port({ bindingHost: 'net-2' })] })), ['PORT_BINDING_DRIFT']);
  assert.deepEqual(codes(cloud({ ports: [port({ vifType: 'binding_failed' })] })), ['PORT_BINDING_DRIFT']);
  assert.deepEqual(codes(cloud({ ports: [port({ adminStateUp: false })] })), ['PORT_BINDING_DRIFT']);
  const placeholder = port({ name: `octavia-lb-${LB}`, deviceOwner: 'Octavia', deviceId: `lb-${LB}`, adminStateUp: false, bindingHost: null, vifType: 'unbound', status: 'DOWN' });
  assert.equal(isOctaviaPlaceholder(placeholder), true);
  assert.deepEqual(codes(cloud({ ports: [placeholder] })), []);
});

test('MEMBER_SET_DRIFT: a member the API shows OFFLINE (disabled) may be absent from the config; an address change is drift', () => {
  const tree = (members: Array<{ id: string; address: string; protocolPort: number; operatingStatus: string }>) =>
    new Map([[LB, { id: LB, provisioningStatus: 'ACTIVE', operatingStatus: 'ONLINE', listeners: [], pools: [{ id: POOL, provisioningStatus: 'ACTIVE', operatingStatus: 'ONLINE', healthMonitor: null, members: members.map((m) => ({ ...m, provisioningStatus: 'ACTIVE' })) }] }]]);
  assert.deepEqual(codes(cloud({ statusTrees: tree([{ id: M1, address: '10.0.0.3', protocolPort: 80, operatingStatus: 'ONLINE' }, { id: M2, address: '10.0.0.4', protocolPort: 80, operatingStatus: 'OFFLINE' }]) })), []);
  assert.deepEqual(codes(cloud({ statusTrees: tree([{ id: M1, address: '10.0.0.9', protocolPort: 80, operatingStatus: 'ONLINE' }]) })), ['MEMBER_SET_DRIFT']);
});

test('haproxy statuses as Octavia maps them; an API pool of a deployed load balancer missing from the config is MISSING_ON_HOST', () => {
  assert.deepEqual(['UP', 'UP 1/2', 'DOWN', 'DOWN 1/2', 'MAINT', 'DRAIN', 'no check', 'weird'].map((status) => octaviaMemberStatus({ status })), ['ONLINE', 'ONLINE', 'ERROR', 'ERROR', 'OFFLINE', 'DRAINING', 'NO_MONITOR', null]);
  const extra = '9f8e7d6c-5b4a-4392-8a1b-0c9d8e7f6a5b';
  const c = cloud({});
  c.pools = [...c.pools!, { ...c.pools![0]!, id: extra }];
  assert.deepEqual(codes(c), ['MISSING_ON_HOST']);
});
