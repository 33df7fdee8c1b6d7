// zstd end to end over loopback, on a runtime with zstd and on one without (the codec is
// swapped in: test/harness/fake-zstd.ts): who offers it, who gets it, and that every client
// ends with the head state either way.

import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { Keys } from '../../src/model/keys.js';
import { FLAG_ZSTD } from '../../src/protocol/codec.js';
import { MsgType } from '../../src/protocol/messages.js';
import { useZstdCodec, zstdCodec } from '../../src/protocol/zstd.js';
import { fakeZstd } from '../harness/fake-zstd.js';
import { RawClient } from '../harness/raw-client.js';
import { perTestStack, type Stack, startStack, waitFor } from '../harness/stack.js';

const original = zstdCodec();
const t = perTestStack();
afterEach(() => {
  useZstdCodec(original);
});

async function serve(): Promise<Stack> {
  const s = await startStack({ server: { compressions: ['zstd', 'deflate'] } });
  s.router.onStatus('resync');
  s.router.onUpdates(
    Array.from({ length: 3_000 }, (_, i) => ({
      key: Keys.workloadEndpoint(`node-${i % 20}`, 'ns', `pod-${i}`),
      value: { ipv4Nets: [`10.1.${i >> 8}.${i & 255}/32`], labels: { app: `a${i % 5}` } },
    })),
  );
  s.router.onStatus('in-sync');
  return s;
}

let named = 0;
async function syncedClient(s: Stack, opts: { compressions?: string[] } = {}): Promise<string> {
  const c = new SyncClient({
    addresses: [s.address],
    syncer: 'felix',
    hostname: `n${++named}`,
    ...opts,
  });
  t.track(c);
  c.start();
  const cache = s.caches.get('felix')!;
  await waitFor(
    () => c.status === 'in-sync' && c.state.hashHex() === cache.stateHash,
    20_000,
    'client in sync',
  );
  const conn = [...s.server.connections()].find((x) => x.hostname === `n${named}`)!;
  return conn.compression;
}

describe('zstd negotiated only where the runtime has it', () => {
  it('with zstd: a default client gets zstd frames; a deflate-only client gets deflate; both sync', async () => {
    useZstdCodec(fakeZstd);
    const stack = await t.own(serve());
    expect(await syncedClient(stack)).toBe('zstd');
    expect(await syncedClient(stack, { compressions: ['deflate'] })).toBe('deflate');
    const raw = await RawClient.open(stack.address);
    raw.hello({ compressions: ['zstd'] });
    await waitFor(() => raw.messages.some((m) => m.type === MsgType.SnapshotEnd), 10_000, 'raw snapshot');
    raw.destroy();
    // The chunks went out flagged ZSTD (the raw client's decoder accepts any flag).
    const chunks = stack.caches
      .get('felix')!
      .snapshot('zstd')
      .frames.filter((f) => f[4] === MsgType.SnapshotChunk);
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((f) => f[5] === FLAG_ZSTD)).toBe(true);
  }, 60_000);

  it('without zstd (Node 20): the client does not offer it, the server does not pick it; deflate, in sync', async () => {
    useZstdCodec(undefined);
    const stack = await t.own(serve());
    expect(await syncedClient(stack)).toBe('deflate');
    // Asked to offer zstd anyway, the client offers only what it can decode.
    expect(await syncedClient(stack, { compressions: ['zstd', 'deflate'] })).toBe('deflate');
    expect(await syncedClient(stack, { compressions: ['zstd'] })).toBe('none');
  }, 60_000);
});
