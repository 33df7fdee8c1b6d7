// The emulator's settings, defaults in one place (durations in ms, as the names say), checked
// at construction. Defaults follow a real kube-apiserver where it has an equivalent.

import { type Logger, silentLogger } from '../../model/logger.js';

export interface EmulatorOptions {
  /** Events kept per resource type for resuming watches and consistent pages (the watch cache). */
  historyMaxEvents: number;
  /** Events older than this are forgotten (etcd compacts every 5 min); 0 keeps them by count only. */
  historyMaxAgeMs: number;
  /** How often watches with allowWatchBookmarks get a BOOKMARK (the cacher: about a minute). */
  bookmarkIntervalMs: number;
  /** Watches without timeoutSeconds end after a random time in [min, 2×min) (--min-request-timeout=1800s). */
  minRequestTimeoutMs: number;
  /** Live events queued for a watcher that is not reading before it is terminated. */
  watchMaxQueuedEvents: number;
  watchMaxQueuedBytes: number;
  /** How long a read at a future resourceVersion waits before 504 (the watch cache waits 3 s). */
  tooLargeRvWaitMs: number;
  /** When set, API requests must carry `Authorization: Bearer <token>`; health checks and /emulator/ hooks stay open. */
  token: string | undefined;
  log: Logger;
}

export const DEFAULT_EMULATOR_OPTIONS: Readonly<EmulatorOptions> = Object.freeze({
  historyMaxEvents: 10_000,
  historyMaxAgeMs: 5 * 60_000,
  bookmarkIntervalMs: 60_000,
  minRequestTimeoutMs: 1_800_000,
  watchMaxQueuedEvents: 10_000,
  watchMaxQueuedBytes: 64 << 20,
  tooLargeRvWaitMs: 3_000,
  token: undefined,
  log: silentLogger,
});

export function resolveEmulatorOptions(partial: Partial<EmulatorOptions>): Readonly<EmulatorOptions> {
  const o: EmulatorOptions = { ...DEFAULT_EMULATOR_OPTIONS, ...partial };
  const positive = [
    'historyMaxEvents',
    'bookmarkIntervalMs',
    'minRequestTimeoutMs',
    'watchMaxQueuedEvents',
    'watchMaxQueuedBytes',
  ] as const;
  for (const k of positive)
    if (!Number.isFinite(o[k]) || o[k] <= 0)
      throw new RangeError(`emulator option ${k} must be > 0, got ${o[k]}`);
  for (const k of ['historyMaxAgeMs', 'tooLargeRvWaitMs'] as const)
    if (!Number.isFinite(o[k]) || o[k] < 0)
      throw new RangeError(`emulator option ${k} must be >= 0, got ${o[k]}`);
  if (o.token !== undefined && !/^[\x21-\x7e]+$/.test(o.token))
    throw new RangeError('emulator option token must be printable ASCII without spaces');
  return Object.freeze(o);
}
