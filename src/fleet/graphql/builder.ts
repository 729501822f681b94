// The fleet schema's Pothos builder: its own, since the fleet answers from pushed facts, not from
// a host's probes. Types share names, enums and descriptions with the host schema where they mean
// the same thing, so a query written for a host (lbtopo check's) runs against the fleet.
import SchemaBuilder from '@pothos/core';
import type { FleetCache } from '../cache.ts';

export interface FleetContext {
  cache: FleetCache;
  /** One clock per request: every stale flag in an answer is judged at the same instant. */
  now: number;
}

export const fleetBuilder = new SchemaBuilder<{
  Context: FleetContext;
  Scalars: { DateTime: { Input: Date; Output: Date | number | string } };
  DefaultFieldNullability: false;
}>({ defaultFieldNullability: false });

fleetBuilder.queryType({ description: 'Every load-balancer host of the fleet, from the facts they push to the fleet database.' });
