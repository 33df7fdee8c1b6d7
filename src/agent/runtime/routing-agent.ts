// The node agent's routing part: the bgp stream feeds one RoutingState that BIRD's
// configuration is computed from (as confd), the felix stream another that routes and
// WireGuard come from (as Felix). Each part has its own ApplyLoop, so a failing part (BIRD
// refusing a config, say) never holds back the others, and each keeps its last good state.

import type { SyncClient } from '../../client/sync-client.js';
import type { Logger } from '../../model/logger.js';
import { RoutingState } from '../calc/routing/state.js';
import { ApplyLoop, type ApplyStats } from './apply-loop.js';
import { PartsStopError, stopFailures } from './errors.js';
import type { RoutingPart } from './parts.js';

export interface RoutingAgentOptions {
  node: string;
  /** The bgp stream and the parts fed by it (BIRD). */
  bgp?: { client: SyncClient; parts: readonly RoutingPart[] };
  /** The felix stream and the parts fed by it (routes, WireGuard). */
  felix?: { client: SyncClient; parts: readonly RoutingPart[] };
  log: Logger;
  coalesceMs?: number;
}

interface Stream {
  readonly client: SyncClient;
  readonly state: RoutingState;
  readonly loops: ApplyLoop[];
  readonly parts: readonly RoutingPart[];
}

export class RoutingAgent {
  private readonly streams: Stream[] = [];

  constructor(o: RoutingAgentOptions) {
    for (const [syncer, s] of [
      ['bgp', o.bgp],
      ['felix', o.felix],
    ] as const) {
      if (s === undefined || s.parts.length === 0) continue;
      const state = new RoutingState();
      const loops = s.parts.map(
        (p) =>
          new ApplyLoop(
            p.name,
            () => p.sync(state),
            () => s.client.generation,
            o.log.child({ part: p.name }),
            o.coalesceMs,
            () => ({
              nodes: state.nodes.size,
              pools: state.pools.size,
              blocks: state.blocks.size,
              bgpPeers: state.bgpPeers.size,
            }),
          ),
      );
      s.client.on('updates', (kvs) => {
        const u = state.apply(kvs);
        if (u.invalid.length > 0)
          o.log.warn({ syncer, keys: u.invalid.slice(0, 10) }, 'invalid values treated as deleted');
        // Services feed only BIRD's per-Service routes: the felix stream's parts (routes,
        // WireGuard) ignore them, so endpoint churn does not recompute those.
        const relevant =
          syncer === 'bgp' ? u.changed.size : [...u.changed].filter((a) => a !== 'services').length;
        if (relevant > 0) for (const l of loops) l.markDirty();
      });
      s.client.on('status', (st) => {
        for (const l of loops) l.setInSync(st === 'in-sync');
      });
      this.streams.push({ client: s.client, state, loops, parts: s.parts });
    }
  }

  stats(): Record<string, ApplyStats> {
    const out: Record<string, ApplyStats> = {};
    for (const s of this.streams) for (const l of s.loops) out[l.name] = l.stats;
    return out;
  }

  start(): void {
    for (const s of this.streams) s.client.start();
  }

  /** Stops following the streams; the parts' stop() decides what stays on the node. */
  async stop(): Promise<void> {
    for (const s of this.streams) await Promise.all(s.loops.map((l) => l.stop()));
    for (const s of this.streams) await s.client.stop();
    // Every part gets its stop even if another one fails (a daemon left running blocks the next agent).
    const parts = this.streams.flatMap((s) => s.parts);
    const results = await Promise.allSettled(parts.map((p) => p.stop?.()));
    const failed = stopFailures(
      results,
      parts.map((p) => p.name),
    );
    if (failed.length > 0) throw new PartsStopError('routing parts', failed);
  }

  /** Resolves once every part matches everything received so far. */
  async settled(): Promise<void> {
    for (const s of this.streams) await Promise.all(s.loops.map((l) => l.settled()));
  }
}
