// The server holds a client to PROTOCOL.md as written, over a real socket: GOODBYE before
// HELLO ends quietly (§7.2, §16), DEFLATE only after it was negotiated (§3, §8.3), and
// nesting is malformed-frame beyond §4.1's bound at any depth, fine within it. (Bad input
// that must not disturb other clients is in bad-input.test.ts.)

import { deflateSync } from 'node:zlib';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodeMessage, FLAG_DEFLATE, frame, packr } from '../../src/protocol/codec.js';
import { MsgType } from '../../src/protocol/messages.js';
import { compressedPing, deepReport, RawClient } from '../harness/raw-client.js';
import { type Stack, startStack, waitFor } from '../harness/stack.js';

async function serve(): Promise<Stack> {
  const stack = await startStack();
  onTestFinished(() => stack.stop());
  return stack;
}
async function open(stack: Stack): Promise<RawClient> {
  const raw = await RawClient.open(stack.address);
  onTestFinished(() => raw.destroy());
  return raw;
}
const HELLO = { versions: [1], syncer: 'felix', hostname: 'h', agent: 'a', compressions: ['deflate'] };

describe('server: strict to the spec', () => {
  it('GOODBYE before HELLO: no answer, the server closes quietly (§7.2, §16)', async () => {
    const stack = await serve();
    const raw = await open(stack);
    raw.socket.write(
      encodeMessage({ type: MsgType.Goodbye, body: { code: 'client-closing', message: 'changed my mind' } }),
    );
    await waitFor(() => raw.closed, 5_000, 'server closes');
    expect(raw.messages).toEqual([]);
    expect([...stack.server.stats.closes.entries()].map(([k]) => k)).toContain('none:client:client-closing');
  });

  it('a compressed HELLO: malformed-frame (nothing is negotiated yet)', async () => {
    const raw = await open(await serve());
    raw.socket.write(frame(MsgType.Hello, deflateSync(packr.pack(HELLO)), FLAG_DEFLATE));
    await waitFor(() => raw.closed, 5_000, 'close');
    expect(raw.goodbye()?.code).toBe('malformed-frame');
  });

  it('a DEFLATE frame after deflate was negotiated is fine, even in the same write as HELLO', async () => {
    const raw = await open(await serve());
    const hello = encodeMessage({ type: MsgType.Hello, body: HELLO as never });
    raw.socket.write(Buffer.concat([hello, compressedPing(42)]));
    await waitFor(() => raw.messages.some((m) => m.type === MsgType.Pong), 5_000, 'pong');
    expect(raw.messages.find((m) => m.type === MsgType.Pong)?.body).toEqual({ ts: 42 });
    expect(raw.closed).toBe(false);
  });

  it('REPORT data nested 101 to 100,000 levels deep: malformed-frame, never internal-error', async () => {
    const stack = await serve();
    // Between msgpackr's own stack limit and a recursive check's, the server once blamed itself.
    const depths = [100, 1_000, 100_000];
    for (let d = 2_000; d <= 12_000; d += 250) depths.push(d);
    const clients = await Promise.all(depths.map(() => open(stack)));
    clients.forEach((raw, i) => {
      raw.hello();
      raw.socket.write(deepReport(depths[i]!));
    });
    await waitFor(() => clients.every((raw) => raw.closed), 10_000, 'all closed').catch(() => {});
    const codes = Object.fromEntries(depths.map((d, i) => [d, clients[i]!.goodbye()?.code ?? 'no goodbye']));
    expect(codes).toEqual(Object.fromEntries(depths.map((d) => [d, 'malformed-frame'])));
  });

  it('REPORT data nested exactly to the bound is not a protocol error', async () => {
    const raw = await open(await serve());
    raw.hello();
    raw.socket.write(deepReport(99)); // the body map, then 99 maps of data: 100 levels
    raw.socket.write(encodeMessage({ type: MsgType.Ping, body: { ts: 7 } }));
    await waitFor(() => raw.messages.some((m) => m.type === MsgType.Pong), 5_000, 'pong');
    expect(raw.closed).toBe(false);
    expect(raw.goodbye()).toBeUndefined();
  });
});
