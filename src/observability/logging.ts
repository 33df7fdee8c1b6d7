// Structured JSON logs (pino), the format log pipelines expect from a pod. Every record is
// one JSON object with unique keys: pino writes a child's bindings, then the call's fields,
// verbatim, so `child({component}).child({component})` or a call repeating a bound field
// would emit the same key twice, which pipelines reject or mangle. So bindings are merged
// here (the innermost value wins) and only the merged object reaches pino.

import { type DestinationStream, pino } from 'pino';
import type { Logger } from '../model/logger.js';

/** Keys pino writes itself on every record; a field of the same name is written as `<key>_`. */
const RECORD_KEYS: ReadonlySet<string> = new Set(['level', 'time', 'pid', 'name', 'msg']);

type Level = 'debug' | 'info' | 'warn' | 'error';
type Fields = Readonly<Record<string, unknown>>;

/** `fields` over `base`: later values replace earlier ones, record keys are renamed. */
function merge(base: Fields, fields: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(fields)) out[RECORD_KEYS.has(k) ? `${k}_` : k] = v;
  return out;
}

class MergingLogger implements Logger {
  constructor(
    private readonly root: pino.Logger,
    private readonly bindings: Fields,
  ) {}

  debug(obj: object | string, msg?: string): void {
    this.write('debug', obj, msg);
  }
  info(obj: object | string, msg?: string): void {
    this.write('info', obj, msg);
  }
  warn(obj: object | string, msg?: string): void {
    this.write('warn', obj, msg);
  }
  error(obj: object | string, msg?: string): void {
    this.write('error', obj, msg);
  }

  child(bindings: Record<string, unknown>): Logger {
    return new MergingLogger(this.root, merge(this.bindings, bindings));
  }

  private write(level: Level, obj: object | string, msg?: string): void {
    if (!this.root.isLevelEnabled(level)) return;
    if (typeof obj === 'string') this.root[level](this.bindings, obj);
    else this.root[level](merge(this.bindings, obj), msg);
  }
}

/**
 * A logger writing one JSON line per record to `destination` (default stdout; the operator
 * commands that print results on stdout pass 2 for stderr).
 */
export function createLogger(level: string, destination: DestinationStream | number = 1): Logger {
  const root = pino(
    { name: 'tabby', level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    typeof destination === 'number' ? pino.destination(destination) : destination,
  );
  return new MergingLogger(root, {});
}
