// The value-shape bounds: depth and size measured without recursion, with the top-level
// field named, and plain-JSON checks for values that go to the encoders.
import { describe, expect, it } from 'vitest';
import { MAX_VALUE_DEPTH, valueBoundsProblem } from '../../src/model/value-bounds.js';
import { nested } from './hostile-values.js';

const limits = { maxDepth: 4, maxBytes: 100 };

describe('valueBoundsProblem', () => {
  it('counts containers as depth: exactly the limit passes, one more fails, naming the top field', () => {
    expect(valueBoundsProblem(nested(4), limits)).toBeUndefined();
    expect(valueBoundsProblem({ spec: nested(3) }, limits)).toBeUndefined();
    expect(valueBoundsProblem({ spec: nested(4) }, limits)).toBe('spec: nested more than 4 levels deep');
    expect(valueBoundsProblem([[[[[]]]]], limits)).toBe('[0]: nested more than 4 levels deep');
    expect(valueBoundsProblem('scalar', { maxDepth: 0, maxBytes: 100 })).toBeUndefined();
  });

  it('measures hostile depths far beyond the call stack without recursing', () => {
    for (const depth of [10_000, 200_000]) {
      expect(valueBoundsProblem({ spec: nested(depth) })).toBe(
        `spec: nested more than ${MAX_VALUE_DEPTH} levels deep`,
      );
      let arr: unknown = [];
      for (let i = 0; i < depth; i++) arr = [arr];
      expect(valueBoundsProblem(arr)).toBe(`[0]: nested more than ${MAX_VALUE_DEPTH} levels deep`);
    }
  });

  it('bounds size as JSON text length', () => {
    const fits = { s: 'x'.repeat(90) }; // {"s":"x…"} = 2 + 1 + 4 + 92 - 1 comma counted
    expect(JSON.stringify(fits).length).toBeLessThanOrEqual(100);
    expect(valueBoundsProblem(fits, limits)).toBeUndefined();
    expect(valueBoundsProblem({ s: 'x'.repeat(101) }, limits)).toBe('s: larger than 100 bytes of JSON');
    expect(valueBoundsProblem(new Array(200).fill(0), limits)).toMatch(
      /^\[\d+\]: larger than 100 bytes of JSON$/,
    );
    expect(valueBoundsProblem({ a: new Array(60).fill(true) }, limits)).toBe(
      'a: larger than 100 bytes of JSON',
    );
  });

  it('the estimate never undercounts ASCII JSON by more than the commas it adds', () => {
    const v = { kind: 'BGPPeer', n: [1, 2.5, -3e21, null, false, 'q'], o: { x: {}, y: [] } };
    const text = JSON.stringify(v).length;
    expect(valueBoundsProblem(v, { maxDepth: 10, maxBytes: text + 8 })).toBeUndefined();
    expect(valueBoundsProblem(v, { maxDepth: 10, maxBytes: text - 8 })).toMatch(/larger than/);
  });

  it('plainJson rejects what JSON and the encoders cannot carry the same way', () => {
    const plain = { maxDepth: 10, maxBytes: 1000, plainJson: true };
    expect(valueBoundsProblem({ a: 1, b: undefined, c: [null, 'x'] }, plain)).toBeUndefined();
    expect(valueBoundsProblem({ a: Number.NaN }, plain)).toBe('a: not a finite number (NaN)');
    expect(valueBoundsProblem({ a: [Number.POSITIVE_INFINITY] }, plain)).toBe(
      'a: not a finite number (Infinity)',
    );
    expect(valueBoundsProblem({ a: [1, undefined] }, plain)).toBe('a: not JSON data (undefined in a list)');
    expect(valueBoundsProblem({ d: new Date(0) }, plain)).toBe('d: not JSON data (Date)');
    expect(valueBoundsProblem({ b: 1n }, plain)).toBe('b: not JSON data (bigint)');
    expect(valueBoundsProblem(undefined, plain)).toBe('not JSON data (undefined)');
    // Without plainJson these are only measured.
    expect(valueBoundsProblem({ a: Number.NaN, d: new Date(0) }, limits)).toBeUndefined();
  });
});
