// The incremental frame decoder: any split of the byte stream gives the same messages, and
// every kind of bad input ends with the close code PROTOCOL.md assigns to it, with size
// limits enforced from the header, before a body is buffered or inflated.

import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLAG_DEFLATE, frame, packr } from '../../src/protocol/codec.js';
import { type DecoderLimits, FrameDecoder } from '../../src/protocol/decoder.js';
import { CloseCode, ProtocolError } from '../../src/protocol/errors.js';
import { type Message, MsgType } from '../../src/protocol/messages.js';
import { encodeCase, GOLDEN_CASES } from '../golden/gen-frames.js';

const LIMITS = { maxFrameBytes: 1 << 20, maxMessageBytes: 4 << 20, deflate: true };
const messages = GOLDEN_CASES.map((c) => c.message);
const stream = Buffer.concat(GOLDEN_CASES.map(encodeCase));

/** The close code of the ProtocolError that pushing these chunks throws. */
function closeCodeOf(chunks: Buffer[], limits: DecoderLimits = LIMITS): CloseCode {
  const d = new FrameDecoder(limits);
  try {
    for (const c of chunks) d.push(c);
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    const e = err as ProtocolError;
    expect(e.code).toBe(`TABBY_ERR_PROTOCOL_${e.closeCode.toUpperCase().replaceAll('-', '_')}`);
    return e.closeCode;
  }
  throw new Error('decoder accepted bad input');
}
const raw = (type: number, body: unknown, flags = 0): Buffer =>
  frame(type as MsgType, packr.pack(body), flags);
const header = (length: number, type = MsgType.Ping, flags = 0): Buffer => {
  const h = Buffer.alloc(6);
  h.writeUInt32BE(length, 0);
  h[4] = type;
  h[5] = flags;
  return h;
};

