// What a client may receive, and when (proto/PROTOCOL.md §7.2), and the invariants of the
// stream it follows (§6, §9, §10, §11, §14): one object per connection checks every server
// frame before the client acts on it. A frame of the wrong kind for the state is
// `unexpected-message`; a well-formed frame that contradicts the stream so far is
// `inconsistent-stream`. Pure: no I/O, no state but the connection's.

import { CloseCode, ProtocolError } from '../protocol/errors.js';
import {
  Capability,
  type Hello,
  type Message,
  MsgType,
  msgName,
  PROTOCOL_VERSIONS,
  type ServerHello,
} from '../protocol/messages.js';

export const StreamState = {
  AwaitServerHello: 'AWAIT_SERVER_HELLO',
  AwaitSnapshot: 'AWAIT_SNAPSHOT',
  InSnapshot: 'IN_SNAPSHOT',
  Streaming: 'STREAMING',
  InDelta: 'IN_DELTA',
} as const;
export type StreamState = (typeof StreamState)[keyof typeof StreamState];

const unexpected = (msg: Message, state: StreamState, why = ''): ProtocolError =>
  new ProtocolError(CloseCode.UnexpectedMessage, `${msgName(msg.type)} in state ${state}${why}`);
const inconsistent = (why: string): ProtocolError => new ProtocolError(CloseCode.InconsistentStream, why);

/**
 * A resumed SERVER_HELLO continues the offered position: on the offered epoch at the offered
 * generation, or — only if the client sent its state hash — at `resumeGeneration` of any
 * stream that had that state (§14.3).
 */
function checkResumed(h: ServerHello, offered: Hello['resume']): void {
  if (offered === undefined) throw inconsistent('SERVER_HELLO resumed, but the client offered no position');
  const at = h.resumeGeneration ?? offered.generation;
  if (h.epoch === offered.epoch && at === offered.generation) return;
  if (offered.hash === undefined)
    throw inconsistent(
      `SERVER_HELLO resumed at ${h.epoch}/${at}, the client offered ${offered.epoch}/${offered.generation} and no state hash`,
    );
  if (h.resumeGeneration === undefined)
    throw inconsistent(
      `SERVER_HELLO resumed epoch ${h.epoch} (offered ${offered.epoch}) without resumeGeneration`,
    );
}

export class StreamGuard {
  state: StreamState = StreamState.AwaitServerHello;
  /** The stream's epoch, from SERVER_HELLO. */
  epoch = '';
  private snapshot = { generation: 0, keys: 0, chunks: 0, keysSeen: 0, chunksSeen: 0 };
  /** `to` of the DELTA run in progress. */
  private runTo = 0;

  /** hello: what this connection's HELLO offered. */
  constructor(private readonly hello: Pick<Hello, 'syncer' | 'compressions' | 'resume' | 'capabilities'>) {}

