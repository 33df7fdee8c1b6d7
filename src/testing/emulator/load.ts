// Seeding the store: objects (create, or replace when present) and manifest directories
// (multi-document YAML or JSON, `kind: List` expanded, calicoctl's projectcalico.org/v3
// stored under the CRD group). A bad document is reported by file and index; the rest load.

import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { listManifestFiles } from '../../datastore/kube/manifests.js';
import type { KubeObject } from '../../datastore/kube/object.js';
import { apiVersionOf, resourceTypeOf } from '../../datastore/kube/resources.js';
import type { ObjectStore } from './store.js';

export interface LoadError {
  /** File (relative to the loaded directory) or "objects". */
  source: string;
  /** 0-based document index in the file (or index in the array given to loadObjects). */
  document?: number;
  message: string;
}

export interface LoadResult {
  loaded: number;
  errors: LoadError[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Creates `value`, or replaces the stored object of the same name; throws on anything else. */
export function upsert(store: ObjectStore, value: unknown): KubeObject {
  if (!isRecord(value)) throw new Error('not an object');
  const { apiVersion, kind } = value;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string')
    throw new Error('missing apiVersion or kind');
  const r = resourceTypeOf(apiVersion, kind);
  if (!r) throw new Error(`${apiVersion} ${kind} is not a resource type the emulator serves`);
  const meta = isRecord(value['metadata']) ? { ...value['metadata'] } : {};
  // Server-set fields from an exported manifest do not carry over.
  delete meta['resourceVersion'];
  delete meta['uid'];
  delete meta['creationTimestamp'];
  delete meta['generation'];
  const namespace = r.namespaced
    ? (typeof meta['namespace'] === 'string' && meta['namespace']) || 'default'
    : undefined;
  const body = {
    ...value,
    apiVersion: apiVersionOf(r),
    metadata: { ...meta, ...(namespace ? { namespace } : {}) },
  };
  const name = meta['name'];
  if (typeof name === 'string' && name !== '' && store.get(r, namespace, name))
    return store.update(r, namespace, name, body);
  return store.create(r, body, namespace);
}

export function loadObjects(store: ObjectStore, objects: readonly unknown[], source = 'objects'): LoadResult {
  const out: LoadResult = { loaded: 0, errors: [] };
  objects.forEach((obj, i) => {
    try {
      upsert(store, obj);
      out.loaded++;
    } catch (err) {
      out.errors.push({ source, document: i, message: (err as Error).message });
    }
  });
  return out;
}

/** Loads every *.yaml, *.yml and *.json below `dir` (recursively, in name order). */
export async function loadDirectory(store: ObjectStore, dir: string): Promise<LoadResult> {
  const out: LoadResult = { loaded: 0, errors: [] };
  let files: string[];
  try {
    files = await listManifestFiles(dir);
  } catch (err) {
    return { loaded: 0, errors: [{ source: dir, message: (err as Error).message }] };
  }
  for (const file of files) {
    const source = relative(dir, file) || file;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      out.errors.push({ source, message: (err as Error).message });
      continue;
    }
    parseAllDocuments(text).forEach((doc, document) => {
      if (doc.errors.length > 0) {
        out.errors.push({ source, document, message: doc.errors.map((e) => e.message).join('; ') });
        return;
      }
      const value = doc.toJS() as unknown;
      if (value === null || value === undefined) return; // an empty document (a trailing ---)
      const list = isRecord(value) && typeof value['kind'] === 'string' && value['kind'].endsWith('List');
      const items = list && Array.isArray(value['items']) ? (value['items'] as unknown[]) : [value];
      for (const item of items) {
        try {
          upsert(store, item);
          out.loaded++;
        } catch (err) {
          out.errors.push({ source, document, message: (err as Error).message });
        }
      }
    });
  }
  return out;
}
