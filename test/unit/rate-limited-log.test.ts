// The rate-limited log on a fake clock: lines per key per window, a summary with the count
// of what was dropped (on the next line of that key, or on flush), keys independent.
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/model/logger.js';
import { RateLimitedLog } from '../../src/model/rate-limited-log.js';

function capture() {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  const at =
    (level: string) =>
    (obj: object | string, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
    };
  const log: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => log,
  };
  return { log, lines };
}

describe('RateLimitedLog', () => {
  it('lets perInterval lines through per key and window, then counts', () => {
    const { log, lines } = capture();
    let now = 0;
    const rl = new RateLimitedLog(log, { intervalMs: 1_000, perInterval: 2 }, () => now);
    for (let i = 0; i < 200; i++) rl.warn('malformed-frame', { conn: i }, 'closing connection');
    rl.info('handshake-timeout', { conn: 1 }, 'closing connection');
    expect(lines.map((l) => [l.level, l.obj['logKey'], l.obj['conn']])).toEqual([
      ['warn', 'malformed-frame', 0],
      ['warn', 'malformed-frame', 1],
      ['info', 'handshake-timeout', 1],
    ]);
    // Still inside the window: flush writes nothing.
    now = 999;
    rl.flush();
    expect(lines).toHaveLength(3);
    // The next line of the key after the window ends first reports the dropped count.
    now = 1_000;
    rl.warn('malformed-frame', { conn: 500 }, 'closing connection');
    expect(lines.slice(3).map((l) => [l.level, l.obj['suppressed'], l.obj['conn']])).toEqual([
      ['warn', 198, undefined],
      ['warn', undefined, 500],
    ]);
    expect(lines[3]!.msg).toBe('198 more "malformed-frame" lines suppressed');
  });

  it('flush reports a window that ended with nothing after it, and only once', () => {
    const { log, lines } = capture();
    let now = 0;
    const rl = new RateLimitedLog(log, { intervalMs: 1_000, perInterval: 1 }, () => now);
    for (let i = 0; i < 5; i++) rl.warn('ping-timeout', {}, 'closing connection');
    now = 1_500;
    rl.flush();
    rl.flush();
    expect(lines.map((l) => l.obj['suppressed'])).toEqual([undefined, 4]);
    // A new window starts clean.
    rl.warn('ping-timeout', {}, 'closing connection');
    expect(lines).toHaveLength(3);
    expect(lines[2]!.obj['suppressed']).toBeUndefined();
  });

  it('refuses nonsense options', () => {
    expect(() => new RateLimitedLog(capture().log, { intervalMs: 0, perInterval: 1 })).toThrow(RangeError);
    expect(() => new RateLimitedLog(capture().log, { intervalMs: 10, perInterval: 0 })).toThrow(RangeError);
  });
});
