// Message types and bodies of protocol version 1, and the checks that turn a decoded
// MessagePack body into a typed message. Field names are short, stable and documented in
// proto/PROTOCOL.md; adding an optional field is compatible, anything else is a new version.

import type { JsonValue, KV, SyncerType, SyncStatus } from '../model/types.js';
import { isSyncerType, isSyncStatus } from '../model/types.js';
import { CloseCode, ProtocolError } from './errors.js';

export const PROTOCOL_VERSIONS = [1] as const;
export const Compression = { None: 'none', Deflate: 'deflate', Zstd: 'zstd' } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];
/**
 * Optional server behaviours a client can take part in, listed in HELLO `capabilities`
 * (§8.6): `queued` = the client understands QUEUED while it waits for its snapshot.
 */
export const Capability = { Queued: 'queued' } as const;

export const MsgType = {
  Hello: 0x01,
  ServerHello: 0x02,
  SnapshotBegin: 0x03,
  SnapshotChunk: 0x04,
  SnapshotEnd: 0x05,
  Delta: 0x06,
  Status: 0x07,
  Ping: 0x08,
  Pong: 0x09,
  Ack: 0x0a,
  Goodbye: 0x0b,
  Report: 0x0c,
  Queued: 0x0d,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];
const MSG_NAMES = new Map<number, string>(Object.entries(MsgType).map(([k, v]) => [v, k]));
export const msgName = (t: number): string => MSG_NAMES.get(t) ?? `0x${t.toString(16)}`;

/**
 * A position in a server's stream: resumable by (epoch, generation) on the same stream, or,
 * with `hash`, on any replica that has had the same state (§14.3).
 */
export interface StreamPosition {
  epoch: string;
  generation: number;
  /** State hash (§17) of the state the client holds at this position. */
  hash?: string;
}

export interface Hello {
  versions: number[];
  syncer: SyncerType;
  hostname: string;
  agent: string;
  compressions: string[];
  /** Largest frame the client accepts, bytes (length field value). */
  maxFrameBytes?: number;
  resume?: StreamPosition;
  /** This server's place in the client's ranking of replicas (0 = preferred; §14.4). */
  rank?: number;
  /** Optional behaviours the client understands (§8.6), e.g. `queued`; absent = none. */
  capabilities?: string[];
}

export interface ServerHello {
  version: number;
  syncer: SyncerType;
  compression: Compression;
  epoch: string;
  serverId: string;
  /** True: deltas from the client's resume position follow; false: a snapshot follows. */
  resumed: boolean;
  /**
   * When resumed: the generation of this stream whose state the client holds, its new
   * position (§14.3); differs from the offered one after a resume on another replica.
   */
  resumeGeneration?: number;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  /** REPORT kinds the server accepts (§15); absent = none. */
  reports?: string[];
}

export interface SnapshotBegin {
  epoch: string;
  generation: number;
  keys: number;
  chunks: number;
}
export interface SnapshotChunk {
  kvs: KV[];
}
export interface SnapshotEnd {
  generation: number;
  hash: string;
}
export interface Delta {
  /** Generation the client holds once this frame and any `more` frames before it are applied. */
  to: number;
  kvs: KV[];
  /** True: more DELTA frames for the same `to` follow; the state is not yet generation `to`. */
  more: boolean;
  /** State hash at `to`; present when `more` is false. */
  hash?: string;
}
export interface Status {
  status: SyncStatus;
  generation: number;
}
export interface Ping {
  ts: number;
}
export interface Pong {
  ts: number;
}
export interface Ack {
  generation: number;
  /**
   * The client's state hash at `generation` (§13, §17), so the server can tell a client
   * that holds something other than what it published; absent = the client does not say.
   */
  hash?: string;
}
export interface Goodbye {
  code: string;
  message: string;
  /** Hint: wait at least this long before reconnecting (to this server). */
  retryAfterMs?: number;
}
/** The client waits for a snapshot slot (§9.1): its place in line and a rough estimate. */
export interface Queued {
  /** 1 = next in line. */
  position: number;
  /** Clients waiting on this server (for this and every syncer). */
  queued: number;
  /** Rough time until the snapshot starts, ms; 0 = no estimate yet. */
  etaMs: number;
}
export interface Report {
  kind: string;
  /** The node the report is about; when present it must equal HELLO's hostname (§15). */
  node?: string;
  data: JsonValue;
}

