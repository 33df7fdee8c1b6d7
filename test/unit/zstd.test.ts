// zstd only where the runtime has it (PROTOCOL.md §3.2, §8.3): detection, negotiation, and
// the ZSTD flag's receiver checks, each on a runtime with zstd and one without (the codec is
// swapped in, so both cases run on any Node).

import * as zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBody, FLAG_DEFLATE, FLAG_ZSTD, frame, packr } from '../../src/protocol/codec.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { CloseCode, ProtocolError } from '../../src/protocol/errors.js';
import { type Hello, MsgType } from '../../src/protocol/messages.js';
import { runtimeZstd, useZstdCodec, zstdCodec } from '../../src/protocol/zstd.js';
import { negotiate } from '../../src/server/negotiate.js';
import type { SyncStream } from '../../src/server/sync-stream.js';
import { fakeZstd } from '../harness/fake-zstd.js';

const original = zstdCodec();
afterEach(() => {
  useZstdCodec(original);
});

const hello = (compressions: string[]): Hello => ({
  versions: [1],
  syncer: 'felix',
  hostname: 'h',
  agent: 'a',
  compressions,
});
const streams = new Map([['felix', {} as SyncStream]] as const);
const serverOpts = { compressions: ['zstd', 'deflate'] as const, maxOutboundFrameBytes: 1 << 20 };
const body = packr.pack({ ts: 7, pad: 'x'.repeat(4000) });
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof ProtocolError ? err.closeCode : 'other';
  }
};
const decoder = (zstd: boolean) =>
  new FrameDecoder({ maxFrameBytes: 1 << 20, maxMessageBytes: 1 << 20, zstd });

describe('zstd detection', () => {
  it('finds zstd exactly when node:zlib has zstdCompressSync (Node >= 22.15)', () => {
    expect(runtimeZstd() !== undefined).toBe(
      typeof (zlib as Record<string, unknown>)['zstdCompressSync'] === 'function',
    );
    expect(runtimeZstd({})).toBeUndefined();
  });

  it('drives a zlib that has zstd with the level as ZSTD_c_compressionLevel', () => {
    const calls: unknown[] = [];
    const z = {
      constants: { ZSTD_c_compressionLevel: 100 },
      zstdCompressSync: (b: Uint8Array, o: object) => {
        calls.push(o);
        return Buffer.from(b);
      },
      zstdDecompressSync: (b: Uint8Array, o: object) => {
        calls.push(o);
        return { buffer: Buffer.from(b), engine: { bytesWritten: b.length } };
      },
    };
    const codec = runtimeZstd(z)!;
    codec.compress(Buffer.from('ab'), 1);
    expect(codec.decompress(Buffer.from('ab'), 99)).toEqual({ buffer: Buffer.from('ab'), consumed: 2 });
    expect(calls).toEqual([{ params: { 100: 1 } }, { maxOutputLength: 99, info: true }]);
    // A zlib that ignores `info` still decodes (without the trailing-bytes check).
    const bare = runtimeZstd({ ...z, zstdDecompressSync: (b: Uint8Array) => Buffer.from(b) })!;
    expect(bare.decompress(Buffer.from('abc'), 99)).toEqual({ buffer: Buffer.from('abc'), consumed: 3 });
  });
});

describe('a runtime without zstd', () => {
  it('never picks zstd, even when both lists name it', () => {
    useZstdCodec(undefined);
    expect(negotiate(hello(['zstd', 'deflate']), streams, serverOpts).compression).toBe('deflate');
    expect(negotiate(hello(['zstd']), streams, serverOpts).compression).toBe('none');
  });

  it('cannot write a ZSTD frame, and refuses one even when told zstd was negotiated', () => {
    useZstdCodec(undefined);
    expect(() => encodeBody(MsgType.Ping, body, { zstd: true })).toThrow(RangeError);
    useZstdCodec(fakeZstd);
    const f = encodeBody(MsgType.Ping, body, { zstd: true });
    useZstdCodec(undefined);
    expect(codeOf(() => decoder(true).push(f))).toBe(CloseCode.MalformedFrame);
  });
});

describe('a runtime with zstd', () => {
  it('picks zstd when the client offers it, and the next preference when it does not', () => {
    useZstdCodec(fakeZstd);
    expect(negotiate(hello(['deflate', 'zstd']), streams, serverOpts).compression).toBe('zstd');
    expect(negotiate(hello(['deflate']), streams, serverOpts).compression).toBe('deflate');
  });

  it('writes ZSTD frames that a decoder accepts only once zstd was negotiated', () => {
    useZstdCodec(fakeZstd);
    const f = encodeBody(MsgType.Ping, body, { zstd: true, minDeflateBytes: 1024 });
    expect(f[5]).toBe(FLAG_ZSTD);
    expect(decoder(true).push(f)).toEqual([{ type: MsgType.Ping, body: { ts: 7 } }]);
    expect(codeOf(() => decoder(false).push(f))).toBe(CloseCode.MalformedFrame);
    // Below the threshold a body goes uncompressed, as with deflate.
    expect(encodeBody(MsgType.Ping, packr.pack({ ts: 1 }), { zstd: true, minDeflateBytes: 1024 })[5]).toBe(0);
  });

  it('refuses both flags at once, bytes after the frame, bad data and bodies beyond the limit', () => {
    useZstdCodec(fakeZstd);
    const packed = fakeZstd.compress(body, 1);
    expect(codeOf(() => decoder(true).push(frame(MsgType.Ping, packed, FLAG_ZSTD | FLAG_DEFLATE)))).toBe(
      CloseCode.MalformedFrame,
    );
    const trailing = frame(MsgType.Ping, Buffer.concat([packed, Buffer.from([0])]), FLAG_ZSTD);
    expect(codeOf(() => decoder(true).push(trailing))).toBe(CloseCode.MalformedFrame);
    expect(codeOf(() => decoder(true).push(frame(MsgType.Ping, Buffer.from('nonsense'), FLAG_ZSTD)))).toBe(
      CloseCode.MalformedFrame,
    );
    const small = new FrameDecoder({ maxFrameBytes: 1 << 20, maxMessageBytes: 1000, zstd: true });
    expect(codeOf(() => small.push(frame(MsgType.Ping, packed, FLAG_ZSTD)))).toBe(CloseCode.FrameTooLarge);
  });
});
