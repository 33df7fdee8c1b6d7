// A stand-in for zstd on runtimes without it (Node < 22.15): brotli behind the ZstdCodec
// interface. Its bytes are not zstd, but every path that decides who offers, picks, writes
// and accepts the ZSTD flag runs as it would with the real codec (useZstdCodec swaps it in).

import { brotliCompressSync, brotliDecompressSync, constants, type ZlibOptions } from 'node:zlib';
import type { ZstdCodec } from '../../src/protocol/zstd.js';

export const fakeZstd: ZstdCodec = {
  compress: (body) => brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } }),
  decompress: (body, maxOutputLength) => {
    const out = brotliDecompressSync(body, { maxOutputLength, info: true } as ZlibOptions) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    return { buffer: out.buffer, consumed: out.engine.bytesWritten };
  },
};
