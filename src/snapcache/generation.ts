// One immutable step of a syncer's stream: the changes of one batch (pre-encoded, one
// entry per key), the status and state hash after it. Frames for it are encoded on first
// use per compression and then shared by every client, until a newer generation is the head.

import type { SyncStatus } from '../model/types.js';
import { encodeMessage } from '../protocol/codec.js';
import { type Compression, MsgType } from '../protocol/messages.js';
import { type EncodeOptions, encodeDelta, type Frames } from './frames.js';

export class Generation {
  private readonly encoded = new Map<Compression, Frames>();
  private statusBytes: Buffer | undefined;
  /** Bytes of the encoded changes: what retaining this generation costs. */
  readonly bytes: number;

  constructor(
    readonly generation: number,
    readonly createdAtMs: number,
    readonly status: SyncStatus,
    readonly hash: string,
    /** key → encoded [key, value|nil]; one entry per key (last write of the batch). */
    readonly changes: ReadonlyMap<string, Buffer>,
  ) {
    let bytes = 0;
    for (const [k, e] of changes) bytes += e.length + k.length;
    this.bytes = bytes;
  }

  deltaFrames(opts: EncodeOptions): Frames {
    let f = this.encoded.get(opts.compression);
    if (f === undefined) {
      f = encodeDelta(this.generation, this.hash, [...this.changes.values()], opts);
      this.encoded.set(opts.compression, f);
    }
    return f;
  }

  /** Bytes of the delta frames held (not counted in `bytes`: they live only while this is the head). */
  get framesBytes(): number {
    let n = 0;
    for (const f of this.encoded.values()) n += f.bytes;
    return n;
  }

  /**
   * Forgets the delta frames once a newer generation is the head: from then on only merged
   * catch-ups (from:head) are asked for, so keeping them would double the window's memory.
   */
  releaseFrames(): void {
    this.encoded.clear();
  }

  statusFrame(): Buffer {
    this.statusBytes ??= encodeMessage({
      type: MsgType.Status,
      body: { status: this.status, generation: this.generation },
    });
    return this.statusBytes;
  }
}
