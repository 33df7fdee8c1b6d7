// What PROTOCOL.md says a receiver must do with a byte stream, derived from the spec alone:
// §19's order of checks, §3 framing, §4 the profile (msgpack-oracle.ts), §6's field tables and
// §7.2/§8 for the server's states. It takes nothing from src/ but §5's type numbers: the fuzz
// tests compare the real server (and client) against it.

import { inflateSync } from 'node:zlib';
import { MsgType } from '../../src/protocol/messages.js';
import { readBody } from './msgpack-oracle.js';

// The type numbers are §5's table (src/protocol/messages.ts holds the same; the golden frames pin both).
export const T = MsgType;

// ---- §4.2 field types and §6 tables ------------------------------------------------------

type Check = (v: unknown) => boolean;
const uint: Check = (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2 ** 53 - 1;
const str: Check = (v) => typeof v === 'string';
const bool: Check = (v) => typeof v === 'boolean';
const any: Check = () => true;
const listOf =
  (c: Check): Check =>
  (v) =>
    Array.isArray(v) && v.every(c);
const hash: Check = (v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const kv =
  (nilOk: boolean): Check =>
  (v) =>
    Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && (nilOk || v[1] !== null);
const position: Check = (v) =>
  isMap(v) && str(v['epoch']) && uint(v['generation']) && (v['hash'] == null || hash(v['hash']));

/** field → [required, check]; nil in an optional field is absent (§4.2). */
type Schema = Record<string, [boolean, Check]>;
const SCHEMAS: Record<number, Schema> = {
  [T.Hello]: {
    versions: [true, listOf(uint)],
    syncer: [true, str],
    hostname: [true, str],
    agent: [true, str],
    compressions: [true, listOf(str)],
    maxFrameBytes: [false, uint],
    resume: [false, position],
    rank: [false, uint],
    capabilities: [false, listOf(str)],
  },
  [T.ServerHello]: {
    version: [true, uint],
    syncer: [true, str],
    compression: [true, str],
    epoch: [true, str],
    serverId: [true, str],
    resumed: [true, bool],
    resumeGeneration: [false, uint],
    pingIntervalMs: [true, uint],
    pongTimeoutMs: [true, uint],
    reports: [false, listOf(str)],
  },
  [T.SnapshotBegin]: {
    epoch: [true, str],
    generation: [true, uint],
    keys: [true, uint],
    chunks: [true, uint],
  },
  [T.SnapshotChunk]: { kvs: [true, listOf(kv(false))] },
  [T.SnapshotEnd]: { generation: [true, uint], hash: [true, hash] },
  [T.Delta]: { to: [true, uint], kvs: [true, listOf(kv(true))], more: [true, bool], hash: [false, hash] },
  [T.Status]: {
    status: [true, (v) => v === 'wait-for-datastore' || v === 'resync' || v === 'in-sync'],
    generation: [true, uint],
  },
  [T.Ping]: { ts: [true, uint] },
  [T.Pong]: { ts: [true, uint] },
  [T.Ack]: { generation: [true, uint], hash: [false, hash] },
  [T.Goodbye]: { code: [true, str], message: [true, str], retryAfterMs: [false, uint] },
  [T.Report]: { kind: [true, str], node: [false, str], data: [false, any] },
  [T.Queued]: { position: [true, uint], queued: [true, uint], etaMs: [true, uint] },
};
const SYNCERS = new Set(['felix', 'bgp']);

/**
 * §19 step 6: undefined if the body fits its type's table, else the close code. The
 * exceptions (unknown syncer, unknown compression) apply to an otherwise well-formed body.
 */
export function fieldCode(type: number, body: unknown): string | undefined {
  if (!isMap(body)) return 'malformed-frame';
  for (const [field, [required, check]] of Object.entries(SCHEMAS[type]!)) {
    const v = body[field];
    if (v == null ? required : !check(v)) return 'malformed-frame';
  }
  if ((type === T.Hello || type === T.ServerHello) && !SYNCERS.has(body['syncer'] as string))
    return 'unknown-syncer';
  if (type === T.ServerHello && !['none', 'deflate', 'zstd'].includes(body['compression'] as string))
    return 'no-common-compression';
  return undefined;
}

// ---- §3, §19 steps 1–6: one frame ------------------------------------------------------------

export interface FrameLimits {
  maxFrameBytes: number;
  maxMessageBytes: number;
  deflate: boolean;
}
export type Frame =
  | { kind: 'message'; type: number; body: Record<string, unknown>; bytes: number }
  | { kind: 'error'; code: string; why: string }
  | { kind: 'incomplete' };

/** The frame at `buf[at…]` under `limits`, as §19 steps 1–6 judge it. */
export function judgeFrame(buf: Buffer, at: number, limits: FrameLimits): Frame {
  if (buf.length - at < 4) return { kind: 'incomplete' };
  const len = buf.readUInt32BE(at);
  if (len < 2) return { kind: 'error', code: 'malformed-frame', why: 'length < 2' };
  if (len > limits.maxFrameBytes) return { kind: 'error', code: 'frame-too-large', why: 'length' };
  if (buf.length - at < 4 + len) return { kind: 'incomplete' };
  const type = buf[at + 4]!;
  const flags = buf[at + 5]!;
  let body = buf.subarray(at + 6, at + 4 + len);
  if ((flags & 0xfe) !== 0) return { kind: 'error', code: 'malformed-frame', why: 'flags' };
  if (flags & 1) {
    if (!limits.deflate) return { kind: 'error', code: 'malformed-frame', why: 'deflate not negotiated' };
    try {
      const inflated = inflateSync(body, { maxOutputLength: limits.maxMessageBytes });
      if (body.length > 0 && succeeds(() => inflateSync(body.subarray(0, body.length - 1))))
        return { kind: 'error', code: 'malformed-frame', why: 'bytes after the zlib stream' };
      body = inflated;
    } catch (err) {
      const tooBig = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      return { kind: 'error', code: tooBig ? 'frame-too-large' : 'malformed-frame', why: 'inflate' };
    }
  } else if (body.length > limits.maxMessageBytes) {
    return { kind: 'error', code: 'frame-too-large', why: 'body' };
  }
  const read = readBody(body);
  if (!read.ok) return { kind: 'error', code: 'malformed-frame', why: read.why };
  if (!(type in SCHEMAS)) return { kind: 'error', code: 'unknown-message', why: `type ${type}` };
  const code = fieldCode(type, read.value);
  if (code !== undefined) return { kind: 'error', code, why: 'fields' };
  return { kind: 'message', type, body: read.value as Record<string, unknown>, bytes: 4 + len };
}

function succeeds(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch {
    return false;
  }
}

// ---- §7.2, §8, §12: the server's side of one connection ------------------------------------

export interface ServerModel {
  /** Largest frame before HELLO is handled (§8.1) and after it (§18). */
  preHelloFrameBytes: number;
  maxInboundFrameBytes: number;
  /** The longest frame the server sends (§8.5). */
  maxOutboundFrameBytes: number;
  versions: readonly number[];
  compressions: readonly string[];
}

export interface ServerVerdict {
  /** The server answers HELLO with SERVER_HELLO, choosing this compression. */
  serverHello?: { compression: string };
  /** The `ts` of every PING it must answer, in order. */
  pongs: number[];
  /**
   * How the connection ends: GOODBYE with this code; `quiet` (the client said GOODBYE, §7.2:
   * no answer); `none` (everything was accepted, or the last frame is incomplete).
   */
  end: { goodbye: string; why: string } | 'quiet' | 'none';
  /** Frames the spec had the server accept (the cases that passed). */
  accepted: number;
}

/** What the server must do with `stream`, sent by a client on one connection, then FIN. */
export function serverVerdict(stream: Buffer, m: ServerModel): ServerVerdict {
  const v: ServerVerdict = { pongs: [], end: 'none', accepted: 0 };
  let hello = false;
  let deflate = false;
  for (let at = 0; ; ) {
    const limits = hello
      ? { maxFrameBytes: m.maxInboundFrameBytes, maxMessageBytes: m.maxInboundFrameBytes, deflate }
      : { maxFrameBytes: m.preHelloFrameBytes, maxMessageBytes: m.preHelloFrameBytes, deflate: false };
    const f = judgeFrame(stream, at, limits);
    if (f.kind === 'incomplete') return v;
    if (f.kind === 'error') {
      v.end = { goodbye: f.code, why: f.why };
      return v;
    }
    at += f.bytes;
    const b = f.body;
    if (f.type === T.Goodbye) {
      v.end = 'quiet';
      return v;
    }
    if (!hello) {
      if (f.type !== T.Hello) {
        v.end = { goodbye: 'unexpected-message', why: 'first frame not HELLO' };
        return v;
      }
      const offered = b['versions'] as number[];
      if (!offered.some((x) => m.versions.includes(x))) {
        v.end = { goodbye: 'unsupported-version', why: 'versions' };
        return v;
      }
      if (((b['maxFrameBytes'] as number | null) ?? 16 << 20) < m.maxOutboundFrameBytes) {
        v.end = { goodbye: 'frame-too-large', why: 'client maxFrameBytes' };
        return v;
      }
      const compression = m.compressions.find((c) => (b['compressions'] as string[]).includes(c)) ?? 'none';
      v.serverHello = { compression };
      deflate = compression === 'deflate';
      hello = true;
    } else if (f.type === T.Ping) {
      v.pongs.push(b['ts'] as number);
    } else if (f.type !== T.Pong && f.type !== T.Ack && f.type !== T.Report) {
      v.end = { goodbye: 'unexpected-message', why: `type ${f.type} after HELLO` };
      return v;
    }
    v.accepted++;
  }
}

// ---- the client's side (§7.2, §16.1): how a connection from a hostile server may end ----------

/** Codes of §19 step 7 for a client: state machine, negotiation, invariants, hashes. */
const CLIENT_STEP7 = [
  'unexpected-message',
  'inconsistent-stream',
  'hash-mismatch',
  'unsupported-version',
  'no-common-compression',
];

/**
 * The endings the spec allows a client for `stream` (a server's frames after HELLO): `quiet`
 * if a GOODBYE is reached, else the code of the first frame that breaks §19 steps 1–6 — or,
 * once a frame passed those steps, any step-7 code (this oracle does not model the client's
 * states and invariants, src/client/stream-guard.ts; test/fv/client-protocol.test.ts does).
 * `closed`: the stream ends inside a frame, and the server's FIN ends the connection.
 */
export function clientVerdicts(
  stream: Buffer,
  m: { maxFrameBytes: number; compressions: readonly string[] },
): string[] {
  let deflate = false;
  let passed = false;
  for (let at = 0; ; ) {
    const f = judgeFrame(stream, at, { maxFrameBytes: m.maxFrameBytes, maxMessageBytes: 64 << 20, deflate });
    const also = passed ? CLIENT_STEP7 : [];
    if (f.kind === 'incomplete') return ['closed', ...also]; // the server's FIN ends it
    if (f.kind === 'error') return [f.code, ...also];
    if (f.type === T.Goodbye) return ['quiet', ...also];
    at += f.bytes;
    if (f.type === T.ServerHello && m.compressions.includes(f.body['compression'] as string)) deflate = true;
    passed = true;
  }
}
