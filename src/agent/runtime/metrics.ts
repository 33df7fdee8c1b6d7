// The node agent's metrics for Prometheus: per part (policy/iptables, routes, wireguard,
// bird…) how many applies succeeded or failed, how long the last one took, which stream
// generation it matches and whether its last attempt failed; per stream whether it is in
// sync. Read from the parts' ApplyStats at scrape time, so the apply path carries no metrics
// code (only the composition root registers this collector).

import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { ApplyStats } from './apply-loop.js';
import type { AgentHealthSources } from './health.js';

/** A registry with the process's default metrics and the parts' and streams' metrics. */
export function agentMetrics(src: AgentHealthSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tabby_agent_' });
  const part = (name: string, help: string) => ({ name, help, labelNames: ['part'], registers: [registry] });
  // The first per-part metric's collect() refreshes them all (collects start in registration
  // order, and these are synchronous).
  const applies = new Counter({
    ...part('tabby_agent_applies_total', 'Successful dataplane applies, by part'),
    collect: () => refresh(),
  });
  const failures = new Counter(
    part('tabby_agent_apply_failures_total', 'Failed dataplane applies (the last good state stays), by part'),
  );
  const lastSeconds = new Gauge(
    part('tabby_agent_last_apply_seconds', 'Duration of the last successful apply, by part'),
  );
  const generation = new Gauge(
    part('tabby_agent_applied_generation', 'Stream generation the part last applied (-1: none yet)'),
  );
  const failing = new Gauge(
    part('tabby_agent_apply_failing', '1 while the last apply attempt of the part failed'),
  );
  // Counters follow the loops' own counts: each scrape adds what happened since the last one.
  const seen = new Map<string, ApplyStats>();
  new Gauge({
    name: 'tabby_agent_stream_connected',
    help: '1 while the stream has a connection to a Tabby server, by syncer (its parts keep their last state without one)',
    labelNames: ['syncer'],
    registers: [registry],
    collect() {
      const lost = src.disconnected();
      for (const syncer of Object.keys(src.streams())) this.set({ syncer }, syncer in lost ? 0 : 1);
    },
  });
  new Gauge({
    name: 'tabby_agent_stream_in_sync',
    help: '1 when the stream from the Tabby server is in sync with the datastore, by syncer',
    labelNames: ['syncer'],
    registers: [registry],
    collect() {
      for (const [syncer, status] of Object.entries(src.streams()))
        this.set({ syncer }, status === 'in-sync' ? 1 : 0);
    },
  });
  const refresh = () => {
    for (const [name, s] of Object.entries(src.parts())) {
      const last = seen.get(name);
      applies.inc({ part: name }, s.applies - (last?.applies ?? 0));
      failures.inc({ part: name }, s.failures - (last?.failures ?? 0));
      seen.set(name, { ...s });
      lastSeconds.set({ part: name }, s.lastApplyMs / 1000);
      generation.set({ part: name }, s.appliedGeneration);
      failing.set({ part: name }, s.lastError === undefined ? 0 : 1);
    }
  };
  return registry;
}
