// A hostile server's frames against the client library (test/fuzz/client-fuzz.ts): every
// connection ends in a typed reason the spec allows and a reconnect; nothing crashes the
// process. TABBY_FUZZ_CLIENT_RUNS (and TABBY_FUZZ_SEED) for longer runs.

import { describe, expect, it } from 'vitest';
import { fuzzClient } from '../fuzz/client-fuzz.js';

const RUNS = Number(process.env['TABBY_FUZZ_CLIENT_RUNS'] ?? 400);
const SEED = Number(process.env['TABBY_FUZZ_SEED'] ?? 14);

describe('fuzz: the client against a hostile server', () => {
  it(`${RUNS} hostile connections (seed ${SEED}): a typed reason the spec allows, then a reconnect`, async () => {
    const r = await fuzzClient({ runs: RUNS, seed: SEED });
    console.log(`client fuzz: ${JSON.stringify(r)}`);
    expect(r.connections).toBe(RUNS);
    expect(Object.keys(r.ends)).toEqual(
      expect.arrayContaining([
        'quiet',
        'malformed-frame',
        'frame-too-large',
        'unexpected-message',
        'inconsistent-stream',
      ]),
    );
  }, 600_000);
});
