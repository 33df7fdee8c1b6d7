// Reading a KV value off the wire as a model type. The wire is untrusted, so every value is
// checked at run time; the keys a reader may ask for are the keys of the stored type, so a
// field renamed on the converter side fails to compile on the reading side.

import { ErrorCode } from '../../errors/codes.js';
import { TabbyError } from '../../errors/tabby-error.js';
import type { JsonValue } from '../types.js';

/** A value that does not parse as its key's model type. */
export class BadValue extends TabbyError {
  constructor(message: string) {
    super(ErrorCode.BadValue, message);
  }
}

type JsonObject = { readonly [k: string]: JsonValue };

/** A value off the wire that should be a `T`: any of T's keys may hold any JSON. */
export type Wire<T> = { readonly [K in keyof T]?: JsonValue };

export const isObject = (v: JsonValue | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `v` as a `T` to be read field by field; throws BadValue if it is not an object. */
export function wire<T>(v: JsonValue | undefined): Wire<T> {
  if (!isObject(v)) throw new BadValue('value is not an object');
  return v as Wire<T>;
}

/** `v` as a `T` to be read field by field, or undefined if it is not an object. */
export const wireOrUndefined = <T>(v: JsonValue | undefined): Wire<T> | undefined =>
  isObject(v) ? (v as Wire<T>) : undefined;

type Key<T> = keyof T & string;

export function str<T>(o: Wire<T>, k: Key<T>): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BadValue(`${k}: not a string`);
  return v;
}

export function num<T>(o: Wire<T>, k: Key<T>): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || Number.isNaN(v)) throw new BadValue(`${k}: not a number`);
  return v;
}

export function strList<T>(o: Wire<T>, k: Key<T>): string[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new BadValue(`${k}: not strings`);
  return v as string[];
}

export function labelMap<T>(o: Wire<T>, k: Key<T>): Record<string, string> {
  const v = o[k];
  if (v === undefined || v === null) return {};
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string'))
    throw new BadValue(`${k}: bad labels`);
  return { ...(v as Record<string, string>) };
}

/** A protocol name (lower-cased) or number. */
export function protocolOf<T>(o: Wire<T>, k: Key<T>): string | number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw new BadValue(`${k}: bad protocol`);
  return typeof v === 'string' ? v.toLowerCase() : v;
}

/** Decoded path segments of a key after `/calico/v1/`. */
export const segments = (key: string): string[] => key.split('/').slice(3).map(decodeURIComponent);
