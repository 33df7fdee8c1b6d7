// Settings of `tabby loadtest` (flags/env/file, flat) and the schema of a scenario file
// (YAML in loadtest/scenarios/, nested). Defaults live here and only here; a scenario names
// what it changes. Units are in the names.

import { z } from 'zod';

/** The run modes a scenario can compare (see loadtest/README in docs/benchmarks.md). */
export const LOADTEST_MODES = ['tabby', 'ceiling', 'direct', 'rollout'] as const;
export type LoadtestMode = (typeof LOADTEST_MODES)[number];

const count = z.number().int().nonnegative();
const positive = z.number().int().positive();

export const scenarioSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes')
      .describe('scenario name (file name without .yaml)'),
    description: z.string().default(''),
    /** The simulated cluster the API emulator serves (src/testing/sim). */
    cluster: z
      .object({
        nodes: positive.min(4).max(5_000).default(50),
        podsPerNode: positive.max(110).default(30),
        namespaces: count.max(1_000).default(12),
        seed: z.number().int().default(1),
      })
      .strict()
      .default({ nodes: 50, podsPerNode: 30, namespaces: 12, seed: 1 }),
    /**
     * API writes per second while measuring, in the simulator's mix (70 % pod create/delete,
     * 22 % pod relabel, 5 % policy edit, 3 % node relabel). Every pod write carries a send stamp.
     */
    churn: z
      .object({ eventsPerSec: z.number().nonnegative().max(10_000).default(5) })
      .strict()
      .default({ eventsPerSec: 5 }),
    agents: z
      .object({
        count: positive.max(60_000).default(100),
        /** steady: at most `concurrency` handshakes in flight per worker; storm: all at once. */
        connect: z.enum(['steady', 'storm']).default('steady'),
        concurrency: positive.default(100),
        /** Agent worker processes (0: one per 2,500 agents, at most 4); each holds < 20,000 files. */
        processes: count.max(16).default(0),
      })
      .strict()
      .default({ count: 100, connect: 'steady', concurrency: 100, processes: 0 }),
    replicas: positive.max(8).default(1),
    modes: z.array(z.enum(LOADTEST_MODES)).min(1).default(['tabby', 'ceiling']),
    /** Churn is measured for this long in each mode, after every agent is in sync. */
    durationS: positive.max(3_600).default(20),
    /** Time every agent gets to be in sync (and, in direct mode, to list everything). */
    syncTimeoutS: positive.default(120),
    rollout: z
      .object({
        /** Compared in this order; resume off is Typha's full snapshot on every reconnect. */
        resume: z.array(z.boolean()).min(1).default([true, false]),
        /** `tabby serve --shutdown-drain-ms` of the replica being restarted. */
        drainMs: count.default(2_000),
        /** Pause between one replica ready and the next stopped. */
        pauseMs: count.default(1_000),
      })
      .strict()
      .default({ resume: [true, false], drainMs: 2_000, pauseMs: 1_000 }),
    /**
     * Passed to `tabby serve` as flags when set. `workers` and `tls` name flags that later
     * work adds; a run asking for a flag the server lacks stops before starting anything.
     */
    server: z
      .object({
        workers: positive.optional(),
        compression: z
          .string()
          .regex(/^[a-z0-9-]+$/)
          .optional(),
        tls: z.boolean().default(false),
        extraArgs: z.array(z.string()).default([]),
      })
      .strict()
      .default({ tls: false, extraArgs: [] }),
    /** Fault hooks, at seconds into each mode's measurement window. */
    faults: z
      .object({
        /** Cut every watch on the API emulator (Tabby relists/resumes; direct agents too). */
        dropWatchesAtS: z.array(z.number().nonnegative()).default([]),
      })
      .strict()
      .default({ dropWatchesAtS: [] }),
  })
  .strict();

export type Scenario = z.infer<typeof scenarioSchema>;

/** The command's own settings (the scenario holds the rest). */
export const loadtestSchema = z.object({
  scenario: z
    .string()
    .default('')
    .describe('scenario file (.yaml) or the name of one in loadtest/scenarios/ (e.g. smoke, fanout-10k)'),
  outDir: z
    .string()
    .default('loadtest/results')
    .describe('directory for <scenario>.json and <scenario>.html'),
  modes: z
    .string()
    .regex(/^[a-z,]*$/)
    .default('')
    .describe("comma-separated modes to run instead of the scenario's (tabby,ceiling,direct,rollout)"),
  agents: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe("agent count instead of the scenario's (0: keep)"),
  durationS: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe("measurement seconds instead of the scenario's (0: keep)"),
  html: z.boolean().default(true).describe('write the HTML report'),
  progress: z.boolean().default(true).describe('print a live progress line on stderr'),
  list: z.boolean().default(false).describe('list the bundled scenarios and exit'),
});

export type LoadtestConfig = z.infer<typeof loadtestSchema>;
