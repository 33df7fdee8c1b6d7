// `apiserver-emulator`: runs the Kubernetes API emulator until SIGINT/SIGTERM, optionally
// writing a kubeconfig for it and seeding it from manifest directories or from the simulated
// cluster (whose object generator the composition root injects as `seedObjects`).

import { Command, InvalidArgumentError } from 'commander';
import { ConfigError } from '../config/errors.js';
import type { KubeObject } from '../datastore/kube/object.js';
import { parseHostPort } from '../model/address.js';
import type { Logger } from '../model/logger.js';
import { createLogger } from '../observability/logging.js';
import { ApiEmulator } from './emulator.js';
import type { LoadResult } from './load.js';
import { DEFAULT_EMULATOR_OPTIONS } from './options.js';

export interface EmulatorCommandDeps {
  /** The simulated cluster's objects, for `--seed sim`. */
  seedObjects?: () => KubeObject[] | Promise<KubeObject[]>;
  createLogger?: (level: string) => Logger;
}

export interface EmulatorCliOptions {
  listen: string;
  writeKubeconfig?: string;
  load: string[];
  seed?: string;
  token?: string;
  bookmarkIntervalMs: number;
  historyMaxEvents: number;
  historyMaxAgeMs: number;
  minRequestTimeoutS: number;
  logLevel: string;
}

const integer = (v: string): number => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('not a non-negative integer');
  return Number(v);
};

export function apiserverEmulatorCommand(deps: EmulatorCommandDeps = {}): Command {
  const d = DEFAULT_EMULATOR_OPTIONS;
  const cmd = new Command('apiserver-emulator')
    .description('serve an in-memory emulation of the Kubernetes List/Watch API (for tests and demos)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:0')
    .option('--write-kubeconfig <file>', 'write a kubeconfig for the emulator to this file')
    .option(
      '--load <dir>',
      'load manifests (*.yaml, *.yml, *.json) from a directory (repeatable)',
      collect,
      [],
    )
    .option('--seed <source>', 'seed objects from a generator: "sim" (the simulated cluster)')
    .option('--token <token>', 'require this bearer token on API requests')
    .option('--bookmark-interval-ms <ms>', 'watch bookmark interval', integer, d.bookmarkIntervalMs)
    .option('--history-max-events <n>', 'events kept per resource type', integer, d.historyMaxEvents)
    .option(
      '--history-max-age-ms <ms>',
      'events older than this are compacted (0: by count only)',
      integer,
      d.historyMaxAgeMs,
    )
    .option(
      '--min-request-timeout-s <s>',
      'watches without timeoutSeconds end after [s, 2s)',
      integer,
      d.minRequestTimeoutMs / 1000,
    )
    .option('--log-level <level>', 'log level', 'info');
  cmd.action(async (o: EmulatorCliOptions) => {
    const log = (deps.createLogger ?? createLogger)(o.logLevel);
    const emulator = await runApiserverEmulator(o, deps, log);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    log.info({}, 'stopping apiserver emulator');
    await emulator.stop();
  });
  return cmd;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function report(log: Logger, what: string, r: LoadResult): void {
  for (const e of r.errors)
    log.warn({ source: e.source, document: e.document, err: e.message }, `${what}: document not loaded`);
  log.info({ loaded: r.loaded, errors: r.errors.length }, `${what}: loaded`);
}

/** Starts an emulator as the command's options say; the caller stops it. */
export async function runApiserverEmulator(
  o: EmulatorCliOptions,
  deps: EmulatorCommandDeps,
  log: Logger,
): Promise<ApiEmulator> {
  let listen: { host: string; port: number };
  try {
    listen = parseHostPort(o.listen);
  } catch (err) {
    throw new ConfigError(`--listen: ${(err as Error).message}`);
  }
  if (o.seed !== undefined && o.seed !== 'sim')
    throw new ConfigError(`--seed: unknown source "${o.seed}" (want "sim")`);
  if (o.seed === 'sim' && !deps.seedObjects)
    throw new ConfigError('--seed sim: this build has no simulated-cluster object generator wired in');
  let emulator: ApiEmulator;
  try {
    emulator = new ApiEmulator({
      log,
      token: o.token,
      bookmarkIntervalMs: o.bookmarkIntervalMs,
      historyMaxEvents: o.historyMaxEvents,
      historyMaxAgeMs: o.historyMaxAgeMs,
      minRequestTimeoutMs: o.minRequestTimeoutS * 1000,
    });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (o.seed === 'sim' && deps.seedObjects)
    report(log, 'seed sim', emulator.loadObjects(await deps.seedObjects()));
  for (const dir of o.load) report(log, `load ${dir}`, await emulator.loadDirectory(dir));
  const url = await emulator.start(listen);
  if (o.writeKubeconfig) {
    await emulator.writeKubeconfig(o.writeKubeconfig);
    log.info({ path: o.writeKubeconfig, server: url }, 'kubeconfig written');
  }
  return emulator;
}
