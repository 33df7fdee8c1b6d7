// The node agent's readiness, for the DaemonSet's probe. Ready = every stream in sync and
// connected (a disconnection shorter than the grace is a replica restart or a rebalance, not a
// problem), and every part has applied at least once and its last attempt did not fail (the
// dataplane matches what the agent was sent). A failing part and a lost stream both keep the
// last good state (never flushed), so not-ready means "behind" or "cut off", not "broken open":
// as Felix, which stops being ready when it loses Typha.

import type { ApplyStats } from './apply-loop.js';

export interface AgentHealthSources {
  /** Part name -> its apply loop's stats. */
  parts(): Record<string, ApplyStats>;
  /** Syncer ('felix', 'bgp') -> its stream status ('in-sync', 'resync', …). */
  streams(): Record<string, string>;
  /** Syncer -> how long (ms) it has been without a connection; streams that are connected are absent. */
  disconnected(): Record<string, number>;
}

export interface ReadinessOptions {
  /** A stream disconnected longer than this makes the agent not ready (0: a disconnection never does). */
  disconnectedGraceMs: number;
}

export function agentReadiness(
  src: AgentHealthSources,
  o: ReadinessOptions,
): { ok: boolean; detail: Record<string, unknown> } {
  const streams = src.streams();
  const parts = src.parts();
  const disconnected = src.disconnected();
  const cutOff =
    o.disconnectedGraceMs > 0 && Object.values(disconnected).some((ms) => ms > o.disconnectedGraceMs);
  const ok =
    !cutOff &&
    Object.values(streams).every((s) => s === 'in-sync') &&
    Object.values(parts).every((p) => p.applies > 0 && p.lastError === undefined);
  return {
    ok,
    detail: { streams, parts, ...(Object.keys(disconnected).length > 0 && { disconnectedMs: disconnected }) },
  };
}
