// Scenario files: YAML in loadtest/scenarios/ (by name) or anywhere (by path), validated by
// the one schema in src/config/loadtest-config.ts. Bad files are ConfigErrors naming the file
// and the field, raised before any process starts.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../src/config/errors.js';
import { LOADTEST_MODES, type Scenario, scenarioSchema } from '../src/config/loadtest-config.js';

export const SCENARIO_DIR = fileURLToPath(new URL('./scenarios/', import.meta.url));

export function bundledScenarios(): string[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => basename(f, '.yaml'))
    .sort();
}

/** A path to a .yaml/.yml/.json file, or the name of a bundled scenario. */
export function resolveScenarioPath(ref: string): string {
  if (/\.(ya?ml|json)$/.test(ref)) {
    if (!existsSync(ref)) throw new ConfigError(`scenario file ${ref} does not exist`);
    return ref;
  }
  const path = join(SCENARIO_DIR, `${ref}.yaml`);
  if (!/^[a-z0-9-]+$/.test(ref) || !existsSync(path))
    throw new ConfigError(`no scenario named "${ref}"; bundled: ${bundledScenarios().join(', ')}`);
  return path;
}

export function parseScenario(text: string, where: string): Scenario {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${where}: not YAML: ${(err as Error).message}`, { cause: err });
  }
  const parsed = scenarioSchema.safeParse(doc);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new ConfigError(`${where}: invalid scenario:\n  ${issues.join('\n  ')}`);
  }
  const s = parsed.data;
  const pods = s.cluster.nodes * s.cluster.podsPerNode;
  if (pods > 150_000) throw new ConfigError(`${where}: ${pods} pods; the generator goes up to 150,000`);
  if (s.modes.includes('ceiling') && !s.modes.includes('tabby'))
    throw new ConfigError(`${where}: the ceiling replays what Tabby sent, so modes must include tabby`);
  if (s.modes.includes('rollout') && s.replicas < 2)
    throw new ConfigError(`${where}: a rolling restart needs replicas of 2 or more`);
  // Tabby runs first: the ceiling replays its recording.
  s.modes = LOADTEST_MODES.filter((m) => s.modes.includes(m));
  return s;
}

export function loadScenario(ref: string): Scenario {
  const path = resolveScenarioPath(ref);
  return parseScenario(readFileSync(path, 'utf8'), path);
}
