// Renders deploy/ overlays with `kubectl kustomize` and validates every object against the
// kubernetes-models packages (Kubernetes, cert-manager, prometheus-operator). The models'
// validators check types, formats and required fields but accept unknown fields, so each
// object is also type-checked as a literal of the model's TypeScript interface: the
// excess-property check rejects a typo'd field at any depth.

import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

const REPO = resolve(import.meta.dirname, '../..');

/** `kubectl kustomize deploy/<overlay>`, parsed. */
export async function render(overlay: string): Promise<KubeObject[]> {
  const { stdout } = await promisify(execFile)('kubectl', ['kustomize', resolve(REPO, 'deploy', overlay)], {
    maxBuffer: 16 << 20,
  });
  const docs = parseAllDocuments(stdout).map((d) => {
    if (d.errors.length > 0) throw new Error(`${overlay}: ${d.errors[0]!.message}`);
    return d.toJS() as KubeObject | null;
  });
  // kustomize v2 (Debian's kubectl 1.20) leaves `{}` where a `$patch: delete` removed an object.
  return docs.filter((o): o is KubeObject => o !== null && Object.keys(o).length > 0);
}

/** The model package module of an apiVersion/kind: kubernetes-models/apps/v1/Deployment. */
export function modelModule(apiVersion: string, kind: string): string {
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  const pkg =
    group === 'cert-manager.io'
      ? '@kubernetes-models/cert-manager'
      : group === 'monitoring.coreos.com'
        ? '@kubernetes-models/prometheus-operator'
        : 'kubernetes-models';
  return `${pkg}/${apiVersion}/${kind}`;
}

const label = (o: KubeObject) => `${o.kind}/${o.metadata?.name}`;

/** Problems of each object, by "Kind/name"; an object without problems is absent. */
export async function validate(objects: readonly KubeObject[]): Promise<Map<string, string[]>> {
  const problems = new Map<string, string[]>();
  const add = (o: KubeObject, msg: string) =>
    problems.set(label(o), [...(problems.get(label(o)) ?? []), msg]);
  for (const o of objects) {
    let model: Record<string, new (data: unknown) => { validate(): void }>;
    try {
      model = await import(modelModule(o.apiVersion, o.kind));
    } catch {
      add(o, `no model for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new model[o.kind]!(o).validate();
    } catch (err) {
      add(o, (err as Error).message);
    }
  }
  for (const [i, msg] of typeCheck(objects)) add(objects[i]!, msg);
  return problems;
}

/** TypeScript diagnostics of `const oN: IKind = <object>` for each object, by index. */
function typeCheck(objects: readonly KubeObject[]): Array<[number, string]> {
  const file = resolve(REPO, 'test/harness/.rendered-manifests.ts');
  const imports = objects.map(
    (o, i) => `import type { I${o.kind} as T${i} } from '${modelModule(o.apiVersion, o.kind)}';`,
  );
  // The first line of each object's declaration, to map a diagnostic back to its object.
  const lineStarts: number[] = [];
  let line = imports.length;
  const decls = objects.map((o, i) => {
    lineStarts.push(line);
    const decl = `export const o${i}: T${i} = ${JSON.stringify(o, null, 1)};`;
    line += decl.split('\n').length;
    return decl;
  });
  const text = [...imports, ...decls].join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, text, lang) : getSourceFile(name, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const source = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, source).map((d) => {
    const at = d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line;
    const index = lineStarts.filter((s) => s <= at).length - 1;
    return [Math.max(0, index), ts.flattenDiagnosticMessageText(d.messageText, ' ')];
  });
}

/** Objects of a kind, or the one of that kind and name. */
export const byKind = (objs: readonly KubeObject[], kind: string) => objs.filter((o) => o.kind === kind);
export function one(objs: readonly KubeObject[], kind: string, name: string): KubeObject {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name} in ${objs.map(label).join(', ')}`);
  return o;
}
