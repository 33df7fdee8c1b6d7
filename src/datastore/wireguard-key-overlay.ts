// Reported WireGuard public keys for datastores that cannot store them (sim, file): kept in
// memory and merged into the KVs the datastore emits, as if the Node carried Calico's
// annotation: `publicKey` in the node's wireguard KV (created when the node has none) and
// `status.wireguardPublicKey` in its v3 Node value. The overlay outlives updates of the
// node, is dropped with it, and a null report hides a key the files may carry.

import { Keys } from '../model/keys.js';
import type { JsonValue, KV, SyncStatus } from '../model/types.js';
import { abortable, type DatastoreSink, NodeNotFoundError, type NodeReportRecorder } from './source.js';

const NODE_PREFIX = Keys.node('');
const WG_KEY = /^\/calico\/v1\/host\/([^/]+)\/wireguard$/;

type Obj = Record<string, JsonValue>;
const isObj = (v: JsonValue | undefined): v is Obj =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export class WireguardKeyOverlay implements NodeReportRecorder {
  /** node → reported key (null: reported "no key"). */
  private readonly reported = new Map<string, string | null>();
  /** What the datastore itself last emitted per node: its Node value and wireguard value. */
  private readonly base = new Map<string, { node?: JsonValue; wg?: JsonValue }>();
  private sink: DatastoreSink | undefined;
  private markSynced!: () => void;
  /** Reports wait for the first complete listing, so "no such node" means just that. */
  private readonly synced = new Promise<void>((resolve) => {
    this.markSynced = resolve;
  });

  /** The sink the datastore writes into; changes pass through with the overlay merged. */
  wrap(sink: DatastoreSink): DatastoreSink {
    this.sink = sink;
    return {
      onUpdates: (kvs) => sink.onUpdates(this.merge(kvs)),
      onStatus: (status: SyncStatus) => {
        if (status === 'in-sync') this.markSynced();
        sink.onStatus(status);
      },
    };
  }

  get size(): number {
    return this.reported.size;
  }

  async recordWireguardPublicKey(node: string, publicKey: string | null, signal: AbortSignal): Promise<void> {
    await abortable(this.synced, signal);
    const b = this.base.get(node);
    if (b?.node === undefined) throw new NodeNotFoundError(node);
    if (this.reported.get(node) === publicKey) return;
    this.reported.set(node, publicKey);
    this.sink?.onUpdates([
      { key: Keys.node(node), value: this.nodeValue(node, b.node) },
      { key: Keys.wireguard(node), value: this.wgValue(node, b.wg) },
    ]);
  }

  private merge(kvs: readonly KV[]): KV[] {
    const out: KV[] = [];
    for (const kv of kvs) {
      const wg = WG_KEY.exec(kv.key);
      if (wg) {
        const node = decodeURIComponent(wg[1]!);
        this.baseOf(node).wg = kv.value ?? undefined;
        out.push({ key: kv.key, value: this.wgValue(node, kv.value ?? undefined) });
        continue;
      }
      if (!kv.key.startsWith(NODE_PREFIX)) {
        out.push(kv);
        continue;
      }
      const node = decodeURIComponent(kv.key.slice(NODE_PREFIX.length));
      if (kv.value === null) {
        // Gone with its node; a wireguard KV only the overlay made is deleted here.
        const b = this.base.get(node);
        this.base.delete(node);
        if (this.reported.delete(node) && b?.wg === undefined)
          out.push({ key: Keys.wireguard(node), value: null });
        out.push(kv);
        continue;
      }
      this.baseOf(node).node = kv.value;
      out.push({ key: kv.key, value: this.nodeValue(node, kv.value) });
    }
    return out;
  }

  private baseOf(node: string): { node?: JsonValue; wg?: JsonValue } {
    let b = this.base.get(node);
    if (b === undefined) {
      b = {};
      this.base.set(node, b);
    }
    return b;
  }

  /** The wireguard KV value with the reported key; null when nothing is left. */
  private wgValue(node: string, base: JsonValue | undefined): JsonValue {
    const key = this.reported.get(node);
    if (key === undefined) return base ?? null;
    const v: Obj = isObj(base) ? { ...base } : {};
    if (key === null) delete v['publicKey'];
    else v['publicKey'] = key;
    return Object.keys(v).length > 0 ? v : null;
  }

  private nodeValue(node: string, base: JsonValue): JsonValue {
    const key = this.reported.get(node);
    if (key === undefined || !isObj(base)) return base;
    const status: Obj = isObj(base['status']) ? { ...base['status'] } : {};
    if (key === null) delete status['wireguardPublicKey'];
    else status['wireguardPublicKey'] = key;
    const v: Obj = { ...base };
    if (Object.keys(status).length > 0) v['status'] = status;
    else delete v['status'];
    return v;
  }
}
