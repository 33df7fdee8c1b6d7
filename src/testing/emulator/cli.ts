// `apiserver-emulator`: runs the Kubernetes API emulator until SIGINT/SIGTERM, optionally
// writing a kubeconfig for it and seeding it from manifest directories or from the simulated
// cluster (whose object generator the composition root injects as `seedObjects`).

import { Command } from 'commander';
import { type EmulatorConfig, emulatorScalarSchema, emulatorSchema } from '../../config/emulator-config.js';
import { ConfigError, listenError, settingError } from '../../config/errors.js';
import { requireDirectory } from '../../config/paths.js';
import { addListOption, addSchemaOptions, resolveConfig } from '../../config/schema-options.js';
import type { KubeObject } from '../../datastore/kube/object.js';
import { parseHostPort } from '../../model/address.js';
import type { Logger } from '../../model/logger.js';
import { createLogger } from '../../observability/logging.js';
import { ApiEmulator } from './emulator.js';
import type { LoadResult } from './load.js';

export interface EmulatorCommandDeps {
  /** The simulated cluster's objects, for `--seed sim`. */
  seedObjects?: () => KubeObject[] | Promise<KubeObject[]>;
  createLogger?: (level: string) => Logger;
  /** Calls `stop` when the process should stop (default: on SIGINT or SIGTERM). */
  onStopRequest?: (stop: (reason: string) => void) => void;
}

const untilSignal = (stop: (reason: string) => void): void => {
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
};

/** The command's settings (config/emulator-config.ts: flags, TABBY_* env vars, config file). */
export type EmulatorCliOptions = EmulatorConfig;

export function apiserverEmulatorCommand(deps: EmulatorCommandDeps = {}): Command {
  const cmd = new Command('apiserver-emulator').description(
    'serve an in-memory emulation of the Kubernetes List/Watch API (for tests and demos)',
  );
  addSchemaOptions(cmd, emulatorScalarSchema.shape);
  addListOption(cmd, '--load <dir>', 'load', emulatorSchema.shape.load);
  cmd.action(async () => {
    const o = resolveConfig(cmd, emulatorSchema);
    const log = (deps.createLogger ?? createLogger)(o.logLevel);
    const emulator = await runApiserverEmulator(o, deps, log);
    await new Promise<void>((resolve) => (deps.onStopRequest ?? untilSignal)(() => resolve()));
    log.info({}, 'stopping apiserver emulator');
    await emulator.stop();
  });
  return cmd;
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
  for (const dir of o.load) {
    await requireDirectory('load', dir);
    report(log, `load ${dir}`, await emulator.loadDirectory(dir));
  }
  const url = await emulator.start(listen).catch((err: unknown) => {
    throw listenError('listen', o.listen, err);
  });
  if (o.writeKubeconfig) {
    const path = o.writeKubeconfig;
    await emulator.writeKubeconfig(path).catch(async (err: NodeJS.ErrnoException) => {
      await emulator.stop();
      throw settingError('writeKubeconfig', `cannot write ${path}: ${err.code ?? err.message}`, err);
    });
    log.info({ path: o.writeKubeconfig, server: url }, 'kubeconfig written');
  }
  return emulator;
}
