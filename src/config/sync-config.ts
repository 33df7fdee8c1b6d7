// Settings of `tabby sync`, the operator's client: follow a server's stream and report.

import { z } from 'zod';
import { compressionSetting, serverAddresses } from './fields.js';
import { clientTlsFields } from './tls-config.js';

export const syncSchema = z.object({
  server: serverAddresses
    .default('127.0.0.1:5473')
    .describe('server address HOST:PORT (comma-separated list: random start, then round robin)'),
  syncer: z.enum(['felix', 'bgp']).default('felix').describe('syncer type to follow'),
  once: z.boolean().default(false).describe('exit as soon as the state is in sync'),
  json: z
    .boolean()
    .default(false)
    .describe('with --once: print one JSON object (syncer, generation, keys, hash)'),
  dump: z.boolean().default(false).describe('with --once: print every key and value as JSON lines'),
  timeoutMs: z.coerce
    .number()
    .int()
    .positive()
    .default(60_000)
    .describe('with --once: give up after this long'),
  hostname: z.string().optional().describe('host name sent in HELLO (default: this host)'),
  compression: compressionSetting.describe(
    'compression to offer: zstd (with deflate as fallback; zstd only where this Node has it, >= 22.15), deflate or none',
  ),
  logLevel: z
    .enum(['debug', 'info', 'warn', 'error'])
    .default('warn')
    .describe('log level (logs go to stderr)'),
  ...clientTlsFields,
});

export type SyncConfig = z.infer<typeof syncSchema>;
