// Hostile value shapes shared by the tests of value bounds, conversion and the cache.

/** `levels` objects nested inside each other under key "a", around `leaf`. */
export function nested(levels: number, leaf: unknown = 1): unknown {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}
