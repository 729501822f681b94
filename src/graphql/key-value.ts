import { builder } from './builder.ts';

export interface KeyValue {
  key: string;
  value: string;
}

/** OVSDB maps (external_ids, other_config) as a list, sorted by key. */
export function toKeyValues(map: Record<string, string>): KeyValue[] {
  return Object.entries(map)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => ({ key, value }));
}

export const KeyValueRef = builder.objectRef<KeyValue>('KeyValue').implement({
  description: 'One entry of an OVSDB map column such as external_ids or other_config.',
  fields: (t) => ({
    key: t.exposeString('key', { description: 'The map key, e.g. iface-id.' }),
    value: t.exposeString('value', { description: 'The value.' }),
  }),
});
