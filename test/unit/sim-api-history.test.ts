// The sim-api datastore (what `npm start` runs) carries its API emulator in the same process,
// so the emulator's event history is the replica's memory too: it must keep a short window
// (as kube-apiserver's watch cache does), not grow with the churn of the last five minutes.
// Time is a fake clock: each write is one simulated second apart.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/model/logger.js';
import { EmulatedSimDatastore } from '../../src/testing/sim-api.js';

afterEach(() => {
  vi.useRealTimers();
});

const pod = (i: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'churned', namespace: 'default', labels: { step: String(i) } },
  spec: { nodeName: 'node-0' },
});

describe('sim-api: the in-process API emulator', () => {
  it('keeps about 75 s of events under steady churn, however long it runs', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.now();
    const ds = new EmulatedSimDatastore({ nodes: 4, pods: 8 }, 300, silentLogger);
    const e = ds.emulator;
    e.create(pod(0));
    let peak = 0;
    for (let i = 1; i <= 600; i++) {
      vi.setSystemTime(t0 + i * 1000);
      e.update(pod(i));
      peak = Math.max(peak, e.stats().historyEvents);
    }
    expect(peak).toBeGreaterThanOrEqual(70); // the window does hold recent events...
    expect(peak).toBeLessThanOrEqual(76); // ...and nothing older than 75 s
    await ds.stop();
  });
});
