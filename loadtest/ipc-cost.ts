// What shipping a mirror seed costs across a process boundary (cluster IPC, serialization
// 'advanced') and across a thread (worker_threads postMessage, entries buffer transferred):
// the time from send to the receiver holding it, for a 1,000-node / 30,000-pod snapshot.
// Usage: node --import tsx loadtest/ipc-cost.ts [nodes] [pods]

import { fork } from 'node:child_process';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { SimulatedCluster } from '../src/datastore/sim/simulated-cluster.js';
import { silentLogger } from '../src/model/logger.js';
import { SnapshotCache } from '../src/snapcache/cache.js';
import { seedOf } from '../src/snapcache/mirror.js';
import { SyncerRouter } from '../src/snapcache/router.js';

const [nodes = 1_000, pods = 30_000] = process.argv.slice(2).map(Number);
if (process.argv[2] === 'child') {
  process.on('message', (m) => process.send!({ got: (m as { t: number }).t }));
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
  const t0 = performance.now();
  const seed = seedOf(cache);
  const packMs = performance.now() - t0;
  console.log(
    `${cache.keyCount} keys, ${(seed.state.blob.byteLength / 1e6).toFixed(1)} MB; pack ${packMs.toFixed(1)} ms`,
  );

  const child = fork(new URL(import.meta.url).pathname, ['child'], { serialization: 'advanced' });
  const thread = new Worker(
    "require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage({ got: m.t }))",
    { eval: true },
  );
  const times = { process: [] as number[], thread: [] as number[] };
  for (let i = 0; i < 7; i++) {
    let t = performance.now();
    child.send({ t: i, seed });
    await once(child, 'message');
    times.process.push(performance.now() - t);
    const copy = { ...seed, state: { ...seed.state, blob: Buffer.from(seed.state.blob) } }; // transferred away
    t = performance.now();
    thread.postMessage({ t: i, seed: copy }, [copy.state.blob.buffer as ArrayBuffer]);
    await once(thread, 'message');
    times.thread.push(performance.now() - t);
  }
  const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!.toFixed(1);
  console.log(
    `median of 7, send to received: process (cluster IPC, advanced) ${med(times.process)} ms; thread (postMessage, blob transferred) ${med(times.thread)} ms`,
  );
  child.kill();
  await thread.terminate();
  cache.close();
}
