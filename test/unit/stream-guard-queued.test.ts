// QUEUED on the client side (PROTOCOL.md §9.1): only to a client that offered the `queued`
// capability, only where a snapshot could begin, and with a position inside the line.

import { describe, expect, it } from 'vitest';
import { StreamGuard } from '../../src/client/stream-guard.js';
import { CloseCode, ProtocolError } from '../../src/protocol/errors.js';
import { type Message, MsgType } from '../../src/protocol/messages.js';

const serverHello: Message = {
  type: MsgType.ServerHello,
  body: {
    version: 1,
    syncer: 'felix',
    compression: 'none',
    epoch: 'e',
    serverId: 's',
    resumed: false,
    pingIntervalMs: 10_000,
    pongTimeoutMs: 60_000,
  },
};
const queued = (position: number, of: number): Message => ({
  type: MsgType.Queued,
  body: { position, queued: of, etaMs: 0 },
});
const codeOf = (f: () => void): string | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof ProtocolError ? err.closeCode : 'other';
  }
};

function guard(capabilities?: string[]): StreamGuard {
  const g = new StreamGuard({ syncer: 'felix', compressions: [], ...(capabilities ? { capabilities } : {}) });
  g.check(serverHello, -1);
  return g;
}

describe('QUEUED on the client', () => {
  it('is accepted while waiting for the snapshot, when offered', () => {
    const g = guard(['queued']);
    g.check(queued(3, 5), -1);
    g.check(queued(1, 4), -1);
    expect(g.state).toBe('AWAIT_SNAPSHOT');
  });

  it('is unexpected-message when the client did not offer the capability (older clients)', () => {
    expect(codeOf(() => guard().check(queued(1, 1), -1))).toBe(CloseCode.UnexpectedMessage);
  });

  it('is unexpected-message before SERVER_HELLO and inside a snapshot', () => {
    const fresh = new StreamGuard({ syncer: 'felix', compressions: [], capabilities: ['queued'] });
    expect(codeOf(() => fresh.check(queued(1, 1), -1))).toBe(CloseCode.UnexpectedMessage);
    const g = guard(['queued']);
    g.check({ type: MsgType.SnapshotBegin, body: { epoch: 'e', generation: 1, keys: 1, chunks: 1 } }, -1);
    expect(codeOf(() => g.check(queued(1, 1), -1))).toBe(CloseCode.UnexpectedMessage);
  });

  it('is inconsistent-stream with a position outside the line', () => {
    expect(codeOf(() => guard(['queued']).check(queued(0, 3), -1))).toBe(CloseCode.InconsistentStream);
    expect(codeOf(() => guard(['queued']).check(queued(4, 3), -1))).toBe(CloseCode.InconsistentStream);
  });
});
