// Settings of `tabby agent`, the node agent.

import { z } from 'zod';

export const agentSchema = z.object({
  server: z
    .string()
    .default('127.0.0.1:5473')
    .describe('Tabby servers HOST:PORT[,HOST:PORT...] (random start, round robin)'),
  node: z.string().min(1).describe("this node's name (as in the Node resource)"),
  dataplane: z
    .enum(['iptables', 'nftables', 'none'])
    .default('iptables')
    .describe('policy dataplane to program (none: only --dry-run output)'),
  dryRun: z
    .string()
    .optional()
    .describe('write the rendered state to this directory instead of programming it'),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info').describe('log level'),
});

export type AgentConfig = z.infer<typeof agentSchema>;
