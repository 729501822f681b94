// The fleet's object types, declared before they are implemented (they link to each other).
import { fleetBuilder } from './builder.ts';
import type { FleetHost, FleetPool } from '../cache.ts';
import type { FleetProblemView } from '../problems.ts';

export const FleetHostRef = fleetBuilder.objectRef<FleetHost>('Host');
export const FleetPoolRef = fleetBuilder.objectRef<FleetPool>('Pool');
export const FleetProblemRef = fleetBuilder.objectRef<FleetProblemView>('Problem');
