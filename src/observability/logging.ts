// Structured JSON logs on stdout (pino), the format log pipelines expect from a pod.

import { pino } from 'pino';
import type { Logger } from '../model/logger.js';

export function createLogger(level: string, name = 'tabby'): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  }) as Logger;
}
