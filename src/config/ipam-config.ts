// Settings of `tabby ipam show`: which server to read the IPAM state from and what to print.

import { z } from 'zod';
import { serverAddresses } from './fields.js';
import { clientTlsFields } from './tls-config.js';

export const ipamShowSchema = z.object({
  server: serverAddresses.default('127.0.0.1:5473').describe('Tabby server HOST:PORT (comma-separated list)'),
  showBlocks: z.boolean().default(false).describe('also list every IPAM block (affine node, in use / size)'),
  showBorrowed: z
    .boolean()
    .default(false)
    .describe('also list borrowed addresses (IP, borrowing node, block, block owner)'),
  json: z.boolean().default(false).describe('print one JSON object'),
  timeoutMs: z.coerce
    .number()
    .int()
    .positive()
    .default(30_000)
    .describe('give up reading the state after this long'),
  ...clientTlsFields,
});

export type IpamShowConfig = z.infer<typeof ipamShowSchema>;
