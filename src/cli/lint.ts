// `tabby lint -f FILE|DIR`: reads manifests with the file datastore's loader, converts them
// with the datastore's converters (a rejected object is a finding, not a crash) and runs the
// lint rules over the resulting KV model. Exit code 1 when any finding is an error.

import { stat } from 'node:fs/promises';
import { Command } from 'commander';
import { ConfigError } from '../config/errors.js';
import { type LintConfig, lintScalarSchema, lintSchema } from '../config/lint-config.js';
import { addListOption, addSchemaOptions, resolveConfig } from '../config/schema-options.js';
import { ConversionError, convertObject } from '../datastore/convert/index.js';
import { listManifestFiles, readManifestFile } from '../datastore/kube/manifests.js';
import { type KubeObject, objectId } from '../datastore/kube/object.js';
import {
  compareFindings,
  type Finding,
  findDuplicates,
  LintOptionsError,
  lint,
  renderFindings,
  resourceRef,
  type SourcedObject,
} from '../lint/index.js';
import type { KV } from '../model/types.js';

export function lintCommand(): Command {
  const cmd = new Command('lint').description(
    'check Kubernetes/Calico manifests for mistakes the data proves (BGP ASNs, IP pools, mesh size, tiers)',
  );
  addListOption(cmd, '-f, --file <path>', 'file', lintSchema.shape.file);
  addListOption(cmd, '--service-cidr <cidr>', 'serviceCidr', lintSchema.shape.serviceCidr);
  addSchemaOptions(cmd, lintScalarSchema.shape);
  cmd.action(async () => {
    const cfg = resolveConfig(cmd, lintSchema);
    const findings = await lintPaths(cfg);
    process.stdout.write(cfg.json ? `${JSON.stringify(findings)}\n` : renderFindings(findings));
    if (findings.some((f) => f.severity === 'error')) process.exitCode = 1;
  });
  return cmd;
}

const refOf = (o: KubeObject): string => resourceRef(o.kind, o.metadata.namespace, o.metadata.name);

/** The converter's message for types it has no converter for (see convertObject). */
const UNSUPPORTED = 'unsupported resource type';

async function manifestFiles(path: string): Promise<string[]> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    throw new ConfigError(`-f ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return isDir ? listManifestFiles(path) : [path];
}

export async function lintPaths(
  cfg: Pick<LintConfig, 'file' | 'serviceCidr' | 'maxMeshNodes'>,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const kvs: KV[] = [];
  const sourced: SourcedObject[] = [];
  const sourceOf = new Map<string, string>();
  const unchecked = new Map<string, number>();
  const cwd = process.cwd();
  for (const path of cfg.file)
    for (const file of await manifestFiles(path)) {
      const { objects, errors } = await readManifestFile(file, cwd);
      for (const e of errors) {
        const source = e.document === undefined ? e.source : `${e.source} document ${e.document}`;
        findings.push({
          rule: 'invalid-manifest',
          severity: 'error',
          resource: source,
          related: [],
          // The YAML parser's message carries a code frame after its first line.
          message: `${source} does not load: ${e.message.split('\n')[0]!.replace(/[.:]$/, '')}.`,
          fix: 'Fix the YAML/JSON; nothing in that document was checked.',
          source: e.source,
        });
      }
      const source = objects.length > 0 ? file.replace(`${cwd}/`, '') : '';
      for (const obj of objects) {
        const ref = refOf(obj);
        try {
          kvs.push(...convertObject(obj));
        } catch (err) {
          if (!(err instanceof ConversionError)) throw err;
          if (err.reason.startsWith(UNSUPPORTED)) {
            const k = `${obj.kind} (${obj.apiVersion})`;
            unchecked.set(k, (unchecked.get(k) ?? 0) + 1);
            continue;
          }
          findings.push({
            rule: 'invalid-resource',
            severity: 'error',
            resource: ref,
            related: [],
            message: `${ref} is invalid and would be rejected (or ignored by the agents): ${err.reason}.`,
            fix: 'Correct the field named in the message.',
            source,
          });
          continue;
        }
        sourced.push({ id: objectId(obj), ref, source });
        sourceOf.set(ref, source);
      }
    }
  for (const [kind, n] of unchecked)
    findings.push({
      rule: 'unchecked-resource',
      severity: 'info',
      resource: kind,
      related: [],
      message: `${n} ${kind} object${n === 1 ? ' was' : 's were'} not checked: Tabby models Calico and Kubernetes networking resources only.`,
      fix: 'Nothing to do, unless the kind or apiVersion is a typo.',
    });
  let modelFindings: Finding[];
  try {
    modelFindings = lint(kvs, { serviceCidrs: cfg.serviceCidr, maxMeshNodes: cfg.maxMeshNodes });
  } catch (err) {
    if (err instanceof LintOptionsError) throw new ConfigError(err.message, { cause: err });
    throw err;
  }
  for (const f of modelFindings) {
    const source = sourceOf.get(f.resource);
    findings.push(source === undefined ? f : { ...f, source });
  }
  findings.push(...findDuplicates(sourced));
  return findings.sort(compareFindings);
}
