// Settings of `tabby node status`: where to find BIRD's control socket and which WireGuard
// interface to report.

import { z } from 'zod';

export const DEFAULT_BIRD_SOCKET = '/var/run/tabby/bird.ctl';

export const nodeStatusSchema = z.object({
  birdSocket: z.string().min(1).default(DEFAULT_BIRD_SOCKET).describe('BIRD control socket'),
  wireguardInterface: z
    .string()
    .regex(/^[\w.-]{1,15}$/, 'an interface name (1-15 letters, digits, . _ -)')
    .optional()
    .describe('also list the peers of this WireGuard interface (wg show NAME dump)'),
  json: z.boolean().default(false).describe('print one JSON object'),
  timeoutMs: z.coerce
    .number()
    .int()
    .positive()
    .default(5_000)
    .describe('give up on BIRD or wg after this long'),
});

export type NodeStatusConfig = z.infer<typeof nodeStatusSchema>;
