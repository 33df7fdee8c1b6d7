// Golden wire frames of protocol version 1 (proto/golden/): the cases, and a script that
// checks the committed files against what the codec produces today, or rewrites them with
// UPDATE_GOLDEN=1.  Run: `npx tsx test/golden/gen-frames.ts` (check) or
// `UPDATE_GOLDEN=1 npx tsx test/golden/gen-frames.ts` (regenerate).

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { Keys } from '../../src/model/keys.js';
import { hashState } from '../../src/model/state-hash.js';
import type { JsonValue } from '../../src/model/types.js';
import { encodeMessage, FLAG_DEFLATE, HEADER_BYTES, packr } from '../../src/protocol/codec.js';
import { type Message, MsgType, msgName } from '../../src/protocol/messages.js';

export const GOLDEN_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../proto/golden');

export interface GoldenCase {
  name: string;
  direction: 'client → server' | 'server → client' | 'either';
  note: string;
  message: Message;
  /** Encoded with the DEFLATE flag: compare inflated bodies, not bytes (zlib output may vary by build). */
  deflate?: boolean;
}

// One coherent story: a felix client connects, gets a 3-key snapshot at generation 42 in two
// chunks, goes in-sync, then receives generation 43 (one update, one delete).
const EPOCH = '5f0c9a1e7b3d4c28';
const TS = 1_700_000_000_000; // 2023-11-14T22:13:20Z; above 2^32, so it travels as float64
const CONFIG_KEY = Keys.globalConfig('LogSeverityScreen');
const WEP_KEY = Keys.workloadEndpoint('node-1', 'default', 'web-0');
const POOL_KEY = Keys.ipPool('10.244.0.0/16');
const wep = (ip: string): JsonValue => ({
  state: 'active',
  name: 'cali1a2b3c4d5e6',
  mac: 'ee:ee:ee:ee:ee:ee',
  profile_ids: ['kns.default', 'ksa.default.default'],
  ipv4_nets: [`${ip}/32`],
  labels: { app: 'web', 'projectcalico.org/namespace': 'default' },
});
const POOL: JsonValue = {
  cidr: '10.244.0.0/16',
  ipip: 'tunl0',
  ipip_mode: 'always',
  masquerade: true,
  ipam: true,
  disabled: false,
  block_size: 26,
};

const SNAPSHOT: Array<[string, JsonValue]> = [
  [CONFIG_KEY, 'Info'],
  [WEP_KEY, wep('10.244.1.5')],
  [POOL_KEY, POOL],
];
const GEN43: Array<[string, JsonValue]> = [
  [WEP_KEY, wep('10.244.1.6')],
  [POOL_KEY, POOL],
];
export const SNAPSHOT_HASH = hashState(SNAPSHOT);
export const GEN43_HASH = hashState(GEN43);

const kvs = (pairs: Array<[string, JsonValue]>) => pairs.map(([key, value]) => ({ key, value }));

const HELLO = {
  versions: [1],
  syncer: 'felix',
  hostname: 'node-1',
  agent: 'tabby-agent/0.1.0',
  compressions: ['deflate'],
} as const;

