// Compression study: the felix snapshot of a simulated cluster (src/testing/sim), chunked
// exactly as the server sends it (1 MiB MessagePack bodies, each compressed on its own), run
// through deflate, brotli and zstd at a few levels: compressed size, encode time (the server,
// once per snapshot) and decode time (every client). Prints a Markdown table for
// docs/benchmarks.md. zstd runs in-process where node:zlib has it (Node >= 22.15); on older
// Node it is measured with the zstd CLI's in-memory benchmark (`zstd -b`, the same libzstd,
// each chunk an independent block), if the CLI is installed, and reported n/a otherwise.
//
//   node --import tsx loadtest/compression-study.ts [--nodes 1000,5000] [--reps 5]

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as zlib from 'node:zlib';
import { HEADER_BYTES, packr } from '../src/protocol/codec.js';
import { MsgType } from '../src/protocol/messages.js';
import { profileViolation } from '../src/protocol/profile.js';
import { runtimeZstd } from '../src/protocol/zstd.js';
import { SnapshotCache } from '../src/snapcache/cache.js';
import { SyncerRouter } from '../src/snapcache/router.js';
import { generateInitialState } from '../src/testing/sim/index.js';

interface Codec {
  name: string;
  encode(b: Buffer): Buffer;
  decode(b: Buffer): Buffer;
}

interface Row {
  codec: string;
  bytes: number;
  encodeMs: number;
  decodeMs: number;
  note?: string;
}

const { values } = parseArgs({
  options: { nodes: { type: 'string', default: '1000,5000' }, reps: { type: 'string', default: '5' } },
});
const NODES = values.nodes.split(',').map(Number);
const REPS = Number(values.reps);

