// Reads Kubernetes/Calico manifests: multi-document YAML or JSON, `kind: List` expanded.
// Every problem names its file and document; good documents load regardless.

import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from './object.js';
import { yamlNestingProblem } from './yaml-nesting.js';

export interface ManifestError {
  source: string;
  /** 0-based document index within the file, when known. */
  document?: number;
  message: string;
}

export interface Manifests {
  objects: KubeObject[];
  errors: ManifestError[];
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

export function parseManifests(text: string, source: string): Manifests {
  const out: Manifests = { objects: [], errors: [] };
  // Before the recursive composer sees it: too deep a text can end the process (see there).
  const tooDeep = yamlNestingProblem(text);
  if (tooDeep !== undefined) {
    out.errors.push({ source, message: tooDeep });
    return out;
  }
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    if (doc.errors.length > 0) {
      out.errors.push({ source, document: i, message: doc.errors.map((e) => e.message).join('; ') });
      return;
    }
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) return; // empty document (e.g. trailing ---)
    for (const item of expandList(value)) {
      const problem = checkObject(item);
      if (problem) out.errors.push({ source, document: i, message: problem });
      else out.objects.push(item as KubeObject);
    }
  });
  return out;
}

function expandList(v: unknown): unknown[] {
  const o = v as { kind?: unknown; items?: unknown };
  if (
    typeof o === 'object' &&
    o !== null &&
    typeof o.kind === 'string' &&
    o.kind.endsWith('List') &&
    Array.isArray(o.items)
  )
    return o.items;
  return [v];
}

function checkObject(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a mapping';
  const o = v as Record<string, unknown>;
  if (typeof o['apiVersion'] !== 'string') return 'missing apiVersion';
  if (typeof o['kind'] !== 'string') return 'missing kind';
  const meta = o['metadata'] as Record<string, unknown> | undefined;
  if (typeof meta !== 'object' || meta === null || typeof meta['name'] !== 'string' || meta['name'] === '')
    return `${o['kind']}: missing metadata.name`;
  return undefined;
}

/** Every manifest file below `dir` (recursively, sorted, dot-files skipped). */
export async function listManifestFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && MANIFEST_FILE.test(e.name)) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

export async function readManifestFile(path: string, root: string): Promise<Manifests> {
  const source = relative(root, path) || path;
  try {
    return parseManifests(await readFile(path, 'utf8'), source);
  } catch (err) {
    return { objects: [], errors: [{ source, message: (err as Error).message }] };
  }
}
