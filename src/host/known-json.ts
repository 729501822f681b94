// A value that crossed from a worker thread as JSON: the worker that produced it serialized and
// hashed it, so the store (src/cache/store.ts) records that JSON instead of serializing the value
// again on the main thread. Only plain JSON values: the value is what JSON.parse gave, unchanged.
import { createHash } from 'node:crypto';

export interface KnownJson {
  json: string;
  /** sha256 of json, hex. */
  hash: string;
}

const known = new WeakMap<object, KnownJson>();

/** The hash the store keeps with each row: sha256 of its JSON. */
export function hashOfJson(json: string): string {
  return createHash('sha256').update(json).digest('hex');
}

/** Serializes a value in the thread that made it, for fromKnownJson() at the other end. */
export function toKnownJson(value: unknown): KnownJson {
  const json = JSON.stringify(value) ?? 'null';
  return { json, hash: hashOfJson(json) };
}

/** The value of a KnownJson, remembered with it (knownJsonOf). */
export function fromKnownJson<T>(serialized: KnownJson): T {
  return withKnownJson(JSON.parse(serialized.json) as T, serialized.json, serialized.hash);
}

/**
 * Marks `value` as having exactly this JSON (JSON.stringify(value) === json); it must not be
 * changed afterwards. Returns the value.
 */
export function withKnownJson<T>(value: T, json: string, hash: string = hashOfJson(json)): T {
  if (typeof value === 'object' && value !== null) known.set(value, { json, hash });
  return value;
}

export function knownJsonOf(value: unknown): KnownJson | undefined {
  return typeof value === 'object' && value !== null ? known.get(value) : undefined;
}

/**
 * The JSON of `{ ...value, ...fields }` from the JSON of `value`, without serializing `value`
 * again: exact when `value` is a plain object that has none of the keys of `fields`.
 */
export function jsonWithFields(json: string, fields: Record<string, unknown>): string {
  const more = JSON.stringify(fields);
  if (more === '{}') return json;
  return json === '{}' ? more : `${json.slice(0, -1)},${more.slice(1)}`;
}