function codecs(): Codec[] {
  const out: Codec[] = [];
  for (const level of [1, 6, 9])
    out.push({
      name: `deflate ${level}`,
      encode: (b) => zlib.deflateSync(b, { level }),
      decode: (b) => zlib.inflateSync(b),
    });
  for (const quality of [1, 5])
    out.push({
      name: `brotli ${quality}`,
      encode: (b) =>
        zlib.brotliCompressSync(b, {
          params: {
            [zlib.constants.BROTLI_PARAM_QUALITY]: quality,
            [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length,
          },
        }),
      decode: (b) => zlib.brotliDecompressSync(b),
    });
  const zstd = runtimeZstd();
  if (zstd)
    for (const level of [1, 3, 9])
      out.push({
        name: `zstd ${level}`,
        encode: (b) => zstd.compress(b, level),
        decode: (b) => zstd.decompress(b, 64 << 20).buffer,
      });
  return out;
}

/** One generation for the whole state, chunked as `tabby serve` does by default. */
const CACHE_OPTIONS = {
  maxBatchSize: 1 << 30,
  maxBatchDelayMs: 1_000,
  maxHistoryBytes: 1 << 30,
  maxHistoryAgeMs: 600_000,
  snapshotReuseMs: 0,
  maxFrameBodyBytes: 1 << 20,
  minDeflateBytes: 1024,
  mergedDeltaCacheBytes: 1 << 20,
};

/** The felix snapshot's SNAPSHOT_CHUNK bodies, as the server builds them (default 1 MiB each). */
function snapshotChunks(nodes: number): { bodies: Buffer[]; keys: number; buildMs: number } {
  const kvs = generateInitialState({ nodes, pods: nodes * 30, seed: 1 });
  const cache = new SnapshotCache({ ...CACHE_OPTIONS, syncer: 'felix' });
  const router = new SyncerRouter([cache, new SnapshotCache({ ...CACHE_OPTIONS, syncer: 'bgp' })]);
  router.onUpdates(kvs);
  router.onStatus('in-sync');
  const t0 = performance.now();
  const snap = cache.snapshot('none');
  const buildMs = performance.now() - t0;
  const bodies = snap.frames
    .filter((f) => f[4] === MsgType.SnapshotChunk)
    .map((f) => f.subarray(HEADER_BYTES));
  const keys = cache.keyCount;
  router.onStatus('resync');
  return { bodies, keys, buildMs };
}

/** Best of the repetitions, as `zstd -b` reports: on a shared machine the fastest run is the one least disturbed. */
const best = (xs: number[]): number => Math.min(...xs);

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function measure(codec: Codec, bodies: Buffer[]): Row {
  let packed: Buffer[] = [];
  const enc: number[] = [];
  const dec: number[] = [];
  codec.decode(codec.encode(bodies[0]!)); // warm-up: the first call pays for loading and JIT
  for (let r = 0; r < REPS; r++) {
    enc.push(
      timed(() => {
        packed = bodies.map((b) => codec.encode(b));
      }),
    );
    dec.push(
      timed(() => {
        for (const p of packed) codec.decode(p);
      }),
    );
  }
  // A round trip that is not exact would make every figure meaningless.
  for (let i = 0; i < bodies.length; i++)
    if (!codec.decode(packed[i]!).equals(bodies[i]!)) throw new Error(`${codec.name}: round trip differs`);
  return {
    codec: codec.name,
    bytes: packed.reduce((n, p) => n + p.length, 0),
    encodeMs: best(enc),
    decodeMs: best(dec),
  };
}

/** zstd through the CLI's in-memory benchmark: each chunk file an independent block, one thread. */
function zstdCli(bodies: Buffer[]): Row[] {
  try {
    execFileSync('zstd', ['--version'], { stdio: 'ignore' });
  } catch {
    return [
      {
        codec: 'zstd',
        bytes: Number.NaN,
        encodeMs: Number.NaN,
        decodeMs: Number.NaN,
        note: 'n/a: no zstd here',
      },
    ];
  }
  const dir = mkdtempSync(join(tmpdir(), 'tabby-zstd-'));
  try {
    const files = bodies.map((b, i) => {
      const f = join(dir, `chunk-${String(i).padStart(4, '0')}.bin`);
      writeFileSync(f, b);
      return f;
    });
    const raw = bodies.reduce((n, b) => n + b.length, 0);
    return [1, 3, 9].map((level) => {
      const out = execFileSync('zstd', [`-b${level}`, '-i5', '-T1', ...files], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const m = [...out.matchAll(/(\d+) -> +(\d+) \(x[\d.]+\), +([\d.]+) MB\/s, +([\d.]+) MB\/s/g)].at(-1);
      if (!m) throw new Error(`cannot read zstd -b output: ${out.slice(-300)}`);
      const mbs = (x: string) => (raw / (Number(x) * 1e6)) * 1000; // MB/s (10^6) → ms for the whole snapshot
      return {
        codec: `zstd ${level}`,
        bytes: Number(m[2]),
        encodeMs: mbs(m[3]!),
        decodeMs: mbs(m[4]!),
        note: 'zstd CLI -b (libzstd, no Node binding)',
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The client's MessagePack work after decompression, the same whatever the codec. */
function msgpackMs(bodies: Buffer[]): number {
  const runs: number[] = [];
  for (let r = 0; r <= REPS; r++)
    runs.push(
      timed(() => {
        for (const b of bodies) {
          if (profileViolation(b) !== undefined) throw new Error('profile');
          packr.unpack(b);
        }
      }),
    );
  return best(runs.slice(1)); // the first run warms up
}

const mib = (n: number): string => (n / (1 << 20)).toFixed(2);

function main(): void {
  console.log(
    `Node ${process.version}; ${REPS} repetitions, best of them; zstd in node:zlib: ${runtimeZstd() ? 'yes' : 'no'}\n`,
  );
  for (const nodes of NODES) {
    const { bodies, keys, buildMs } = snapshotChunks(nodes);
    const raw = bodies.reduce((n, b) => n + b.length, 0);
    const rows = codecs().map((c) => measure(c, bodies));
    if (!runtimeZstd()) rows.push(...zstdCli(bodies));
    console.log(
      `### ${nodes.toLocaleString('en')} nodes, ${(nodes * 30).toLocaleString('en')} pods: felix snapshot ${keys.toLocaleString('en')} keys, ${mib(raw)} MiB MessagePack in ${bodies.length} chunks (built uncompressed in ${buildMs.toFixed(0)} ms); MessagePack decode + profile check ${msgpackMs(bodies).toFixed(0)} ms\n`,
    );
    console.log('| codec | MiB | ratio | encode ms | decode ms | note |');
    console.log('|---|---:|---:|---:|---:|---|');
    console.log(`| none | ${mib(raw)} | 1.0 | 0 | 0 | |`);
    for (const r of rows)
      console.log(
        Number.isNaN(r.bytes)
          ? `| ${r.codec} | | | | | ${r.note} |`
          : `| ${r.codec} | ${mib(r.bytes)} | ${(raw / r.bytes).toFixed(1)} | ${r.encodeMs.toFixed(0)} | ${r.decodeMs.toFixed(0)} | ${r.note ?? ''} |`,
      );
    console.log('');
  }
}

main();
