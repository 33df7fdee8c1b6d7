// Turns a flat zod object schema into command-line options: each field becomes
// `--kebab-name <value>` with env var TABBY_SNAKE_NAME and the field's description and
// default in --help. The schema stays the single definition of every setting.

import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { envName, kebab, settingName } from './setting-names.js';

type Shape = Record<string, z.ZodType>;

function isBoolean(field: z.ZodType): boolean {
  return field.safeParse(true).success && !field.safeParse('x').success && !field.safeParse(1).success;
}

/** Adds one option per schema field, plus --config FILE (YAML/JSON with the same keys). */
export function addSchemaOptions(cmd: Command, shape: Shape): Command {
  for (const [key, field] of Object.entries(shape)) {
    const def = field.safeParse(undefined);
    const flag = isBoolean(field) ? `--${kebab(key)} [bool]` : `--${kebab(key)} <value>`;
    const opt = new Option(flag, field.description ?? '').env(envName(key));
    if (def.success && def.data !== undefined) opt.default(def.data);
    cmd.addOption(opt);
  }
  cmd.addOption(
    new Option('--config <file>', 'YAML or JSON file with the same settings (camelCase keys)').env(
      'TABBY_CONFIG',
    ),
  );
  return cmd;
}

/** Repeatable flag; commas also separate values (handy in env vars). */
const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== ''),
];

/**
 * Adds a repeatable option (`flags`, e.g. "-f, --file <path>") for the array field `key` of a
 * schema, with its env var (comma-separated values) and description.
 */
export function addListOption(cmd: Command, flags: string, key: string, field: z.ZodType): Command {
  return cmd.addOption(new Option(flags, field.description ?? '').argParser(collect).env(envName(key)));
}

/**
 * Resolves the settings: command line beats environment beats config file beats defaults.
 * Returns a validated, frozen object; bad values throw ConfigError naming the setting.
 */
export function resolveConfig<S extends z.ZodObject<Shape>>(cmd: Command, schema: S): Readonly<z.infer<S>> {
  const opts = cmd.opts();
  const merged: Record<string, unknown> = {};
  const file = opts['config'] as string | undefined;
  if (file) Object.assign(merged, readConfigFile(file, schema));
  for (const key of Object.keys(schema.shape)) {
    const source = cmd.getOptionValueSource(key);
    if (source === 'cli' || source === 'env' || (source === 'default' && !(key in merged))) {
      merged[key] = normalise(opts[key]);
    }
  }
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      // zod's "expected string, received undefined" says less than "required".
      const unset = merged[key] === undefined && i.code === 'invalid_type';
      return `${settingName(key)}: ${unset ? 'required, not set' : i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${issues.join('\n  ')}`);
  }
  return Object.freeze(parsed.data);
}

/** `--flag` alone means true; "true"/"false" strings from env vars become booleans. */
function normalise(v: unknown): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  return v;
}

function readConfigFile(path: string, schema: z.ZodObject<Shape>): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError(`config file ${path}: want a mapping`);
  const unknown = Object.keys(doc).filter((k) => !(k in schema.shape));
  if (unknown.length > 0)
    throw new ConfigError(`config file ${path}: unknown settings ${unknown.join(', ')}`);
  return doc as Record<string, unknown>;
}
