// Hostile input against a real server (test/fuzz/server-fuzz.ts): every generated stream of
// frames ends as PROTOCOL.md says (the oracle in test/fuzz/spec-oracle.ts), the server never
// crashes or blames itself, and a healthy client keeps its deltas. CI runs a seeded slice;
// TABBY_FUZZ_CASES=100000 (and TABBY_FUZZ_SEED) runs the soak's share.

import { describe, expect, it } from 'vitest';
import { fuzzServer } from '../fuzz/server-fuzz.js';

const CASES = Number(process.env['TABBY_FUZZ_CASES'] ?? 3_000);
const SEED = Number(process.env['TABBY_FUZZ_SEED'] ?? 14);

describe('fuzz: the server against the spec', () => {
  it(`${CASES} cases (seed ${SEED}) end with the close code the spec names, or are accepted`, async () => {
    const r = await fuzzServer({
      minConnections: 400,
      cases: CASES,
      seed: SEED,
      log: (s) => process.env['TABBY_FUZZ_VERBOSE'] && console.log(s),
    });
    console.log(`server fuzz: ${JSON.stringify(r)}`);
    expect(r.cases).toBeGreaterThanOrEqual(CASES);
    // The mix reached every way a connection can end, not just one.
    expect(Object.keys(r.ends)).toEqual(
      expect.arrayContaining([
        'none',
        'quiet',
        'malformed-frame',
        'frame-too-large',
        'unknown-message',
        'unexpected-message',
      ]),
    );
  }, 600_000);
});
