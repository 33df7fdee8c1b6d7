// What the runtime drives: a part brings one piece of the node (policy rules, BIRD, kernel
// routes, WireGuard) to the state the calculation gives. Every part is a manager in its
// dataplane folder (dataplane/<part>/manager.ts) that implements one of these; the runtime
// never imports a manager, the composition root hands them over.

import type { CalcUpdate, PolicyCalculator } from '../calc/index.js';
import type { RoutingState } from '../calc/routing/state.js';

/** What the agent needs from a dataplane (iptables, nftables, dry-run), declared by the runtime that drives it. */
export interface PolicyDataplane {
  readonly name: string;
  /** Makes the node match the calculator's current state; throws if it could not (the last good state stays). */
  sync(calc: PolicyCalculator): Promise<void>;
  /**
   * Each update as the calculator produces it, before the sync that follows: a dataplane that
   * keeps its own view of calc output changes only what the update names.
   */
  observe?(update: CalcUpdate): void;
}

/** One routing part (BIRD, kernel routes, WireGuard), declared by the runtime that drives it; cli/ supplies them. */
export interface RoutingPart {
  readonly name: string;
  /** Makes the node match `state`; throws if it could not (the last good state stays). */
  sync(state: RoutingState): Promise<void>;
  stop?(): Promise<void>;
}