export type Message =
  | { type: typeof MsgType.Hello; body: Hello }
  | { type: typeof MsgType.ServerHello; body: ServerHello }
  | { type: typeof MsgType.SnapshotBegin; body: SnapshotBegin }
  | { type: typeof MsgType.SnapshotChunk; body: SnapshotChunk }
  | { type: typeof MsgType.SnapshotEnd; body: SnapshotEnd }
  | { type: typeof MsgType.Delta; body: Delta }
  | { type: typeof MsgType.Status; body: Status }
  | { type: typeof MsgType.Ping; body: Ping }
  | { type: typeof MsgType.Pong; body: Pong }
  | { type: typeof MsgType.Ack; body: Ack }
  | { type: typeof MsgType.Goodbye; body: Goodbye }
  | { type: typeof MsgType.Report; body: Report }
  | { type: typeof MsgType.Queued; body: Queued };

// ---- validation of decoded bodies -------------------------------------------------------
// parseBody sees bodies that passed the MessagePack profile check (profile.ts): every value
// is already plain JSON data of bounded depth, so only field names and types are checked here.

type Obj = Record<string, unknown>;
const bad = (type: number, why: string): ProtocolError =>
  new ProtocolError(CloseCode.MalformedFrame, `${msgName(type)}: ${why}`);

function obj(type: number, body: unknown): Obj {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad(type, 'body is not a map');
  return body as Obj;
}
function str(type: number, o: Obj, f: string): string {
  const v = o[f];
  if (typeof v !== 'string') throw bad(type, `field "${f}" must be a string`);
  return v;
}
function uint(type: number, o: Obj, f: string): number {
  const v = o[f];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw bad(type, `field "${f}" must be a non-negative integer`);
  return v;
}
const HASH = /^[0-9a-f]{64}$/;
/** A state hash (§17): 64 lowercase hex characters. */
function stateHash(type: number, o: Obj, f: string): string {
  const v = str(type, o, f);
  if (!HASH.test(v)) throw bad(type, `field "${f}" must be 64 lowercase hex characters`);
  return v;
}
function bool(type: number, o: Obj, f: string): boolean {
  const v = o[f];
  if (typeof v !== 'boolean') throw bad(type, `field "${f}" must be a boolean`);
  return v;
}
function strArray(type: number, o: Obj, f: string): string[] {
  const v = o[f];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw bad(type, `field "${f}" must be an array of strings`);
  return v as string[];
}
function kvs(type: number, o: Obj, allowDelete: boolean): KV[] {
  const v = o['kvs'];
  if (!Array.isArray(v)) throw bad(type, 'field "kvs" must be an array');
  const out: KV[] = new Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const pair = v[i] as unknown;
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string')
      throw bad(type, `kvs[${i}] must be [key, value]`);
    const value = pair[1] as JsonValue;
    if (value === null && !allowDelete) throw bad(type, `kvs[${i}] deletes a key inside a snapshot`);
    out[i] = { key: pair[0], value };
  }
  return out;
}
function position(type: number, v: unknown): StreamPosition {
  const o = obj(type, v);
  const p: StreamPosition = { epoch: str(type, o, 'epoch'), generation: uint(type, o, 'generation') };
  if (o['hash'] != null) p.hash = stateHash(type, o, 'hash');
  return p;
}

