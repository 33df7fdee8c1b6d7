// Settings of `tabby apiserver-emulator`: like every command's, each is a flag, a TABBY_* env
// var and a config-file key from this one schema. Defaults of the emulator's own options come
// from testing/emulator/options.ts, where the emulator keeps them.

import { z } from 'zod';
import { DEFAULT_EMULATOR_OPTIONS as d } from '../testing/emulator/options.js';
import { listenAddress } from './fields.js';

const count = z.coerce.number().int();

/** The single-valued settings (flags via addSchemaOptions, env, config file). */
export const emulatorScalarSchema = z.object({
  listen: listenAddress.default('127.0.0.1:0').describe('address to listen on (port 0: any free port)'),
  writeKubeconfig: z.string().min(1).optional().describe('write a kubeconfig for the emulator to this file'),
  seed: z.enum(['sim']).optional().describe('seed objects from a generator: "sim" (the simulated cluster)'),
  token: z.string().min(1).optional().describe('require this bearer token on API requests'),
  bookmarkIntervalMs: count.positive().default(d.bookmarkIntervalMs).describe('watch bookmark interval'),
  historyMaxEvents: count.positive().default(d.historyMaxEvents).describe('events kept per resource type'),
  historyMaxAgeMs: count
    .nonnegative()
    .default(d.historyMaxAgeMs)
    .describe('events older than this are compacted (0: by count only)'),
  minRequestTimeoutS: count
    .positive()
    .default(d.minRequestTimeoutMs / 1000)
    .describe('watches without timeoutSeconds end after [s, 2s)'),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info').describe('log level'),
});

export const emulatorSchema = emulatorScalarSchema.extend({
  load: z
    .array(z.string().min(1))
    .default([])
    .describe('load manifests (*.yaml, *.yml, *.json) from a directory (repeatable)'),
});

export type EmulatorConfig = z.infer<typeof emulatorSchema>;
