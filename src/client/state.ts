// The state a client holds for its consumer: applies snapshots and deltas and reports
// only real differences. A snapshot is staged beside the live state and swapped in whole
// at its end, so a consumer never sees the world empty and refill after a reconnect.

import { isDeepStrictEqual } from 'node:util';
import { entryDigest, StateHash } from '../model/state-hash.js';
import type { JsonValue, KV } from '../model/types.js';
import { CloseCode, ProtocolError } from '../protocol/errors.js';

export class ClientState {
  private live = new Map<string, JsonValue>();
  private staged: Map<string, JsonValue> | undefined;
  private hash: StateHash | undefined;

  /** verifyHash: keep the state hash (costs a SHA-256 per changed key). */
  constructor(private readonly verifyHash: boolean) {
    if (verifyHash) this.hash = new StateHash();
  }

  get size(): number {
    return this.live.size;
  }
  get staging(): boolean {
    return this.staged !== undefined;
  }
  get(key: string): JsonValue | undefined {
    return this.live.get(key);
  }
  entries(): IterableIterator<[string, JsonValue]> {
    return this.live.entries();
  }
  /** Hex state hash, or undefined when not verifying. */
  hashHex(): string | undefined {
    return this.hash?.hex();
  }

  beginSnapshot(): void {
    this.staged = new Map();
  }

  /** Adds a chunk's KVs to the staged snapshot; a key already staged is a server's error. */
  stage(kvs: readonly KV[]): void {
    const staged = this.staged;
    if (!staged) throw new Error('snapshot chunk outside a snapshot');
    for (const { key, value } of kvs) {
      if (staged.has(key))
        throw new ProtocolError(CloseCode.InconsistentStream, `key ${key} appears twice in the snapshot`);
      staged.set(key, value);
    }
  }

  discardSnapshot(): void {
    this.staged = undefined;
  }

  /** Swaps the staged snapshot in; returns the differences from the previous live state. */
  commitSnapshot(): KV[] {
    const next = this.staged;
    if (!next) throw new Error('snapshot end outside a snapshot');
    this.staged = undefined;
    const changes: KV[] = [];
    const hash = this.verifyHash ? new StateHash() : undefined;
    for (const [key, value] of next) {
      hash?.add(entryDigest(key, value));
      const old = this.live.get(key);
      if (old === undefined || !isDeepStrictEqual(old, value)) changes.push({ key, value });
    }
    for (const key of this.live.keys()) if (!next.has(key)) changes.push({ key, value: null });
    this.live = next;
    this.hash = hash;
    return changes;
  }

  /** Applies a delta to the live state; returns the KVs that really changed it. */
  applyDelta(kvs: readonly KV[]): KV[] {
    const changes: KV[] = [];
    for (const kv of kvs) {
      const old = this.live.get(kv.key);
      if (kv.value === null) {
        if (old === undefined) continue;
        this.live.delete(kv.key);
      } else {
        if (old !== undefined && isDeepStrictEqual(old, kv.value)) continue;
        this.live.set(kv.key, kv.value);
      }
      this.hash?.apply(kv.key, old, kv.value);
      changes.push(kv);
    }
    return changes;
  }
}
