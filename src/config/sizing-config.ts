// Settings of `tabby sizing`: the replica ladder's inputs. The defaults are the measured
// figures of docs/benchmarks.md; each can be changed to plan with other numbers.

import { z } from 'zod';

const count = z.coerce.number().int();

export const sizingSchema = z.object({
  nodes: count.min(1).optional().describe('nodes in the cluster (default: print the ladder)'),
  syncersPerNode: count
    .min(1)
    .max(2)
    .default(2)
    .describe('connections per agent: 2 with BGP (felix + bgp streams), 1 for policy only'),
  connectionsPerReplica: count
    .min(1)
    .default(1000)
    .describe('connections one replica carries (benchmarks: 1,000 at p99 31-51 ms, a quarter core)'),
  minReplicas: count.min(1).default(3).describe('never fewer replicas than this'),
  spareReplicas: count
    .min(0)
    .default(1)
    .describe('replicas that may be down (rollout, PDB maxUnavailable) with the rest still in budget'),
  workers: count
    .min(1)
    .max(256)
    .default(2)
    .describe(
      'tabby serve --workers of each replica (deploy/base sets 2): each worker is a process with its own copy of the state; 1: one process',
    ),
  json: z.boolean().default(false).describe('print JSON'),
});

export type SizingConfig = z.infer<typeof sizingSchema>;
