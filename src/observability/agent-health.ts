// The node agent's health and metrics, for the DaemonSet's probes and Prometheus: per part
// (policy/iptables, routes, wireguard, bird…) how many applies succeeded or failed, how long
// the last one took, which stream generation it matches and whether its last attempt failed;
// per stream whether it is in sync. Read from the parts' ApplyStats at scrape time, so the
// apply path carries no metrics code.
//
// Ready = every stream in sync, and every part has applied at least once and its last attempt
// did not fail (the dataplane matches what the agent was sent). A failing part keeps its
// last good state (never flushed), so not-ready means "behind", not "broken open".

import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { ApplyStats } from '../agent/apply-loop.js';
import type { HealthSources } from './health.js';

export interface AgentHealthSources {
  /** Part name -> its apply loop's stats. */
  parts(): Record<string, ApplyStats>;
  /** Syncer ('felix', 'bgp') -> its stream status ('in-sync', 'resync', …). */
  streams(): Record<string, string>;
}

export function agentHealth(src: AgentHealthSources): HealthSources {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tabby_agent_' });
  // Counters follow the loops' own counts: each scrape adds what happened since the last one.
  const seen = new Map<string, { applies: number; failures: number }>();
  // Registered first: its collect() refreshes the per-part metrics that are written after it.
  new Gauge({
    name: 'tabby_agent_stream_in_sync',
    help: '1 when the stream from the Tabby server is in sync with the datastore, by syncer',
    labelNames: ['syncer'],
    registers: [registry],
    collect() {
      for (const [syncer, status] of Object.entries(src.streams()))
        this.set({ syncer }, status === 'in-sync' ? 1 : 0);
      for (const [part, s] of Object.entries(src.parts())) {
        const last = seen.get(part) ?? { applies: 0, failures: 0 };
        if (s.applies > last.applies) applies.inc({ part }, s.applies - last.applies);
        else applies.inc({ part }, 0);
        if (s.failures > last.failures) failures.inc({ part }, s.failures - last.failures);
        else failures.inc({ part }, 0);
        seen.set(part, { applies: s.applies, failures: s.failures });
        lastSeconds.set({ part }, s.lastApplyMs / 1000);
        generation.set({ part }, s.appliedGeneration);
        failing.set({ part }, s.lastError === undefined ? 0 : 1);
      }
    },
  });
  const applies = new Counter({
    name: 'tabby_agent_applies_total',
    help: 'Successful dataplane applies, by part',
    labelNames: ['part'],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'tabby_agent_apply_failures_total',
    help: 'Failed dataplane applies (the last good state stays), by part',
    labelNames: ['part'],
    registers: [registry],
  });
  const lastSeconds = new Gauge({
    name: 'tabby_agent_last_apply_seconds',
    help: 'Duration of the last successful apply, by part',
    labelNames: ['part'],
    registers: [registry],
  });
  const generation = new Gauge({
    name: 'tabby_agent_applied_generation',
    help: 'Stream generation the part last applied (-1: none yet)',
    labelNames: ['part'],
    registers: [registry],
  });
  const failing = new Gauge({
    name: 'tabby_agent_apply_failing',
    help: '1 while the last apply attempt of the part failed',
    labelNames: ['part'],
    registers: [registry],
  });
  return {
    registry,
    ready: () => {
      const streams = src.streams();
      const parts = src.parts();
      const ok =
        Object.values(streams).every((s) => s === 'in-sync') &&
        Object.values(parts).every((p) => p.applies > 0 && p.lastError === undefined);
      return { ok, detail: { streams, parts } };
    },
  };
}
