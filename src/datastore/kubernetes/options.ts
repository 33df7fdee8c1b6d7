// Defaults of the Kubernetes datastore's watchers and API probe, kept here once: the datastore
// fills what its caller leaves out from them, and `tabby serve`'s config reads them.

import { DEFAULT_BACKOFF } from '../../model/backoff.js';
import type { ProbeOptions } from './api-probe.js';
import type { WatcherOptions } from './resource-watcher.js';

export const DEFAULT_WATCHER_OPTIONS: WatcherOptions = {
  pageSize: 500,
  minWatchTimeoutSeconds: 300,
  backoff: { ...DEFAULT_BACKOFF, initialMs: 200 },
};

/** A silent API is noticed within intervalMs + timeoutMs = 20 s. */
export const DEFAULT_PROBE_OPTIONS: ProbeOptions = { intervalMs: 10_000, timeoutMs: 10_000 };
