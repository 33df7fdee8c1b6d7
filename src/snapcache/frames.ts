// Turns pre-encoded KV entries into wire frames: delta frames split by size, and whole
// snapshots split into chunks. Pure functions; the cache decides when to call them and
// keeps the results so each set of bytes is produced once.

import { bodyWithKVs, type CompressOptions, encodeBody, encodeMessage } from '../protocol/codec.js';
import { type Compression, MsgType } from '../protocol/messages.js';

export interface EncodeOptions {
  compression: Compression;
  /** Frames with a larger raw body than this are split (deltas) or chunked (snapshots). */
  maxFrameBodyBytes: number;
  /** Bodies below this many bytes are not worth compressing. */
  minDeflateBytes: number;
}

export interface Frames {
  readonly frames: readonly Buffer[];
  readonly bytes: number;
}

function splitBySize(entries: readonly Buffer[], maxBytes: number): Buffer[][] {
  const groups: Buffer[][] = [];
  let cur: Buffer[] = [];
  let size = 0;
  for (const e of entries) {
    if (cur.length > 0 && size + e.length > maxBytes) {
      groups.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(e);
    size += e.length;
  }
  if (cur.length > 0 || groups.length === 0) groups.push(cur);
  return groups;
}

/** What encodeBody is to do for a negotiated compression. */
function compressWith(compression: Compression, minDeflateBytes: number): CompressOptions {
  return { deflate: compression === 'deflate', zstd: compression === 'zstd', minDeflateBytes };
}

function total(frames: Buffer[]): Frames {
  let bytes = 0;
  for (const f of frames) bytes += f.length;
  return { frames, bytes };
}

export function encodeDelta(
  to: number,
  hash: string,
  entries: readonly Buffer[],
  opts: EncodeOptions,
): Frames {
  const compress = compressWith(opts.compression, opts.minDeflateBytes);
  const groups = splitBySize(entries, opts.maxFrameBodyBytes);
  const frames = groups.map((group, i) => {
    const last = i === groups.length - 1;
    const body = bodyWithKVs({ to, more: !last, hash: last ? hash : undefined }, group);
    return encodeBody(MsgType.Delta, body, compress);
  });
  return total(frames);
}

export function encodeSnapshot(
  epoch: string,
  generation: number,
  hash: string,
  entries: readonly Buffer[],
  opts: EncodeOptions,
): Frames {
  const compress = compressWith(opts.compression, 0);
  const groups = entries.length === 0 ? [] : splitBySize(entries, opts.maxFrameBodyBytes);
  const frames: Buffer[] = [
    encodeMessage({
      type: MsgType.SnapshotBegin,
      body: { epoch, generation, keys: entries.length, chunks: groups.length },
    }),
  ];
  for (const group of groups) {
    frames.push(encodeBody(MsgType.SnapshotChunk, bodyWithKVs({}, group), compress));
  }
  frames.push(encodeMessage({ type: MsgType.SnapshotEnd, body: { generation, hash } }));
  return total(frames);
}
