// Settings of `tabby status`: which replicas to ask (their health/metrics port, where /fleet
// is served) and what to print.

import { z } from 'zod';
import { serverAddresses } from './fields.js';

export const DEFAULT_STATUS_SERVER = '127.0.0.1:9098';

export const statusSchema = z.object({
  server: serverAddresses
    .default(DEFAULT_STATUS_SERVER)
    .describe(
      "replicas' health/metrics addresses HOST:PORT, comma-separated (the --health-listen port, 9098; not the sync port)",
    ),
  agents: z.boolean().default(false).describe('also list every agent of each replica'),
  json: z.boolean().default(false).describe('print one JSON object'),
  timeoutMs: z.coerce
    .number()
    .int()
    .positive()
    .default(5_000)
    .describe('give up on a replica after this long'),
});

export type StatusConfig = z.infer<typeof statusSchema>;
