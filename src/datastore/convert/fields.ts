// Typed reads of untyped object fields (objects come from JSON/YAML): each reader names the
// field in its error, so a bad value is reported as "spec.order: expected a number, got "x"".
// Absent and null read as undefined, as Kubernetes' JSON decoding treats them.

import type { JsonValue } from '../../model/types.js';
import { Invalid } from './errors.js';

export type Fields = Readonly<Record<string, unknown>>;

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** "<path>.<key>", or just the key at the top ('' path). */
const at = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

export function isFields(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An object field (absent = {}); `path` names it in errors. */
export function fields(v: unknown, path: string): Fields {
  if (v === undefined || v === null) return {};
  if (!isFields(v)) throw new Invalid(`${path}: expected an object, got ${show(v)}`);
  return v;
}

export function optString(o: Fields, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Invalid(`${at(path, key)}: expected a string, got ${show(v)}`);
  return v;
}

/** A string field that must be present and non-empty. */
export function reqString(o: Fields, key: string, path: string): string {
  const v = optString(o, key, path);
  if (v === undefined || v === '') throw new Invalid(`${at(path, key)}: required`);
  return v;
}

export function optBool(o: Fields, key: string, path: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new Invalid(`${at(path, key)}: expected true or false, got ${show(v)}`);
  return v;
}

export function optNumber(o: Fields, key: string, path: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new Invalid(`${at(path, key)}: expected a number, got ${show(v)}`);
  return v;
}

export function optInt(o: Fields, key: string, path: string, min: number, max: number): number | undefined {
  const v = optNumber(o, key, path);
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < min || v > max)
    throw new Invalid(`${at(path, key)}: expected an integer in [${min}, ${max}], got ${show(v)}`);
  return v;
}

/** A list field (absent = []). */
export function list(o: Fields, key: string, path: string): readonly unknown[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Invalid(`${at(path, key)}: expected a list, got ${show(v)}`);
  return v;
}

export function stringList(o: Fields, key: string, path: string): string[] {
  return list(o, key, path).map((v, i) => {
    if (typeof v !== 'string') throw new Invalid(`${at(path, key)}[${i}]: expected a string, got ${show(v)}`);
    return v;
  });
}

/** A map of string to string (labels, annotations, nodeSelector maps); absent = {}. */
export function stringMap(o: Fields, key: string, path: string): Record<string, string> {
  const m = fields(o[key], at(path, key));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== 'string') throw new Invalid(`${at(path, key)}.${k}: expected a string, got ${show(v)}`);
    out[k] = v;
  }
  return out;
}

/** A deep copy of plain JSON data, rejecting anything JSON cannot carry. */
export function jsonCopy(v: unknown, path: string): JsonValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Invalid(`${path}: not a finite number`);
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => jsonCopy(x, `${path}[${i}]`));
  if (isFields(v)) {
    const out: Record<string, JsonValue> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = jsonCopy(x, `${path}.${k}`);
    return out;
  }
  throw new Invalid(`${path}: not JSON data (${typeof v})`);
}

export { show };