  /**
   * Checks a frame from the server against the state and the stream so far and advances the
   * state. `generation` is the client's position (−1: none). Throws ProtocolError.
   */
  check(msg: Message, generation: number): void {
    const s = this.state;
    switch (msg.type) {
      case MsgType.ServerHello: {
        if (s !== StreamState.AwaitServerHello) throw unexpected(msg, s);
        const h = msg.body;
        if (!(PROTOCOL_VERSIONS as readonly number[]).includes(h.version))
          throw new ProtocolError(
            CloseCode.UnsupportedVersion,
            `server chose version ${h.version}, this client speaks [${PROTOCOL_VERSIONS.join(',')}]`,
          );
        if (h.compression !== 'none' && !this.hello.compressions.includes(h.compression))
          throw new ProtocolError(
            CloseCode.NoCommonCompression,
            `server chose ${h.compression}, not offered`,
          );
        if (h.syncer !== this.hello.syncer)
          throw unexpected(msg, s, `: answers for syncer ${h.syncer}, not ${this.hello.syncer}`);
        if (h.resumed) checkResumed(h, this.hello.resume);
        this.epoch = h.epoch;
        this.state = h.resumed ? StreamState.Streaming : StreamState.AwaitSnapshot;
        return;
      }
      case MsgType.SnapshotBegin: {
        if (s !== StreamState.AwaitSnapshot && s !== StreamState.Streaming) throw unexpected(msg, s);
        const b = msg.body;
        if (b.epoch !== this.epoch)
          throw inconsistent(`SNAPSHOT_BEGIN of epoch ${b.epoch} on a stream of epoch ${this.epoch}`);
        if (b.keys === 0 && b.chunks !== 0)
          throw inconsistent(`SNAPSHOT_BEGIN: 0 keys in ${b.chunks} chunks`);
        this.snapshot = {
          generation: b.generation,
          keys: b.keys,
          chunks: b.chunks,
          keysSeen: 0,
          chunksSeen: 0,
        };
        this.state = StreamState.InSnapshot;
        return;
      }
      case MsgType.SnapshotChunk: {
        const snap = this.snapshot;
        if (s !== StreamState.InSnapshot) throw unexpected(msg, s);
        if (snap.chunksSeen === snap.chunks)
          throw unexpected(msg, s, `: SNAPSHOT_BEGIN announced ${snap.chunks} chunks`);
        snap.chunksSeen++;
        snap.keysSeen += msg.body.kvs.length;
        // Checked per chunk, so a lying server cannot make the client stage more than it said.
        if (snap.keysSeen > snap.keys)
          throw inconsistent(`snapshot has more than the ${snap.keys} keys SNAPSHOT_BEGIN announced`);
        return;
      }
      case MsgType.SnapshotEnd: {
        const snap = this.snapshot;
        if (s !== StreamState.InSnapshot) throw unexpected(msg, s);
        if (snap.chunksSeen !== snap.chunks)
          throw unexpected(msg, s, ` after ${snap.chunksSeen} of ${snap.chunks} chunks`);
        if (msg.body.generation !== snap.generation)
          throw inconsistent(
            `SNAPSHOT_END for generation ${msg.body.generation}, SNAPSHOT_BEGIN said ${snap.generation}`,
          );
        if (snap.keysSeen !== snap.keys)
          throw inconsistent(`snapshot has ${snap.keysSeen} keys, SNAPSHOT_BEGIN announced ${snap.keys}`);
        this.state = StreamState.Streaming;
        return;
      }
      case MsgType.Delta: {
        const d = msg.body;
        if (s !== StreamState.Streaming && s !== StreamState.InDelta) throw unexpected(msg, s);
        if (s === StreamState.InDelta && d.to !== this.runTo)
          throw inconsistent(`DELTA to ${d.to} inside the run to ${this.runTo}`);
        if (d.to <= generation)
          throw inconsistent(`DELTA to generation ${d.to}, the client is at ${generation}`);
        if (d.more && d.hash !== undefined) throw inconsistent('DELTA with more=true carries a hash');
        this.runTo = d.to;
        this.state = d.more ? StreamState.InDelta : StreamState.Streaming;
        return;
      }
      case MsgType.Status:
        if (s !== StreamState.Streaming) throw unexpected(msg, s);
        if (msg.body.generation !== generation)
          throw inconsistent(`STATUS at generation ${msg.body.generation}, the client is at ${generation}`);
        return;
      case MsgType.Ping:
      case MsgType.Pong:
        if (s === StreamState.AwaitServerHello) throw unexpected(msg, s);
        return;
      case MsgType.Queued:
        // Only to a client that asked (§8.6), and only where a snapshot could begin (§9.1).
        if (!this.hello.capabilities?.includes(Capability.Queued))
          throw unexpected(msg, s, ': the client did not offer the queued capability');
        if (s !== StreamState.AwaitSnapshot && s !== StreamState.Streaming) throw unexpected(msg, s);
        if (msg.body.position < 1 || msg.body.position > msg.body.queued)
          throw inconsistent(`QUEUED at position ${msg.body.position} of ${msg.body.queued}`);
        return;
      case MsgType.Goodbye:
        return;
      default:
        throw unexpected(msg, s, ': not a server-to-client message');
    }
  }
}
