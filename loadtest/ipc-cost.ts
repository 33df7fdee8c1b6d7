// What shipping a mirror seed costs across a process boundary (cluster IPC, serialization
// 'advanced'), for a 1,000-node / 30,000-pod felix cache, in one run:
// - the seed as one message (as `tabby serve --workers` sent it before it went in parts) and
//   in parts (seedParts, each sent once the one before it is written, as the pool does now):
//   send to received, and the sender's event-loop delay meanwhile (monitorEventLoopDelay);
// - as one message to a thread (worker_threads postMessage, entry buffers transferred).
// Usage: node --import tsx loadtest/ipc-cost.ts [nodes] [pods]

import { fork } from 'node:child_process';
import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { silentLogger } from '../src/model/logger.js';
import { SEED_PART_BYTES } from '../src/server/workers/pool.js';
import { SnapshotCache } from '../src/snapcache/cache.js';
import { seedParts } from '../src/snapcache/mirror.js';
import { SyncerRouter } from '../src/snapcache/router.js';
import { SimulatedCluster } from '../src/testing/sim/simulated-cluster.js';

const [nodes = 1_000, pods = 30_000] = process.argv.slice(2).map(Number);
if (process.argv[2] === 'child') {
  // Answers a whole seed at once, a seed in parts at its end.
  process.on('message', (m: { t: number; seed?: unknown; end?: boolean }) => {
    if (m.seed !== undefined || m.end) process.send!({ got: m.t });
  });
} else {
  const cache = new SnapshotCache({
    syncer: 'felix',
    maxBatchSize: 1_000_000,
    maxBatchDelayMs: 1,
    maxHistoryBytes: 1 << 30,
    maxHistoryAgeMs: 600_000,
    snapshotReuseMs: 1_000,
    maxFrameBodyBytes: 1 << 20,
    minDeflateBytes: 1024,
    mergedDeltaCacheBytes: 1 << 20,
  });
  const sim = new SimulatedCluster({ seed: 1, nodes, pods, churnPerSec: 0 }, silentLogger);
  await sim.start(new SyncerRouter([cache]));
  cache.flush();
  await sim.stop();
  let t0 = performance.now();
  const parts = [...seedParts(cache, SEED_PART_BYTES)];
  const packMs = performance.now() - t0;
  const blobs = parts.flatMap((p) =>
    p.k === 'history' ? [p.record.blob] : p.k === 'state' ? [p.entries.blob] : [],
  );
  const mb = blobs.reduce((n, b) => n + b.byteLength, 0) / 1e6;
  console.log(
    `${cache.keyCount} keys, ${mb.toFixed(1)} MB of entries in ${parts.length} parts; made in ${packMs.toFixed(1)} ms`,
  );

  const child = fork(new URL(import.meta.url).pathname, ['child'], { serialization: 'advanced' });
  const thread = new Worker(
    "require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage({ got: m.t }))",
    { eval: true },
  );
  const sendWritten = (msg: unknown) =>
    new Promise<void>((r) => child.send(msg as object, undefined, {}, () => r()));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  /** Send to received, and the sender's event-loop delay meanwhile (max, ms). */
  async function timed(
    send: () => Promise<void> | void,
    from: NodeJS.EventEmitter,
  ): Promise<[number, number]> {
    const got = once(from, 'message');
    delay.reset();
    delay.enable();
    // The monitor records the time between its ticks from the second tick on: running first.
    await new Promise((r) => setTimeout(r, 50));
    t0 = performance.now();
    await send();
    await got;
    const ms = performance.now() - t0;
    delay.disable();
    return [ms, delay.max / 1e6];
  }
  const runs = { whole: [] as number[][], parts: [] as number[][], thread: [] as number[][] };
  for (let t = 0; t < 7; t++) {
    // Each seed made afresh, as the pool makes one per worker.
    runs.whole.push(
      await timed(() => void child.send({ t, seed: [...seedParts(cache, SEED_PART_BYTES)] }), child),
    );
    runs.parts.push(
      await timed(async () => {
        // Made as they are sent, as the pool does.
        for (const part of seedParts(cache, SEED_PART_BYTES)) await sendWritten({ t, part });
        await sendWritten({ t, end: true });
      }, child),
    );
    // The whole seed, its entry buffers copied (they are transferred away).
    const copies: Uint8Array[] = [];
    const own = (b: Uint8Array) => copies[copies.push(new Uint8Array(b)) - 1]!;
    const seed = parts.map((p) =>
      p.k === 'history'
        ? { ...p, record: { ...p.record, blob: own(p.record.blob) } }
        : p.k === 'state'
          ? { ...p, entries: { ...p.entries, blob: own(p.entries.blob) } }
          : p,
    );
    runs.thread.push(
      await timed(
        () =>
          thread.postMessage(
            { t, seed },
            copies.map((c) => c.buffer as ArrayBuffer),
          ),
        thread,
      ),
    );
  }
  const med = (rows: number[][], i: number) =>
    rows.map((r) => r[i]!).sort((x, y) => x - y)[rows.length >> 1]!;
  const f = (x: number) => x.toFixed(1);
  console.log('median of 7 | send to received ms | sender event-loop delay max ms');
  for (const [name, rows] of Object.entries(runs))
    console.log(`${name} | ${f(med(rows, 0))} | ${f(med(rows, 1))}`);
  console.log(
    `event-loop delay, one message / in parts: ${(med(runs.whole, 1) / med(runs.parts, 1)).toFixed(1)}x`,
  );
  child.kill();
  await thread.terminate();
  cache.close();
}
