// Property-based fuzzing of a real SyncServer over loopback: each generated connection sends
// a stream of frames (mostly well-formed, so one connection carries many cases, then
// whatever breaks the rules), and the server's answer — SERVER_HELLO, the PONGs, the GOODBYE
// code or its silence — must be what spec-oracle.ts derives from PROTOCOL.md for those bytes.
// Meanwhile a healthy client keeps receiving deltas. Used by test/fv/fuzz-server.test.ts
// (a seeded slice) and by the soak (TABBY_FUZZ_CASES).

import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { SyncClient } from '../../src/client/sync-client.js';
import { Keys } from '../../src/model/keys.js';
import { MsgType } from '../../src/protocol/messages.js';
import { FRAME_OVERHEAD_BYTES } from '../../src/server/options.js';
import { RawClient } from '../harness/raw-client.js';
import { type Stack, startStack, waitFor } from '../harness/stack.js';
import { type ServerModel, serverVerdict } from './spec-oracle.js';
import { connectionScript } from './wire-arbitraries.js';

const INBOUND = 1 << 20;
/** The server as the oracle sees it: PROTOCOL.md §8, §18 with this server's configuration. */
export const MODEL: ServerModel = {
  preHelloFrameBytes: 16 << 10,
  maxInboundFrameBytes: INBOUND,
  maxOutboundFrameBytes: INBOUND + FRAME_OVERHEAD_BYTES,
  versions: [1],
  compressions: ['deflate'],
};

export interface FuzzResult {
  connections: number;
  /** Frames sent (each frame is one case: accepted, or the one that ends its connection). */
  cases: number;
  accepted: number;
  /** How connections ended: GOODBYE code, `quiet` or `none`. */
  ends: Record<string, number>;
  /** REPORTs that passed validation and reached the sink. */
  reportsRecorded: number;
  ms: number;
}

/** Sends one script and returns what the server did, in the oracle's terms. */
async function play(stack: Stack, script: { stream: Buffer; splits: number[] }) {
  const raw = await RawClient.open(stack.address);
  try {
    let from = 0;
    for (const at of [...script.splits, script.stream.length]) {
      if (at > from) raw.socket.write(script.stream.subarray(from, at));
      from = Math.max(from, at);
      await new Promise((r) => setImmediate(r));
    }
    raw.socket.end();
    await waitFor(() => raw.closed, 20_000, 'the server to end the connection');
    const sh = raw.messages.find((m) => m.type === MsgType.ServerHello);
    const bye = raw.goodbye();
    return {
      serverHello: sh?.type === MsgType.ServerHello ? { compression: sh.body.compression } : undefined,
      pongs: raw.messages.flatMap((m) => (m.type === MsgType.Pong ? [m.body.ts] : [])),
      goodbye: bye?.code,
    };
  } finally {
    raw.destroy();
  }
}

export async function fuzzServer(opts: {
  cases: number;
  seed: number;
  /** Keep going until this many connections too (each ends one way: the endings need many). */
  minConnections?: number;
  log?: (s: string) => void;
}): Promise<FuzzResult> {
  // REPORTs are accepted (from HELLO's word, as on plain TCP with the operator's opt-in), so
  // their validation is fuzzed too; what reaches the sink must be a well-formed key.
  const recorded: Array<string | null> = [];
  const stack = await startStack({
    reportSink: {
      recordWireguardPublicKey: async (_node, key) => {
        recorded.push(key);
      },
    },
    insecureAcceptUnauthenticatedReports: true,
    server: {
      // Limits the oracle knows; nothing else (pings, handshakes, slots) may end a case.
      maxInboundFrameBytes: MODEL.maxInboundFrameBytes,
      maxOutboundFrameBytes: MODEL.maxOutboundFrameBytes,
      clientPingBurst: 1e9,
      pingIntervalMs: 60_000,
      pongTimeoutMs: 120_000,
      handshakeTimeoutMs: 60_000,
      maxPendingHandshakes: 100_000,
      maxConnections: 100_000,
    },
  });
  const good = new SyncClient({ addresses: [stack.address], syncer: 'felix', hostname: 'healthy' });
  const started = Date.now();
  const result: FuzzResult = { connections: 0, cases: 0, accepted: 0, ends: {}, reportsRecorded: 0, ms: 0 };
  try {
    stack.router.onUpdates([{ key: Keys.tier('base'), value: { order: 1 } }]);
    stack.router.onStatus('in-sync');
    good.start();
    await waitFor(() => good.status === 'in-sync', 20_000, 'healthy client in sync');
    let batch = 0;
    while (result.cases < opts.cases || result.connections < (opts.minConnections ?? 0)) {
      const seed = opts.seed + batch++;
      const property = fc.asyncProperty(connectionScript, async (script) => {
        const want = serverVerdict(script.stream, MODEL);
        const got = await play(stack, script);
        const wantBye = typeof want.end === 'object' ? want.end.goodbye : undefined;
        const ok =
          isDeepStrictEqual(got.serverHello, want.serverHello) &&
          isDeepStrictEqual(got.pongs, want.pongs) &&
          got.goodbye === wantBye;
        if (!ok)
          throw new Error(
            `server disagrees with the spec: expected ${JSON.stringify({ ...want, pongs: want.pongs.length })}, got ${JSON.stringify({ ...got, pongs: got.pongs.length })}; stream ${script.stream.subarray(0, 200).toString('hex')}${script.stream.length > 200 ? '…' : ''}`,
          );
        result.connections++;
        const end = typeof want.end === 'object' ? want.end.goodbye : want.end;
        // A case is a frame the server judged: every accepted one, and the one that ended it.
        result.cases += want.accepted + (end === 'none' ? 0 : 1);
        result.accepted += want.accepted;
        result.ends[end] = (result.ends[end] ?? 0) + 1;
      });
      await fc.assert(property, { numRuns: 100, seed, endOnFailure: true });
      // Between batches: the healthy client still follows the stream.
      const key = Keys.tier(`after-${seed}`);
      stack.router.onUpdates([{ key, value: { order: batch } }]);
      await waitFor(() => good.state.get(key) !== undefined, 20_000, 'healthy client to get the delta');
      if (!good.connected) throw new Error('the healthy client was disconnected');
      if (opts.log) {
        (globalThis as { gc?: () => void }).gc?.();
        const m = process.memoryUsage();
        opts.log(
          `${result.cases} cases, ${result.connections} connections, ${Date.now() - started} ms, heap ${m.heapUsed >> 20} MiB, rss ${m.rss >> 20} MiB, server connections ${stack.server.connectionCount}`,
        );
      }
    }
    const bad = recorded.filter((k) => k !== null && !/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(k));
    if (bad.length > 0)
      throw new Error(`malformed keys reached the sink: ${JSON.stringify(bad.slice(0, 3))}`);
    result.reportsRecorded = recorded.length;
    const internal = [...stack.server.stats.closes.entries()].filter(([k]) => k.endsWith(':internal-error'));
    if (internal.length > 0) throw new Error(`the server blamed itself: ${JSON.stringify(internal)}`);
  } finally {
    await good.stop();
    await stack.stop();
  }
  result.ms = Date.now() - started;
  return result;
}
