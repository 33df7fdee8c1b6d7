// A log that lets through at most `perInterval` lines per key (e.g. a close reason) in each
// window of `intervalMs`, and counts the rest. When a window with suppressed lines ends, one
// summary line says how many were dropped, so a flood of hostile connections costs a few
// lines instead of one per connection, and nothing goes missing silently. No timers: the
// summary is written by the next line of that key or by flush(), which an owner calls from
// a timer it already has. Keys must come from a small fixed set (codes, not peer input).

import type { Logger } from './logger.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

export interface RateLimitedLogOptions {
  intervalMs: number;
  perInterval: number;
}

export const DEFAULT_RATE_LIMITED_LOG: RateLimitedLogOptions = { intervalMs: 10_000, perInterval: 5 };

interface Window {
  startMs: number;
  logged: number;
  suppressed: number;
  level: Level;
}

export class RateLimitedLog {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly log: Logger,
    private readonly opts: RateLimitedLogOptions = DEFAULT_RATE_LIMITED_LOG,
    private readonly now: () => number = Date.now,
  ) {
    if (opts.intervalMs <= 0 || opts.perInterval < 1)
      throw new RangeError('invalid rate-limited log options');
  }

  debug(key: string, fields: object, msg: string): void {
    this.write('debug', key, fields, msg);
  }
  info(key: string, fields: object, msg: string): void {
    this.write('info', key, fields, msg);
  }
  warn(key: string, fields: object, msg: string): void {
    this.write('warn', key, fields, msg);
  }
  error(key: string, fields: object, msg: string): void {
    this.write('error', key, fields, msg);
  }

  /** Writes the summaries of windows that have ended and forgets idle keys. */
  flush(): void {
    const now = this.now();
    for (const [key, w] of this.windows) {
      if (now - w.startMs < this.opts.intervalMs) continue;
      this.summarise(key, w);
      this.windows.delete(key);
    }
  }

  private write(level: Level, key: string, fields: object, msg: string): void {
    const now = this.now();
    let w = this.windows.get(key);
    if (w !== undefined && now - w.startMs >= this.opts.intervalMs) {
      this.summarise(key, w);
      w = undefined;
    }
    if (w === undefined) {
      w = { startMs: now, logged: 0, suppressed: 0, level };
      this.windows.set(key, w);
    }
    if (w.logged >= this.opts.perInterval) {
      w.suppressed++;
      return;
    }
    w.logged++;
    this.log[level]({ ...fields, logKey: key }, msg);
  }

  private summarise(key: string, w: Window): void {
    if (w.suppressed === 0) return;
    this.log[w.level](
      { logKey: key, suppressed: w.suppressed, intervalMs: this.opts.intervalMs },
      `${w.suppressed} more "${key}" lines suppressed`,
    );
  }
}
