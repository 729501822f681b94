// The fleet schema (lbtopo fleet serve), printed to schema/fleet.graphql.
import { lexicographicSortSchema, printSchema } from 'graphql';
import { fleetBuilder } from './builder.ts';
import './enums.ts';
import './host.ts';
import './pool.ts';
import './problem.ts';

export const fleetSchema = fleetBuilder.toSchema();

export function printSortedFleetSchema(): string {
  return `${printSchema(lexicographicSortSchema(fleetSchema))}\n`;
}
