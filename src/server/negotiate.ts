// The server's side of the handshake negotiation (proto/PROTOCOL.md §8): version, syncer,
// frame size and compression. Pure, so every refusal has one place and one close code.

import type { SyncerType } from '../model/types.js';
import { CloseCode, ProtocolError } from '../protocol/errors.js';
import { type Compression, type Hello, PROTOCOL_VERSIONS } from '../protocol/messages.js';
import { zstdCodec } from '../protocol/zstd.js';
import { DEFAULT_CLIENT_MAX_FRAME_BYTES, type ServerOptions } from './options.js';
import type { SyncStream } from './sync-stream.js';

export interface Negotiated {
  version: number;
  compression: Compression;
  stream: SyncStream;
}

export function negotiate(
  hello: Hello,
  streams: ReadonlyMap<SyncerType, SyncStream>,
  opts: Pick<ServerOptions, 'compressions' | 'maxOutboundFrameBytes'>,
  /** The versions this server speaks (a later release lists the previous one too, §20). */
  versions: readonly number[] = PROTOCOL_VERSIONS,
): Negotiated {
  const common = hello.versions.filter((v) => versions.includes(v));
  if (common.length === 0)
    throw new ProtocolError(
      CloseCode.UnsupportedVersion,
      `client speaks versions [${hello.versions.join(',')}], server speaks [${versions.join(',')}]`,
    );
  const stream = streams.get(hello.syncer);
  if (stream === undefined)
    throw new ProtocolError(CloseCode.UnknownSyncer, `this server does not serve syncer ${hello.syncer}`);
  const clientMax = hello.maxFrameBytes ?? DEFAULT_CLIENT_MAX_FRAME_BYTES;
  if (clientMax < opts.maxOutboundFrameBytes)
    throw new ProtocolError(
      CloseCode.FrameTooLarge,
      `client accepts frames up to ${clientMax} bytes; this server sends up to ${opts.maxOutboundFrameBytes}`,
    );
  const compression = opts.compressions.find((c) => hello.compressions.includes(c) && canEncode(c)) ?? 'none';
  return { version: Math.max(...common), compression, stream };
}

/** zstd only where this runtime has it (Node ≥ 22.15): otherwise the next preference wins. */
export function canEncode(c: Compression): boolean {
  return c !== 'zstd' || zstdCodec() !== undefined;
}

/**
 * Where a client that offered `resume` continues, or undefined (a snapshot): its own
 * generation on this stream (same epoch, inside the window), else — when it sent its state
 * hash — the latest generation of this stream with that exact state, wherever the client got
 * it (another replica, an earlier process: §14.3).
 */
export function resumePoint(resume: Hello['resume'], stream: SyncStream): number | undefined {
  if (resume === undefined) return undefined;
  if (resume.epoch === stream.epoch && stream.canResume(resume.generation)) return resume.generation;
  return resume.hash === undefined ? undefined : stream.generationWithHash(resume.hash);
}
