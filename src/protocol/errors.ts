// Every protocol error is made here, with a stable code. Codes are also the close reasons
// sent in GOODBYE frames and the `reason` label of the disconnect metric, so they are part
// of the wire contract (proto/PROTOCOL.md, "Close reasons").

import { ErrorCode, wireCode } from '../errors/codes.js';
import { TabbyError } from '../errors/tabby-error.js';

export const CloseCode = {
  // Peer broke the protocol.
  FrameTooLarge: 'frame-too-large',
  MalformedFrame: 'malformed-frame',
  UnknownMessage: 'unknown-message',
  UnexpectedMessage: 'unexpected-message',
  UnsupportedVersion: 'unsupported-version',
  UnknownSyncer: 'unknown-syncer',
  NoCommonCompression: 'no-common-compression',
  // Liveness and flow control.
  HandshakeTimeout: 'handshake-timeout',
  PingTimeout: 'ping-timeout',
  WriteTimeout: 'write-timeout',
  WriteQueueFull: 'write-queue-full',
  TooManyPings: 'too-many-pings',
  FellBehind: 'fell-behind',
  // Server policy.
  Unauthenticated: 'unauthenticated',
  TooManyConnections: 'too-many-connections',
  Shutdown: 'shutdown',
  Rebalance: 'rebalance',
  /** The server's data is not fresh (its datastore is not in sync): it takes no new clients. */
  NotReady: 'not-ready',
  // Client side.
  HashMismatch: 'hash-mismatch',
  /** A well-formed server frame contradicts the stream so far (PROTOCOL.md §16.1). */
  InconsistentStream: 'inconsistent-stream',
  ClientClosing: 'client-closing',
  // Either side: a bug on the sender of this code, not the peer's fault.
  InternalError: 'internal-error',
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
const CLOSE_CODES = new Set<string>(Object.values(CloseCode));
/** Whether a peer's code is one this version defines (peers may send others, §16). */
export const isCloseCode = (code: string): code is CloseCode => CLOSE_CODES.has(code);

/** A peer sent something the protocol does not allow; the connection ends with `closeCode`. */
export class ProtocolError extends TabbyError {
  readonly closeCode: CloseCode;
  constructor(closeCode: CloseCode, message: string, options?: { cause?: unknown }) {
    super(wireCode('TABBY_ERR_PROTOCOL', closeCode), message, options);
    this.closeCode = closeCode;
  }
}

/** A value to be sent breaks the wire's MessagePack profile (PROTOCOL.md §4.1); nothing was sent. */
export class EncodeError extends TabbyError {
  constructor(message: string) {
    super(ErrorCode.Encode, message);
  }
}
