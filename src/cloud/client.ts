// The cloud as lbtopo sees it: one Keystone session shared by the Neutron and Octavia clients,
// built from the resolved clouds.yaml / OS_* settings.
import type { CloudSettings } from './clouds-config.ts';
import { KeystoneSession } from './keystone.ts';
import { ServiceApi } from './api.ts';
import { NeutronClient } from './neutron.ts';
import { OctaviaClient } from './octavia.ts';

export interface CloudClient {
  name: string;
  settings: CloudSettings;
  keystone: KeystoneSession;
  neutron: NeutronClient;
  octavia: OctaviaClient;
}

/** `timeoutMs` bounds each call (authentication, every page and the retry after a 401 included). */
export function createCloudClient(settings: CloudSettings, timeoutMs: number): CloudClient {
  const keystone = new KeystoneSession(settings, timeoutMs);
  return {
    name: settings.name,
    settings,
    keystone,
    neutron: new NeutronClient(new ServiceApi(keystone, 'network', timeoutMs)),
    octavia: new OctaviaClient(new ServiceApi(keystone, 'load-balancer', timeoutMs)),
  };
}
