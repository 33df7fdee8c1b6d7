// What the soak reads from a replica from outside, as an operator's tools would: /readyz (is it
// serving an in-sync state) and the datastore counters in /metrics (did it notice a fault:
// failed calls, relists, re-watches). A replica that does not answer counts as down.

import type { Replica } from './replicas.js';

export interface ReplicaView {
  up: boolean;
  /** /readyz 200: it serves (a replica stays ready for a while on stale data, by design). */
  ready: boolean;
  /** Every syncer in sync and the API answering (the /readyz detail): what a fault upsets. */
  inSync: boolean;
  /** Sum of the datastore's lists, relists, watches and failures: moves when it reacts to a fault. */
  reactions: number;
}

async function get(url: string): Promise<{ ok: boolean; text: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return { ok: res.ok, text: await res.text() };
  } catch {
    return undefined;
  }
}

const COUNTERS =
  /^tabby_datastore_(?:lists|relists_expired|watches|failures)_total\{[^}]*\} (\d+(?:\.\d+)?)$/gm;

export async function viewReplica(r: Replica, withCounters: boolean): Promise<ReplicaView> {
  if (r.pid === undefined) return { up: false, ready: false, inSync: false, reactions: 0 };
  const base = `http://127.0.0.1:${r.healthPort}`;
  const ready = await get(`${base}/readyz`);
  if (!ready) return { up: false, ready: false, inSync: false, reactions: 0 };
  let inSync = false;
  try {
    const d = JSON.parse(ready.text) as Record<string, unknown>;
    inSync = d['felix'] === 'in-sync' && d['bgp'] === 'in-sync' && d['datastore'] === undefined;
  } catch {
    // not JSON: not in sync
  }
  let reactions = 0;
  if (withCounters) {
    const m = await get(`${base}/metrics`);
    for (const x of m?.text.matchAll(COUNTERS) ?? []) reactions += Number(x[1]);
  }
  return { up: true, ready: ready.ok, inSync: ready.ok && inSync, reactions };
}
