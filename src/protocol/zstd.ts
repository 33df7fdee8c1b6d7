// Zstandard for frame bodies (PROTOCOL.md §3.2), where the runtime has it: node:zlib gained
// zstd in Node 22.15, and Node 20 has none. A peer offers or picks `zstd` only when
// zstdCodec() is defined here, so a runtime without it negotiates deflate or none instead.
// Tests swap the codec (useZstdCodec) to cover both kinds of runtime on either.

import * as zlib from 'node:zlib';

export interface ZstdCodec {
  compress(body: Uint8Array, level: number): Buffer;
  /**
   * The body, inflated to at most maxOutputLength bytes, and the compressed bytes the frame
   * used (so bytes after it can be refused). Throws as zlib does: code ERR_BUFFER_TOO_LARGE
   * past the limit, anything else for bad data.
   */
  decompress(body: Uint8Array, maxOutputLength: number): { buffer: Buffer; consumed: number };
}

/** Node ≥ 22.15's zstd functions; typed here because @types/node 20 does not know them. */
interface ZlibWithZstd {
  zstdCompressSync(buf: Uint8Array, opts: object): Buffer;
  zstdDecompressSync(buf: Uint8Array, opts: object): { buffer: Buffer; engine: { bytesWritten: number } };
  constants: { ZSTD_c_compressionLevel?: number };
}

/** The runtime's zstd, or undefined when node:zlib has none (Node < 22.15). */
export function runtimeZstd(z: object = zlib): ZstdCodec | undefined {
  const n = z as Partial<ZlibWithZstd>;
  if (typeof n.zstdCompressSync !== 'function' || typeof n.zstdDecompressSync !== 'function')
    return undefined;
  const level = n.constants?.ZSTD_c_compressionLevel;
  if (level === undefined) return undefined;
  const compressSync = n.zstdCompressSync;
  const decompressSync = n.zstdDecompressSync;
  return {
    compress: (body, l) => compressSync(body, { params: { [level]: l } }),
    decompress: (body, maxOutputLength) => {
      // `info` returns the engine too, whose bytesWritten is the compressed bytes it read (as
      // for zlib). Written against Node's docs, not run here (Node 20): should a runtime
      // return the bare buffer, the trailing-bytes check is lost, not the frame.
      const out = decompressSync(body, { maxOutputLength, info: true }) as unknown;
      if (Buffer.isBuffer(out)) return { buffer: out, consumed: body.length };
      const o = out as { buffer: Buffer; engine: { bytesWritten: number } };
      return { buffer: o.buffer, consumed: o.engine.bytesWritten };
    },
  };
}

let codec: ZstdCodec | undefined = runtimeZstd();

/** The zstd in use, or undefined: then nobody offers, picks or accepts `zstd`. */
export function zstdCodec(): ZstdCodec | undefined {
  return codec;
}

/** Replaces the zstd in use (tests: a runtime with or without it); returns the previous one. */
export function useZstdCodec(next: ZstdCodec | undefined): ZstdCodec | undefined {
  const prev = codec;
  codec = next;
  return prev;
}