export function parseBody(type: number, body: unknown): Message {
  if (!MSG_NAMES.has(type))
    throw new ProtocolError(CloseCode.UnknownMessage, `unknown message type ${msgName(type)}`);
  const o = obj(type, body);
  switch (type) {
    case MsgType.Hello: {
      const syncer = str(type, o, 'syncer');
      const versions = o['versions'];
      if (!Array.isArray(versions) || !versions.every((x) => Number.isSafeInteger(x) && x >= 0))
        throw bad(type, 'field "versions" must be an array of non-negative integers');
      const hello: Hello = {
        versions: versions as number[],
        syncer: syncer as SyncerType,
        hostname: str(type, o, 'hostname'),
        agent: str(type, o, 'agent'),
        compressions: strArray(type, o, 'compressions'),
      };
      if (o['maxFrameBytes'] != null) hello.maxFrameBytes = uint(type, o, 'maxFrameBytes');
      if (o['resume'] !== undefined && o['resume'] !== null) hello.resume = position(type, o['resume']);
      if (o['rank'] != null) hello.rank = uint(type, o, 'rank');
      if (o['capabilities'] != null) hello.capabilities = strArray(type, o, 'capabilities');
      // Only a HELLO that is otherwise well formed is told its syncer is unknown (§19 step 6).
      if (!isSyncerType(syncer))
        throw new ProtocolError(CloseCode.UnknownSyncer, `unknown syncer "${syncer}"`);
      return { type, body: hello };
    }
    case MsgType.ServerHello: {
      const syncer = str(type, o, 'syncer');
      const compression = str(type, o, 'compression');
      const sh: ServerHello = {
        version: uint(type, o, 'version'),
        syncer: syncer as SyncerType,
        compression: compression as Compression,
        epoch: str(type, o, 'epoch'),
        serverId: str(type, o, 'serverId'),
        resumed: bool(type, o, 'resumed'),
        pingIntervalMs: uint(type, o, 'pingIntervalMs'),
        pongTimeoutMs: uint(type, o, 'pongTimeoutMs'),
      };
      if (o['reports'] != null) sh.reports = strArray(type, o, 'reports');
      if (o['resumeGeneration'] != null) sh.resumeGeneration = uint(type, o, 'resumeGeneration');
      // As for HELLO: these codes only for a body that is otherwise well formed (§19 step 6).
      if (!isSyncerType(syncer))
        throw new ProtocolError(CloseCode.UnknownSyncer, `unknown syncer "${syncer}"`);
      if (
        compression !== Compression.None &&
        compression !== Compression.Deflate &&
        compression !== Compression.Zstd
      )
        throw new ProtocolError(
          CloseCode.NoCommonCompression,
          `server chose unknown compression "${compression}"`,
        );
      return { type, body: sh };
    }
    case MsgType.SnapshotBegin:
      return {
        type,
        body: {
          epoch: str(type, o, 'epoch'),
          generation: uint(type, o, 'generation'),
          keys: uint(type, o, 'keys'),
          chunks: uint(type, o, 'chunks'),
        },
      };
    case MsgType.SnapshotChunk:
      return { type, body: { kvs: kvs(type, o, false) } };
    case MsgType.SnapshotEnd:
      return { type, body: { generation: uint(type, o, 'generation'), hash: stateHash(type, o, 'hash') } };
    case MsgType.Delta: {
      const d: Delta = { to: uint(type, o, 'to'), kvs: kvs(type, o, true), more: bool(type, o, 'more') };
      if (o['hash'] != null) d.hash = stateHash(type, o, 'hash');
      return { type, body: d };
    }
    case MsgType.Status: {
      const status = o['status'];
      if (!isSyncStatus(status)) throw bad(type, `unknown status ${JSON.stringify(status)}`);
      return { type, body: { status, generation: uint(type, o, 'generation') } };
    }
    case MsgType.Ping:
    case MsgType.Pong:
      return { type, body: { ts: uint(type, o, 'ts') } } as Message;
    case MsgType.Ack: {
      const a: Ack = { generation: uint(type, o, 'generation') };
      if (o['hash'] != null) a.hash = stateHash(type, o, 'hash');
      return { type, body: a };
    }
    case MsgType.Goodbye: {
      const g: Goodbye = { code: str(type, o, 'code'), message: str(type, o, 'message') };
      if (o['retryAfterMs'] != null) g.retryAfterMs = uint(type, o, 'retryAfterMs');
      return { type, body: g };
    }
    case MsgType.Queued:
      return {
        type,
        body: {
          position: uint(type, o, 'position'),
          queued: uint(type, o, 'queued'),
          etaMs: uint(type, o, 'etaMs'),
        },
      };
    case MsgType.Report: {
      const data = o['data'] ?? null;
      const r: Report = { kind: str(type, o, 'kind'), data: data as JsonValue };
      if (o['node'] != null) r.node = str(type, o, 'node');
      return { type, body: r };
    }
    default:
      throw new ProtocolError(CloseCode.UnknownMessage, `unknown message type ${msgName(type)}`);
  }
}
