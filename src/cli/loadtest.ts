// `tabby loadtest`: runs a scenario of loadtest/scenarios/ (or a YAML file) against real
// `tabby serve` replicas, the API emulator and the bare-broadcaster ceiling, and writes a JSON
// result and an HTML report. The engine lives in loadtest/ beside the sources (it forks
// TypeScript child processes through tsx), so the command runs from a checkout: under
// `npm run loadtest`, or through the built CLI, which loads tsx to reach the engine.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { ConfigError } from '../config/errors.js';
import {
  LOADTEST_MODES,
  type LoadtestConfig,
  type LoadtestMode,
  loadtestSchema,
  type Scenario,
} from '../config/loadtest-config.js';
import { addSchemaOptions, resolveConfig } from '../config/schema-options.js';
import { exitAfterFlush } from './exit.js';

/**
 * What this command uses of the engine (loadtest/scenario.ts, loadtest/run.ts). Declared here,
 * not imported: the build compiles src/ only, and the engine is loaded at run time.
 */
interface Engine {
  scenario: {
    bundledScenarios(): string[];
    loadScenario(ref: string): Scenario;
    parseScenario(text: string, where: string): Scenario;
  };
  run: {
    runScenario(
      sc: Scenario,
      o: { entry: { execArgv: string[]; main: string }; outDir: string; html: boolean; progress: boolean },
    ): Promise<{ result: { modes: { error?: string }[] }; jsonPath: string; htmlPath: string | undefined }>;
  };
}

const ENGINE_DIR = new URL('../../loadtest/', import.meta.url);

async function loadEngine(): Promise<Engine> {
  if (!existsSync(fileURLToPath(new URL('run.ts', ENGINE_DIR))))
    throw new ConfigError(
      'tabby loadtest runs from a source checkout (it needs loadtest/ and the dev dependencies): ' +
        'git clone, npm ci, then npm run loadtest -- --scenario smoke',
    );
  if (import.meta.url.endsWith('.js')) {
    // Built CLI: the engine and its child processes are TypeScript, run through tsx.
    try {
      const api = (await import('tsx/esm/api')) as { register: () => unknown };
      api.register();
    } catch (err) {
      throw new ConfigError('tabby loadtest needs tsx (a dev dependency): npm ci in the checkout', {
        cause: err,
      });
    }
  }
  const [scenario, run] = await Promise.all([
    import(new URL('scenario.ts', ENGINE_DIR).href) as Promise<Engine['scenario']>,
    import(new URL('run.ts', ENGINE_DIR).href) as Promise<Engine['run']>,
  ]);
  return { scenario, run };
}

export function parseModes(v: string): LoadtestMode[] | undefined {
  if (!v) return undefined;
  const modes = v.split(',').filter(Boolean);
  const bad = modes.filter((m) => !(LOADTEST_MODES as readonly string[]).includes(m));
  if (bad.length > 0)
    throw new ConfigError(`--modes: unknown ${bad.join(', ')}; known: ${LOADTEST_MODES.join(', ')}`);
  return modes as LoadtestMode[];
}

export function loadtestCommand(): Command {
  const cmd = new Command('loadtest').description(
    'load-test API fan-out: Tabby vs direct List+Watch vs a bare broadcaster, and rolling restarts (see docs/benchmarks.md)',
  );
  addSchemaOptions(cmd, loadtestSchema.shape);
  cmd.action(async () => {
    try {
      await runCommand(cmd);
    } catch (err) {
      // The engine's ConfigError is its own copy of the class when this CLI is the built one.
      if (err instanceof Error && err.name === 'ConfigError' && !(err instanceof ConfigError))
        throw new ConfigError(err.message, { cause: err });
      throw err;
    }
  });
  return cmd;
}

async function runCommand(cmd: Command): Promise<void> {
  const cfg: LoadtestConfig = resolveConfig(cmd, loadtestSchema);
  const engine = await loadEngine();
  if (cfg.list) {
    for (const name of engine.scenario.bundledScenarios()) console.log(name);
    return;
  }
  if (!cfg.scenario) throw new ConfigError('--scenario is required (a file, or a name: see --list)');
  const loaded = engine.scenario.loadScenario(cfg.scenario);
  const modes = parseModes(cfg.modes);
  const sc = engine.scenario.parseScenario(
    JSON.stringify({
      ...loaded,
      ...(modes ? { modes } : {}),
      ...(cfg.agents > 0 ? { agents: { ...loaded.agents, count: cfg.agents } } : {}),
      ...(cfg.durationS > 0 ? { durationS: cfg.durationS } : {}),
    }),
    cfg.scenario,
  );
  const out = await engine.run.runScenario(sc, {
    // Replicas run the same tabby as this command: the sources through tsx, or dist.
    entry: { execArgv: process.execArgv, main: process.argv[1]! },
    outDir: cfg.outDir,
    html: cfg.html,
    progress: cfg.progress,
  });
  console.log(`wrote ${out.jsonPath}${out.htmlPath ? ` and ${out.htmlPath}` : ''}`);
  // A batch command ends with its report: every child was stopped above, and a handle left
  // behind (a keep-alive socket, a sampler) once kept large runs alive for minutes.
  await exitAfterFlush(out.result.modes.some((m) => m.error) ? 1 : 0);
}
