// Preloaded (--import) into a `tabby serve` process by memory-soak.ts: answers the soak's
// requests over the IPC channel with process.memoryUsage() and writes heap snapshots on
// demand, so the server itself carries no measuring code. Exits when the soak goes away.
// With --expose-gc a sample also reports the figures after a full GC (live data, not garbage
// that has not been collected yet); RSS is taken before that GC, as a user would see it.

import { writeHeapSnapshot } from 'node:v8';

interface Request {
  probe: 'sample' | 'snapshot';
  id: number;
  path?: string;
}

if (process.send) {
  process.on('message', (m: Request) => {
    if (m?.probe === 'sample') {
      const memory = process.memoryUsage();
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      process.send?.({ id: m.id, memory, afterGc: gc ? process.memoryUsage() : memory });
    } else if (m?.probe === 'snapshot' && m.path) {
      const path = writeHeapSnapshot(m.path);
      process.send?.({ id: m.id, path, memory: process.memoryUsage() });
    }
  });
  // The IPC channel must not keep the server alive, nor outlive the soak.
  process.channel?.unref();
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