export const GOLDEN_CASES: readonly GoldenCase[] = [
  {
    name: 'hello',
    direction: 'client → server',
    note: 'First frame of a connection: new client, offers deflate and a 16 MiB frame limit.',
    message: {
      type: MsgType.Hello,
      body: { ...HELLO, versions: [1], compressions: ['deflate'], maxFrameBytes: 16_777_216 },
    },
  },
  {
    name: 'hello-with-resume',
    direction: 'client → server',
    note: 'Reconnecting BGP client (not part of the story) asking to resume at generation 41 of an epoch it saw; no compression.',
    message: {
      type: MsgType.Hello,
      body: {
        versions: [1],
        syncer: 'bgp',
        hostname: 'node-2',
        agent: 'tabby-agent/0.1.0',
        compressions: [],
        resume: { epoch: EPOCH, generation: 41 },
      },
    },
  },
  {
    name: 'server-hello',
    direction: 'server → client',
    note: 'Answer to `hello`: version 1, deflate, not resumed (a snapshot follows).',
    message: {
      type: MsgType.ServerHello,
      body: {
        version: 1,
        syncer: 'felix',
        compression: 'deflate',
        epoch: EPOCH,
        serverId: 'tabby-7d9f-0',
        resumed: false,
        pingIntervalMs: 10_000,
        pongTimeoutMs: 60_000,
      },
    },
  },
  {
    name: 'snapshot-begin',
    direction: 'server → client',
    note: 'Snapshot of generation 42: 3 keys in 2 chunks.',
    message: { type: MsgType.SnapshotBegin, body: { epoch: EPOCH, generation: 42, keys: 3, chunks: 2 } },
  },
  {
    name: 'snapshot-chunk',
    direction: 'server → client',
    note: 'First chunk, 2 KVs, uncompressed (as on a connection that negotiated `none`).',
    message: { type: MsgType.SnapshotChunk, body: { kvs: kvs(SNAPSHOT.slice(0, 2)) } },
  },
  {
    name: 'snapshot-chunk-deflate',
    direction: 'server → client',
    note: 'Second chunk, 1 KV, body zlib-compressed (flags bit 0). Compare inflated bodies, not bytes.',
    message: { type: MsgType.SnapshotChunk, body: { kvs: kvs(SNAPSHOT.slice(2)) } },
    deflate: true,
  },
  {
    name: 'snapshot-end',
    direction: 'server → client',
    note: 'End of the snapshot; `hash` is the state hash of the 3 keys.',
    message: { type: MsgType.SnapshotEnd, body: { generation: 42, hash: SNAPSHOT_HASH } },
  },
  {
    name: 'status-in-sync',
    direction: 'server → client',
    note: 'Sync status after the snapshot.',
    message: { type: MsgType.Status, body: { status: 'in-sync', generation: 42 } },
  },
  {
    name: 'delta',
    direction: 'server → client',
    note: 'Generation 42 → 43: the endpoint changes IP, the config key is deleted (nil); last frame, with hash.',
    message: {
      type: MsgType.Delta,
      body: {
        to: 43,
        kvs: [
          { key: WEP_KEY, value: wep('10.244.1.6') },
          { key: CONFIG_KEY, value: null },
        ],
        more: false,
        hash: GEN43_HASH,
      },
    },
  },
  {
    name: 'delta-more',
    direction: 'server → client',
    note: 'A non-final frame of a delta to 44: `more` is true and there is no hash.',
    message: {
      type: MsgType.Delta,
      body: { to: 44, kvs: [{ key: CONFIG_KEY, value: 'Debug' }], more: true },
    },
  },
  {
    name: 'ping',
    direction: 'either',
    note: 'Keepalive; `ts` is ms since the Unix epoch (> 2^32, so our encoder writes float64 0xcb).',
    message: { type: MsgType.Ping, body: { ts: TS } },
  },
  {
    name: 'pong',
    direction: 'either',
    note: 'Answer to `ping`, echoing its `ts`.',
    message: { type: MsgType.Pong, body: { ts: TS } },
  },
  {
    name: 'ack',
    direction: 'client → server',
    note: 'The client has applied generation 43.',
    message: { type: MsgType.Ack, body: { generation: 43 } },
  },
  {
    name: 'ack-with-hash',
    direction: 'client → server',
    note: 'The client has applied generation 43 and says its state hash there (§13): the server compares it with the hash it published for 43.',
    message: { type: MsgType.Ack, body: { generation: 43, hash: GEN43_HASH } },
  },
  {
    name: 'goodbye',
    direction: 'either',
    note: 'Server draining: reconnect elsewhere after 2.5 s.',
    message: {
      type: MsgType.Goodbye,
      body: { code: 'shutdown', message: 'server shutting down', retryAfterMs: 2_500 },
    },
  },
  {
    name: 'server-hello-with-reports',
    direction: 'server → client',
    note: 'SERVER_HELLO of a server that accepts REPORTs of kind `wireguard-public-key` (§15); otherwise as `server-hello`.',
    message: {
      type: MsgType.ServerHello,
      body: {
        version: 1,
        syncer: 'felix',
        compression: 'deflate',
        epoch: EPOCH,
        serverId: 'tabby-7d9f-0',
        resumed: false,
        pingIntervalMs: 10_000,
        pongTimeoutMs: 60_000,
        reports: ['wireguard-public-key'],
      },
    },
  },
  {
    name: 'report',
    direction: 'client → server',
    note: 'The node’s WireGuard public key (sent only if SERVER_HELLO lists the kind in `reports`); without `node`, it is about HELLO’s `hostname`.',
    message: {
      type: MsgType.Report,
      body: {
        kind: 'wireguard-public-key',
        data: { publicKey: 'uGvRLmKZ9Zq0Rc1pYq0mR3x1nYH2Hq4l1v3QpQ0uX1M=' },
      },
    },
  },
  {
    name: 'report-wireguard-public-key',
    direction: 'client → server',
    note: 'As the reference client sends it: `node` repeats HELLO’s `hostname` (the server refuses any other).',
    message: {
      type: MsgType.Report,
      body: {
        kind: 'wireguard-public-key',
        node: 'node-1',
        data: { publicKey: 'uGvRLmKZ9Zq0Rc1pYq0mR3x1nYH2Hq4l1v3QpQ0uX1M=' },
      },
    },
  },
  {
    name: 'report-wireguard-public-key-removed',
    direction: 'client → server',
    note: 'The node has no WireGuard key (WireGuard disabled): the server removes the recorded one.',
    message: {
      type: MsgType.Report,
      body: { kind: 'wireguard-public-key', node: 'node-1', data: { publicKey: null } },
    },
  },
  {
    name: 'hello-with-capabilities',
    direction: 'client → server',
    note: 'A client that understands QUEUED says so (§8.6); otherwise as `hello`.',
    message: {
      type: MsgType.Hello,
      body: { ...HELLO, versions: [1], compressions: ['deflate'], capabilities: ['queued'] },
    },
  },
  {
    name: 'queued',
    direction: 'server → client',
    note: 'After SERVER_HELLO (resumed: false): the client is 3rd of 17 waiting for a snapshot slot, about 4.5 s away (§9.1).',
    message: { type: MsgType.Queued, body: { position: 3, queued: 17, etaMs: 4_500 } },
  },
];

