// The node agent's readiness, for the DaemonSet's probe. Ready = every stream in sync, and
// every part has applied at least once and its last attempt did not fail (the dataplane
// matches what the agent was sent). A failing part keeps its last good state (never
// flushed), so not-ready means "behind", not "broken open".

import type { ApplyStats } from './apply-loop.js';

export interface AgentHealthSources {
  /** Part name -> its apply loop's stats. */
  parts(): Record<string, ApplyStats>;
  /** Syncer ('felix', 'bgp') -> its stream status ('in-sync', 'resync', …). */
  streams(): Record<string, string>;
}

export function agentReadiness(src: AgentHealthSources): { ok: boolean; detail: Record<string, unknown> } {
  const streams = src.streams();
  const parts = src.parts();
  const ok =
    Object.values(streams).every((s) => s === 'in-sync') &&
    Object.values(parts).every((p) => p.applies > 0 && p.lastError === undefined);
  return { ok, detail: { streams, parts } };
}
