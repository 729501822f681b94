// CloudListener: an Octavia listener as the API shows it, and Listener.cloud.
import { builder } from './builder.ts';
import { ListenerRef } from './pool.ts';
import type { OctaviaListener } from '../cloud/octavia.ts';
import { cloudListener } from '../topology/cloud-queries.ts';

export const CloudListenerRef = builder.objectRef<OctaviaListener>('CloudListener');

CloudListenerRef.implement({
  description: 'A listener as the load-balancer API shows it (GET /v2/lbaas/listeners).',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'Listener UUID.' }),
    name: t.exposeString('name', { description: 'Its name.' }),
    protocol: t.exposeString('protocol', { description: 'HTTP, TCP, HTTPS, ...' }),
    protocolPort: t.exposeInt('protocolPort', { description: 'The VIP port it listens on.' }),
    provisioningStatus: t.exposeString('provisioningStatus', { description: 'ACTIVE, PENDING_*, ERROR, DELETED.' }),
    operatingStatus: t.exposeString('operatingStatus', { description: 'ONLINE, OFFLINE, DEGRADED, ERROR, ... (neutron-lbaas v2 sets ONLINE after each change and never updates it).' }),
    adminStateUp: t.exposeBoolean('adminStateUp', { description: 'admin_state_up.' }),
    defaultPoolId: t.exposeString('defaultPoolId', { nullable: true, description: 'Its default pool.' }),
  }),
});

builder.objectField(ListenerRef, 'cloud', (t) =>
  t.field({
    type: CloudListenerRef,
    nullable: true,
    description: "What the load-balancer API says of this listener (the frontend's name is the listener id in v2 and Octavia). Null without a cloud or when the API has no such listener.",
    resolve: (f, _a, ctx) => cloudListener(ctx.session, f.name),
  }),
);