export function encodeCase(c: GoldenCase): Buffer {
  return encodeMessage(c.message, { deflate: c.deflate === true, minDeflateBytes: 0 });
}

/** The MessagePack body of a frame, inflated if its DEFLATE flag is set. */
export function plainBody(frame: Buffer): Buffer {
  const body = frame.subarray(HEADER_BYTES);
  return (frame[5]! & FLAG_DEFLATE) !== 0 ? inflateSync(body) : body;
}

/** HELLO, SERVER_HELLO, ...: the names PROTOCOL.md uses. */
export const specName = (type: number): string =>
  msgName(type)
    .replace(/(?<=[a-z])(?=[A-Z])/g, '_')
    .toUpperCase();

/** JSON with short arrays and maps kept on one line. */
function json(v: unknown, indent = ''): string {
  const flat = JSON.stringify(v);
  if (flat.length + indent.length <= 100 || v === null || typeof v !== 'object') return flat;
  const inner = `${indent}  `;
  if (Array.isArray(v)) return `[\n${v.map((x) => inner + json(x, inner)).join(',\n')}\n${indent}]`;
  const entries = Object.entries(v).map(([k, x]) => `${inner}${JSON.stringify(k)}: ${json(x, inner)}`);
  return `{\n${entries.join(',\n')}\n${indent}}`;
}

function hexdump(b: Uint8Array): string {
  const lines: string[] = [];
  for (let o = 0; o < b.length; o += 16) {
    const row = [...b.subarray(o, o + 16)].map((x) => x.toString(16).padStart(2, '0'));
    lines.push(
      `${o.toString(16).padStart(4, '0')}  ${row.slice(0, 8).join(' ')}  ${row.slice(8).join(' ')}`.trimEnd(),
    );
  }
  return lines.join('\n');
}

