// The datastore's Prometheus families, read at scrape time from what a source reports
// (DatastoreSource.health: conversion errors, manifest errors, per-resource list/watch
// state); a source without health() registers nothing. Wired by the composition roots
// through observability/metrics.ts: sources do not know they are watched.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { DatastoreSource } from './source.js';

export function registerDatastoreMetrics(
  registry: Registry,
  datastore: Pick<DatastoreSource, 'health'>,
): void {
  if (!datastore.health) return;
  const health = () => datastore.health!();
  new Counter({
    name: 'tabby_datastore_conversion_errors_total',
    help: 'Objects rejected by conversion, by kind',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, n] of health().conversionErrors.entries()) this.inc({ kind }, n);
    },
  });
  new Gauge({
    name: 'tabby_datastore_manifest_errors',
    help: 'Manifest documents that failed to load at the last reload (file datastore)',
    registers: [registry],
    collect() {
      this.set(health().manifestErrors ?? 0);
    },
  });
  new Gauge({
    name: 'tabby_datastore_watch_state',
    help: 'Per resource type: 1 for its current list/watch state',
    labelNames: ['resource', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of health().resources ?? []) this.set({ resource: r.resource, state: r.state }, 1);
    },
  });
  const perResource = (name: string, help: string, stat: string) =>
    new Counter({
      name,
      help,
      labelNames: ['resource'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of health().resources ?? []) this.inc({ resource: r.resource }, r.stats[stat] ?? 0);
      },
    });
  perResource('tabby_datastore_lists_total', 'Complete lists per resource type', 'lists');
  perResource(
    'tabby_datastore_relists_expired_total',
    'Relists after 410 Gone per resource type',
    'relistsAfterExpiry',
  );
  perResource('tabby_datastore_watches_total', 'Watch requests per resource type', 'watches');
  perResource('tabby_datastore_watch_events_total', 'Watch events applied per resource type', 'events');
  perResource('tabby_datastore_failures_total', 'Failed list/watch calls per resource type', 'failures');
}
