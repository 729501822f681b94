// The Pothos builder: configuration only, no types (those live one per file beside it).
import SchemaBuilder from '@pothos/core';
import type { GraphQLContext } from './context.ts';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  Scalars: {
    DateTime: { Input: Date; Output: Date | number | string };
  };
  DefaultFieldNullability: false;
}>({
  defaultFieldNullability: false,
});

builder.queryType({ description: 'The live topology of this load-balancer host.' });
builder.mutationType({ description: 'Actions that change nothing on the host: they only refresh what we know.' });
