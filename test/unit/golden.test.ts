// Golden wire frames (proto/golden/): the codec must produce exactly the committed bytes,
// and the decoder must turn them back into the same messages. A failure here means the
// wire format changed: that needs a new protocol version, not a regenerated file.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLAG_DEFLATE } from '../../src/protocol/codec.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import {
  encodeCase,
  GEN43_HASH,
  GOLDEN_CASES,
  GOLDEN_DIR,
  plainBody,
  renderReadme,
  SNAPSHOT_HASH,
} from '../golden/gen-frames.js';

const LIMITS = { maxFrameBytes: 16 << 20, maxMessageBytes: 64 << 20, deflate: true };
const golden = (name: string): Buffer => readFileSync(join(GOLDEN_DIR, `${name}.bin`));

describe('golden frames', () => {
  it('has a case for every file and a file for every case', () => {
    const files = readdirSync(GOLDEN_DIR)
      .filter((f) => f.endsWith('.bin'))
      .sort();
    expect(files).toEqual(GOLDEN_CASES.map((c) => `${c.name}.bin`).sort());
  });

  describe.each(GOLDEN_CASES.map((c) => [c.name, c] as const))('%s', (name, c) => {
    it('encodes to the golden bytes', () => {
      const bytes = golden(name);
      const encoded = encodeCase(c);
      if (c.deflate) {
        // zlib output is not promised to be stable across zlib builds: same header, same inflated body.
        expect(encoded[4]).toBe(bytes[4]);
        expect(encoded[5]).toBe(bytes[5]);
        expect(encoded.readUInt32BE(0)).toBe(encoded.length - 4);
        expect(plainBody(encoded)).toEqual(plainBody(bytes));
      } else {
        expect(encoded.toString('hex')).toBe(bytes.toString('hex'));
      }
    });

    it('decodes to the message', () => {
      const bytes = golden(name);
      expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
      expect(((bytes[5]! & FLAG_DEFLATE) !== 0) === (c.deflate === true)).toBe(true);
      expect(new FrameDecoder(LIMITS).push(bytes)).toEqual([c.message]);
    });
  });

  it('decodes all frames sent back to back, one byte at a time', () => {
    const stream = Buffer.concat(GOLDEN_CASES.map((c) => golden(c.name)));
    const d = new FrameDecoder(LIMITS);
    const out = [];
    for (let i = 0; i < stream.length; i++) out.push(...d.push(stream.subarray(i, i + 1)));
    expect(out).toEqual(GOLDEN_CASES.map((c) => c.message));
    expect(d.pendingBytes).toBe(0);
    expect(d.bytesDecoded).toBe(stream.length);
  });

  it('carries the real state hashes of the story', () => {
    expect(SNAPSHOT_HASH).toMatch(/^[0-9a-f]{64}$/);
    expect(GEN43_HASH).not.toBe(SNAPSHOT_HASH);
    const end = GOLDEN_CASES.find((c) => c.name === 'snapshot-end')!.message;
    expect(end.body).toMatchObject({ hash: SNAPSHOT_HASH });
  });

  it('has an up-to-date README', () => {
    const frames = new Map(GOLDEN_CASES.map((c) => [c.name, golden(c.name)]));
    expect(readFileSync(join(GOLDEN_DIR, 'README.md'), 'utf8')).toBe(renderReadme(frames));
  });
});
