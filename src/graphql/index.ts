// The schema: imports every type file (each defines one type and the queries that return it).
import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './key-value.ts';
import './pool.ts';
import './member.ts';
import './namespace.ts';
import './interface.ts';
import './route.ts';
import './port.ts';
import './ovs-port.ts';
import './process.ts';
import './probe.ts';
import './problem.ts';
import './load-balancer.ts';
import './cloud-port.ts';
import './cloud-listener.ts';
import './cloud-load-balancer.ts';
import './cloud-pool.ts';
import './amphora.ts';
import './read-by.ts';
import './host.ts';

export const schema = builder.toSchema();

/** The SDL committed in schema/schema.graphql: sorted, so the diff shows real changes only. */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