describe('FrameDecoder splitting', () => {
  it('yields the same messages when fed one byte at a time', () => {
    const d = new FrameDecoder(LIMITS);
    const out: Message[] = [];
    for (let i = 0; i < stream.length; i++) {
      out.push(...d.push(stream.subarray(i, i + 1)));
      expect(d.pendingBytes).toBeLessThanOrEqual(LIMITS.maxFrameBytes + 4);
    }
    expect(out).toEqual(messages);
    expect(d.pendingBytes).toBe(0);
    expect(d.bytesDecoded).toBe(stream.length);
  });

  it('yields the same messages for any split of the stream', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }),
        (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
          const d = new FrameDecoder(LIMITS);
          const out: Message[] = [];
          for (let i = 1; i < points.length; i++)
            out.push(...d.push(stream.subarray(points[i - 1], points[i])));
          expect(out).toEqual(messages);
          expect(d.pendingBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('returns several messages from one chunk and keeps a partial frame for later', () => {
    const d = new FrameDecoder(LIMITS);
    const two = encodeCase(GOLDEN_CASES[0]!).length + encodeCase(GOLDEN_CASES[1]!).length;
    expect(d.push(stream.subarray(0, two + 3))).toEqual(messages.slice(0, 2));
    expect(d.pendingBytes).toBe(3);
    expect(d.push(stream.subarray(two + 3))).toEqual(messages.slice(2));
  });

  it('accepts a frame whose length is exactly the limit', () => {
    const body = packr.pack({ ts: 1, pad: 'x'.repeat(100) });
    const f = frame(MsgType.Ping, body);
    expect(
      new FrameDecoder({ maxFrameBytes: body.length + 2, maxMessageBytes: body.length }).push(f),
    ).toEqual([{ type: MsgType.Ping, body: { ts: 1 } }]);
  });

  it('ignores unknown fields', () => {
    const f = raw(MsgType.Ack, { generation: 3, future: { x: [1] }, z: null });
    expect(new FrameDecoder(LIMITS).push(f)).toEqual([{ type: MsgType.Ack, body: { generation: 3 } }]);
  });

  it('treats nil in an optional field as absent', () => {
    const d = new FrameDecoder(LIMITS);
    expect(d.push(raw(MsgType.Delta, { to: 2, kvs: [], more: false, hash: null }))).toEqual([
      { type: MsgType.Delta, body: { to: 2, kvs: [], more: false } },
    ]);
    expect(d.push(raw(MsgType.Ack, { generation: 2, hash: null }))).toEqual([
      { type: MsgType.Ack, body: { generation: 2 } },
    ]);
    expect(d.push(raw(MsgType.Goodbye, { code: 'x', message: 'y', retryAfterMs: null }))).toEqual([
      { type: MsgType.Goodbye, body: { code: 'x', message: 'y' } },
    ]);
    const hello = { versions: [1], syncer: 'bgp', hostname: 'h', agent: 'a', compressions: [] };
    expect(d.push(raw(MsgType.Hello, { ...hello, maxFrameBytes: null, resume: null }))).toEqual([
      { type: MsgType.Hello, body: hello },
    ]);
  });

  it('accepts integers in any MessagePack width and integral float64', () => {
    const d = new FrameDecoder(LIMITS);
    for (const hex of ['05', 'cc05', 'cd0005', 'ce00000005', 'cf0000000000000005', 'cb4014000000000000']) {
      const body = Buffer.concat([Buffer.from('81aa67656e65726174696f6e', 'hex'), Buffer.from(hex, 'hex')]);
      expect(d.push(frame(MsgType.Ack, body))).toEqual([{ type: MsgType.Ack, body: { generation: 5 } }]);
    }
  });

  it('inflates compressed frames, whatever the compression level', () => {
    const body = packr.pack({ kvs: [['k', { v: 'x'.repeat(3000) }]] });
    for (const level of [0, 1, 6, 9]) {
      const f = frame(MsgType.SnapshotChunk, deflateSync(body, { level }), FLAG_DEFLATE);
      expect(new FrameDecoder(LIMITS).push(f)).toEqual([
        { type: MsgType.SnapshotChunk, body: { kvs: [{ key: 'k', value: { v: 'x'.repeat(3000) } }] } },
      ]);
    }
  });
});

describe('FrameDecoder rejects', () => {
  it('a length below 2 (no room for type and flags)', () => {
    expect(closeCodeOf([Buffer.from([0, 0, 0, 0])])).toBe(CloseCode.MalformedFrame);
    expect(closeCodeOf([Buffer.from([0, 0, 0, 1, 8])])).toBe(CloseCode.MalformedFrame);
  });

  it('a length above the limit as soon as the 4 length bytes are in, before the body', () => {
    const d = new FrameDecoder(LIMITS);
    const h = header(LIMITS.maxFrameBytes + 1);
    expect(d.push(h.subarray(0, 3))).toEqual([]);
    expect(() => d.push(h.subarray(3, 4))).toThrowError(
      expect.objectContaining({ closeCode: CloseCode.FrameTooLarge }),
    );
    expect(closeCodeOf([header(0xffffffff)])).toBe(CloseCode.FrameTooLarge);
  });

  it('a length above the limit even after good frames', () => {
    expect(closeCodeOf([stream, header(LIMITS.maxFrameBytes + 1).subarray(0, 4)])).toBe(
      CloseCode.FrameTooLarge,
    );
  });

  it('unknown flag bits', () => {
    for (const flags of [0x02, 0x04, 0x80, 0x03]) {
      expect(closeCodeOf([raw(MsgType.Ping, { ts: 1 }, flags)])).toBe(CloseCode.MalformedFrame);
    }
  });

  it('bad zlib data', () => {
    const body = packr.pack({ ts: 1 });
    expect(closeCodeOf([frame(MsgType.Ping, body, FLAG_DEFLATE)])).toBe(CloseCode.MalformedFrame);
    const z = deflateSync(body);
    expect(closeCodeOf([frame(MsgType.Ping, z.subarray(0, z.length - 3), FLAG_DEFLATE)])).toBe(
      CloseCode.MalformedFrame,
    );
    expect(closeCodeOf([frame(MsgType.Ping, Buffer.alloc(0), FLAG_DEFLATE)])).toBe(CloseCode.MalformedFrame);
  });

  it('a DEFLATE frame unless deflate was negotiated, from the next frame on', () => {
    const plain = raw(MsgType.Ping, { ts: 1 });
    const packed = frame(MsgType.Ping, deflateSync(packr.pack({ ts: 2 })), FLAG_DEFLATE);
    const strict = { maxFrameBytes: LIMITS.maxFrameBytes, maxMessageBytes: LIMITS.maxMessageBytes };
    expect(closeCodeOf([packed], strict)).toBe(CloseCode.MalformedFrame);
    // Switched on by the handler of the frame before, within the same read.
    const d = new FrameDecoder(strict);
    const seen: Message[] = [];
    d.feed(Buffer.concat([plain, packed]), (m) => {
      seen.push(m);
      d.deflate = true;
    });
    expect(seen.map((m) => m.body)).toEqual([{ ts: 1 }, { ts: 2 }]);
    d.deflate = false;
    expect(() => d.push(packed)).toThrowError(
      expect.objectContaining({ closeCode: CloseCode.MalformedFrame }),
    );
  });

  it('a zlib bomb that inflates beyond maxMessageBytes', () => {
    const bomb = deflateSync(Buffer.alloc(LIMITS.maxMessageBytes + 1), { level: 9 });
    expect(bomb.length).toBeLessThan(LIMITS.maxFrameBytes / 100);
    expect(closeCodeOf([frame(MsgType.SnapshotChunk, bomb, FLAG_DEFLATE)])).toBe(CloseCode.FrameTooLarge);
  });

  it('an uncompressed body beyond maxMessageBytes', () => {
    const limits = { maxFrameBytes: 1 << 20, maxMessageBytes: 100 };
    const f = raw(MsgType.Ping, { ts: 1, pad: 'x'.repeat(200) });
    expect(closeCodeOf([f], limits)).toBe(CloseCode.FrameTooLarge);
  });

  it('a body that is not MessagePack, or is empty or truncated', () => {
    expect(closeCodeOf([frame(MsgType.Ping, Buffer.alloc(0))])).toBe(CloseCode.MalformedFrame);
    expect(closeCodeOf([frame(MsgType.Ping, Buffer.from('82a17401', 'hex'))])).toBe(CloseCode.MalformedFrame);
    expect(closeCodeOf([frame(MsgType.Ping, Buffer.from('{"ts":1}'))])).toBe(CloseCode.MalformedFrame);
    expect(closeCodeOf([frame(MsgType.Ping, Buffer.from('c1', 'hex'))])).toBe(CloseCode.MalformedFrame);
    expect(closeCodeOf([frame(MsgType.Ping, Buffer.from('d40501', 'hex'))])).toBe(CloseCode.MalformedFrame);
  });

  it('bytes after the MessagePack value', () => {
    const body = Buffer.concat([packr.pack({ ts: 1 }), Buffer.from([0xc0])]);
    expect(closeCodeOf([frame(MsgType.Ping, body)])).toBe(CloseCode.MalformedFrame);
    const two = Buffer.concat([packr.pack({ ts: 1 }), packr.pack({ ts: 2 })]);
    expect(closeCodeOf([frame(MsgType.Ping, deflateSync(two), FLAG_DEFLATE)])).toBe(CloseCode.MalformedFrame);
    // …and after the zlib stream (§3.1).
    const trailing = Buffer.concat([deflateSync(packr.pack({ ts: 1 })), Buffer.from([0])]);
    expect(closeCodeOf([frame(MsgType.Ping, trailing, FLAG_DEFLATE)])).toBe(CloseCode.MalformedFrame);
  });

  it('a body that is not a map', () => {
    for (const body of [[1], 'ts', null, 7, true]) {
      expect(closeCodeOf([raw(MsgType.Ping, body)])).toBe(CloseCode.MalformedFrame);
    }
  });

  it('an unknown message type, whatever its body', () => {
    for (const type of [0x00, 0x0e, 0x7f, 0xff]) {
      expect(closeCodeOf([raw(type, { ts: 1 })])).toBe(CloseCode.UnknownMessage);
      expect(closeCodeOf([raw(type, [1, 2])])).toBe(CloseCode.UnknownMessage);
    }
  });

  it('wrong field types and missing required fields', () => {
    const hello = { versions: [1], syncer: 'felix', hostname: 'h', agent: 'a', compressions: [] };
    const serverHello = {
      version: 1,
      syncer: 'felix',
      compression: 'none',
      epoch: 'e',
      serverId: 's',
      resumed: false,
      pingIntervalMs: 1,
      pongTimeoutMs: 2,
    };
    const bad: Array<[number, unknown]> = [
      [MsgType.Ping, { ts: '1' }],
      [MsgType.Ping, { ts: -1 }],
      [MsgType.Ping, { ts: 1.5 }],
      [MsgType.Ping, { ts: 2 ** 53 }],
      [MsgType.Ping, {}],
      [MsgType.Ack, { generation: null }],
      [MsgType.Ack, { generation: 1, hash: 'f'.repeat(63) }],
      [MsgType.Ack, { generation: 1, hash: 7 }],
      [MsgType.Hello, { ...hello, versions: 1 }],
      [MsgType.Hello, { ...hello, versions: ['1'] }],
      [MsgType.Hello, { ...hello, hostname: 5 }],
      [MsgType.Hello, { ...hello, compressions: 'deflate' }],
      [MsgType.Hello, { ...hello, compressions: [1] }],
      [MsgType.Hello, { ...hello, maxFrameBytes: '1' }],
      [MsgType.Hello, { ...hello, resume: { epoch: 'e' } }],
      [MsgType.Hello, { ...hello, resume: 'e:1' }],
      [MsgType.ServerHello, { ...serverHello, resumed: 0 }],
      [MsgType.ServerHello, { ...serverHello, pongTimeoutMs: undefined }],
      [MsgType.SnapshotBegin, { epoch: 'e', generation: 1, keys: 1 }],
      [MsgType.SnapshotEnd, { generation: 1, hash: 0 }],
      [MsgType.SnapshotEnd, { generation: 1, hash: 'F'.repeat(64) }],
      [MsgType.SnapshotEnd, { generation: 1, hash: 'f'.repeat(63) }],
      [MsgType.Delta, { to: 1, kvs: [], more: false, hash: 'broken' }],
      [MsgType.Delta, { to: 1, kvs: [], more: 0 }],
      [MsgType.Delta, { to: 1, kvs: {}, more: false }],
      [MsgType.Delta, { to: 1, kvs: [['k']], more: false }],
      [MsgType.Delta, { to: 1, kvs: [['k', 1, 2]], more: false }],
      [MsgType.Delta, { to: 1, kvs: [[1, 1]], more: false }],
      [MsgType.Delta, { to: 1, kvs: [{ key: 'k', value: 1 }], more: false }],
      [MsgType.Delta, { to: 1, kvs: [], more: false, hash: 1 }],
      [MsgType.Status, { status: 'bogus', generation: 1 }],
      [MsgType.Status, { status: 'in-sync' }],
      [MsgType.Goodbye, { code: 'x' }],
      [MsgType.Goodbye, { code: 'x', message: 'm', retryAfterMs: -5 }],
      [MsgType.Report, { data: {} }],
    ];
    for (const [type, body] of bad) {
      expect(closeCodeOf([raw(type, body)]), JSON.stringify(body)).toBe(CloseCode.MalformedFrame);
    }
  });

  it('KV values that are not plain JSON data (bin, ext timestamp, NaN, Infinity)', () => {
    const delta = (valueHex: string): Buffer =>
      frame(
        MsgType.Delta,
        Buffer.concat([
          Buffer.from('83a2746f01a46d6f7265c2a36b76739192a16b', 'hex'), // {to:1, more:false, kvs:[["k", …
          Buffer.from(valueHex, 'hex'),
        ]),
      );
    expect(new FrameDecoder(LIMITS).push(delta('c0'))).toEqual([
      { type: MsgType.Delta, body: { to: 1, more: false, kvs: [{ key: 'k', value: null }] } },
    ]);
    for (const hex of [
      'c40101',
      'd6ff00000001',
      '81a161d6ff00000001',
      'cb7ff8000000000000',
      'cb7ff0000000000000',
    ]) {
      expect(closeCodeOf([delta(hex)]), hex).toBe(CloseCode.MalformedFrame);
    }
    expect(closeCodeOf([raw(MsgType.Report, { kind: 'k', data: Buffer.from([1]) })])).toBe(
      CloseCode.MalformedFrame,
    );
  });

  it('a nil value (a delete) inside a snapshot chunk', () => {
    const f = raw(MsgType.SnapshotChunk, {
      kvs: [
        ['a', 1],
        ['b', null],
      ],
    });
    expect(closeCodeOf([f])).toBe(CloseCode.MalformedFrame);
  });

  it('an unknown syncer with unknown-syncer, an unknown compression with no-common-compression', () => {
    const hello = { versions: [1], syncer: 'calico', hostname: 'h', agent: 'a', compressions: [] };
    expect(closeCodeOf([raw(MsgType.Hello, hello)])).toBe(CloseCode.UnknownSyncer);
    const sh = {
      version: 1,
      syncer: 'felix',
      compression: 'snappy',
      epoch: 'e',
      serverId: 's',
      resumed: false,
      pingIntervalMs: 1,
      pongTimeoutMs: 2,
    };
    expect(closeCodeOf([raw(MsgType.ServerHello, sh)])).toBe(CloseCode.NoCommonCompression);
  });

  it('unknown-syncer and no-common-compression only for a body that is otherwise well formed (§19 step 6)', () => {
    // Found by test/fv/fuzz-server.test.ts: a HELLO missing `versions` was blamed on its syncer.
    const hello = { syncer: 'calico', hostname: 'h', agent: 'a', compressions: [] };
    expect(closeCodeOf([raw(MsgType.Hello, hello)])).toBe(CloseCode.MalformedFrame);
    const sh = { version: 1, syncer: 'calico', compression: 'snappy', epoch: 'e', serverId: 's', resumed: 1 };
    expect(closeCodeOf([raw(MsgType.ServerHello, sh)])).toBe(CloseCode.MalformedFrame);
  });

  it('garbage anywhere in a valid stream, without hanging or crashing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: stream.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (at, xor) => {
          const corrupt = Buffer.from(stream);
          corrupt[at]! ^= xor;
          const d = new FrameDecoder(LIMITS);
          try {
            d.push(corrupt);
          } catch (err) {
            expect(err).toBeInstanceOf(ProtocolError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
