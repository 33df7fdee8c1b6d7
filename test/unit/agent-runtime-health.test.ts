// The agent's readiness and metrics from its parts' apply stats and its streams' status.

import { describe, expect, it } from 'vitest';
import type { ApplyStats } from '../../src/agent/runtime/apply-loop.js';
import { type AgentHealthSources, agentReadiness } from '../../src/agent/runtime/health.js';
import { agentMetrics } from '../../src/agent/runtime/metrics.js';

/** The agent's /readyz and /metrics sources as the composition root wires them. */
const agentHealth = (src: AgentHealthSources, disconnectedGraceMs = 60_000) => ({
  registry: agentMetrics(src),
  ready: () => agentReadiness(src, { disconnectedGraceMs }),
});

const stats = (over: Partial<ApplyStats> = {}): ApplyStats => ({
  applies: 1,
  failures: 0,
  lastApplyMs: 12,
  lastError: undefined,
  appliedGeneration: 7,
  ...over,
});

const value = (text: string, name: string, labels: string) =>
  Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1]);

describe('agent health', () => {
  it('is ready only when every stream is in sync and every part applied without a failing attempt', () => {
    const parts: Record<string, ApplyStats> = { 'policy/iptables': stats(), bird: stats() };
    const streams: Record<string, string> = { felix: 'in-sync', bgp: 'in-sync' };
    const h = agentHealth({ parts: () => parts, streams: () => streams, disconnected: () => ({}) });
    expect(h.ready().ok).toBe(true);
    streams['bgp'] = 'resync';
    expect(h.ready().ok).toBe(false);
    streams['bgp'] = 'in-sync';
    parts['bird'] = stats({ applies: 0, appliedGeneration: -1 });
    expect(h.ready().ok).toBe(false);
    parts['bird'] = stats({ failures: 1, lastError: 'BIRD refused the configuration' });
    expect(h.ready()).toMatchObject({ ok: false, detail: { parts: { bird: { failures: 1 } } } });
  });

  it('exports counters that follow the loops across scrapes, and per-part gauges', async () => {
    const parts: Record<string, ApplyStats> = { routes: stats({ applies: 3 }) };
    const h = agentHealth({
      parts: () => parts,
      streams: () => ({ felix: 'in-sync' }),
      disconnected: () => ({}),
    });
    let text = await h.registry.metrics();
    expect(value(text, 'tabby_agent_applies_total', 'part="routes"')).toBe(3);
    expect(value(text, 'tabby_agent_stream_in_sync', 'syncer="felix"')).toBe(1);
    parts['routes'] = stats({
      applies: 5,
      failures: 2,
      lastError: 'ip: RTNETLINK answers: File exists',
      lastApplyMs: 250,
    });
    text = await h.registry.metrics();
    expect(value(text, 'tabby_agent_applies_total', 'part="routes"')).toBe(5);
    expect(value(text, 'tabby_agent_apply_failures_total', 'part="routes"')).toBe(2);
    expect(value(text, 'tabby_agent_apply_failing', 'part="routes"')).toBe(1);
    expect(value(text, 'tabby_agent_last_apply_seconds', 'part="routes"')).toBe(0.25);
    expect(value(text, 'tabby_agent_applied_generation', 'part="routes"')).toBe(7);
  });

  it('stops being ready when a stream has been without a server longer than the grace, and says which', async () => {
    const lost: Record<string, number> = {};
    const src: AgentHealthSources = {
      parts: () => ({ 'policy/iptables': stats() }),
      streams: () => ({ felix: 'in-sync', bgp: 'in-sync' }),
      disconnected: () => lost,
    };
    const h = agentHealth(src, 30_000);
    expect(h.ready().ok).toBe(true);
    expect(value(await h.registry.metrics(), 'tabby_agent_stream_connected', 'syncer="bgp"')).toBe(1);
    lost['bgp'] = 29_000; // a replica restarting: still ready
    expect(h.ready()).toMatchObject({ ok: true, detail: { disconnectedMs: { bgp: 29_000 } } });
    expect(value(await h.registry.metrics(), 'tabby_agent_stream_connected', 'syncer="bgp"')).toBe(0);
    lost['bgp'] = 31_000;
    expect(h.ready()).toMatchObject({ ok: false, detail: { disconnectedMs: { bgp: 31_000 } } });
    // 0: a disconnection alone never fails the probe.
    expect(agentHealth(src, 0).ready().ok).toBe(true);
    delete lost['bgp'];
    expect(h.ready().ok).toBe(true);
    expect(h.ready().detail).not.toHaveProperty('disconnectedMs');
  });
});
