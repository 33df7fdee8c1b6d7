// Time for the Kubernetes datastore, with its default settings, to notice an API fault
// against the emulator seeded with a simulated cluster: a silent API (frozen: connections
// open, no bytes) until status resync; a store replaced under running watches, and an API
// restarted with a replaced store, until the replacement is noticed and until the datastore
// holds exactly the new objects again (in-sync). `node --import tsx loadtest/api-fault-detect.ts [reps]`.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { convertObject } from '../src/datastore/convert/index.js';
import { KubernetesDatastore } from '../src/datastore/kubernetes/kubernetes-datastore.js';
import { silentLogger } from '../src/model/logger.js';
import type { KV, SyncStatus } from '../src/model/types.js';
import { ApiEmulator } from '../src/testing/emulator/emulator.js';
import { generateObjects } from '../src/testing/sim/index.js';

const REPS = Number(process.argv[2] ?? 3);
const SIM = { nodes: 50, pods: 1_000, seed: 7 };

async function until(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function replica() {
  const emu = new ApiEmulator();
  await emu.start({ host: '127.0.0.1', port: 0 });
  emu.loadObjects(generateObjects(SIM));
  const dir = await mkdtemp(join(tmpdir(), 'tabby-detect-'));
  await emu.writeKubeconfig(join(dir, 'kubeconfig'));
  const kc = new KubeConfig();
  kc.loadFromFile(join(dir, 'kubeconfig'));
  let status: SyncStatus = 'wait-for-datastore';
  const ds = new KubernetesDatastore({ kubeconfig: kc, convert: convertObject, log: silentLogger });
  await ds.start({ onUpdates: (_kvs: readonly KV[]) => {}, onStatus: (s) => (status = s) });
  await until(() => status === 'in-sync', 30_000);
  return {
    emu,
    ds,
    status: () => status,
    replacements: () => ds.health().api?.replacements ?? 0,
    async stop() {
      await ds.stop();
      await emu.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

type Replica = Awaited<ReturnType<typeof replica>>;

const scenarios: Record<string, (r: Replica) => Promise<Record<string, number>>> = {
  async silent(r) {
    const t0 = Date.now();
    r.emu.freeze();
    await until(() => r.status() === 'resync', 60_000);
    const detectMs = Date.now() - t0;
    const t1 = Date.now();
    r.emu.resume();
    await until(() => r.status() === 'in-sync', 60_000);
    return { detectMs, recoverMs: Date.now() - t1 };
  },
  async replacedUnderWatches(r) {
    const before = r.replacements();
    const t0 = Date.now();
    r.emu.replaceStore(generateObjects({ ...SIM, seed: 8 }));
    await until(() => r.replacements() > before, 60_000);
    const detectMs = Date.now() - t0;
    await until(() => r.status() === 'in-sync', 60_000);
    return { detectMs, inSyncMs: Date.now() - t0 };
  },
  async restartedReplaced(r) {
    const before = r.replacements();
    await r.emu.stop();
    r.emu.replaceStore(generateObjects({ ...SIM, seed: 8 }));
    await new Promise((res) => setTimeout(res, 1_000)); // down for a second
    const t0 = Date.now();
    await r.emu.start();
    await until(() => r.replacements() > before, 60_000);
    const detectMs = Date.now() - t0;
    await until(() => r.status() === 'in-sync', 60_000);
    return { detectMsAfterApiBack: detectMs, inSyncMsAfterApiBack: Date.now() - t0 };
  },
};

for (const [name, run] of Object.entries(scenarios)) {
  for (let i = 0; i < REPS; i++) {
    const r = await replica();
    try {
      // Somewhere in the probe's period, as a real fault would be.
      await new Promise((res) => setTimeout(res, Math.random() * 10_000));
      console.log(JSON.stringify({ scenario: name, rep: i, ...(await run(r)) }));
    } finally {
      await r.stop();
    }
  }
}
