// Settings of `tabby explain`: which state to read and which flow to judge.

import { z } from 'zod';
import { serverAddresses } from './fields.js';
import { clientTlsFields } from './tls-config.js';

export const explainSchema = z.object({
  server: serverAddresses.optional().describe('read the state from a Tabby server (HOST:PORT) ...'),
  path: z.string().optional().describe('... or from a directory of Kubernetes/Calico manifests'),
  from: z.string().describe('source: <namespace>/<pod> or an IP'),
  to: z.string().describe('destination: <namespace>/<pod>:<port>/<protocol> or <ip>:<port>/<protocol>'),
  json: z.boolean().default(false).describe('print one JSON object'),
  timeoutMs: z.coerce
    .number()
    .int()
    .positive()
    .default(30_000)
    .describe('give up reading the state after this long'),
  ...clientTlsFields,
});

export type ExplainConfig = z.infer<typeof explainSchema>;