/** proto/golden/README.md, rendered from the frames as stored. */
export function renderReadme(frames: ReadonlyMap<string, Buffer>): string {
  const out: string[] = [
    '# Golden frames, protocol version 1',
    '',
    'Generated by `test/golden/gen-frames.ts` (`UPDATE_GOLDEN=1 npx tsx test/golden/gen-frames.ts`);',
    'checked by `test/unit/golden.test.ts`. Do not edit by hand. Each `NAME.bin` is one complete frame:',
    '`u32 BE length | u8 type | u8 flags | body` (see `../PROTOCOL.md`). "Body" below is the MessagePack',
    'body as JSON, in wire order (a `kvs` entry is a `[key, value]` pair; `null` is MessagePack nil).',
    '',
    'The frames tell one story: a felix client says hello, receives a 3-key snapshot of generation 42',
    'in two chunks, goes in-sync, and receives generation 43 (one update, one delete).',
    '',
    'A conforming reader must decode every frame to the body shown. The reference encoder reproduces',
    'the bytes exactly (checked by the test); another encoder matches them if it writes fields in the',
    'same order, uses the shortest MessagePack formats, and writes integers of 2^32 and more as float64',
    '(as `ping`/`pong` show) — none of which PROTOCOL.md requires. For `snapshot-chunk-deflate` only',
    'the inflated body (shown in hex) is fixed: zlib output may differ between zlib builds.',
    '',
    '| file | direction | type | flags | length | bytes |',
    '|---|---|---|---|---|---|',
  ];
  for (const c of GOLDEN_CASES) {
    const f = frames.get(c.name)!;
    out.push(
      `| [${c.name}.bin](#${c.name}) | ${c.direction} | 0x${f[4]!.toString(16).padStart(2, '0')} ${specName(f[4]!)} ` +
        `| 0x${f[5]!.toString(16).padStart(2, '0')} | ${f.readUInt32BE(0)} | ${f.length} |`,
    );
  }
  for (const c of GOLDEN_CASES) {
    const f = frames.get(c.name)!;
    const body = plainBody(f);
    out.push('', `## ${c.name}`, '', c.note, '', 'Body:', '', '```json', json(packr.unpack(body)));
    out.push('```', '', 'Frame:', '', '```', hexdump(f), '```');
    if ((f[5]! & FLAG_DEFLATE) !== 0) out.push('', 'Inflated body:', '', '```', hexdump(body), '```');
  }
  return `${out.join('\n')}\n`;
}

function main(): void {
  const update = process.env['UPDATE_GOLDEN'] === '1';
  const frames = new Map<string, Buffer>();
  const problems: string[] = [];
  for (const c of GOLDEN_CASES) {
    const path = join(GOLDEN_DIR, `${c.name}.bin`);
    const fresh = encodeCase(c);
    if (update) {
      writeFileSync(path, fresh);
      frames.set(c.name, fresh);
      continue;
    }
    if (!existsSync(path)) {
      problems.push(`${c.name}.bin is missing`);
      continue;
    }
    const stored = readFileSync(path);
    frames.set(c.name, stored);
    const same = c.deflate
      ? stored.subarray(4, 6).equals(fresh.subarray(4, 6)) && plainBody(stored).equals(plainBody(fresh))
      : stored.equals(fresh);
    if (!same) problems.push(`${c.name}.bin differs from what the codec encodes now`);
  }
  const known = new Set(GOLDEN_CASES.map((c) => `${c.name}.bin`));
  for (const f of readdirSync(GOLDEN_DIR))
    if (f.endsWith('.bin') && !known.has(f)) problems.push(`${f} has no case`);
  const readmePath = join(GOLDEN_DIR, 'README.md');
  if (frames.size === GOLDEN_CASES.length) {
    const readme = renderReadme(frames);
    if (update) writeFileSync(readmePath, readme);
    else if (!existsSync(readmePath) || readFileSync(readmePath, 'utf8') !== readme)
      problems.push('README.md is out of date');
  }
  if (update) {
    console.log(`wrote ${GOLDEN_CASES.length} frames and README.md to ${GOLDEN_DIR}`);
    return;
  }
  if (problems.length > 0) {
    console.error(`${problems.join('\n')}\n(run with UPDATE_GOLDEN=1 to regenerate, then review the diff)`);
    process.exitCode = 1;
  } else console.log(`${GOLDEN_CASES.length} golden frames match`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
