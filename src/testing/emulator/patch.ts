// PATCH bodies applied to a stored object: JSON merge patch (RFC 7386), JSON patch (RFC 6902,
// via fast-json-patch) and strategic merge patch. Simplification: a strategic merge patch is
// applied as a JSON merge patch — lists are replaced whole rather than merged by their patch
// merge key, and `$patch`/`$retainKeys` directives are not interpreted.

import jsonpatch from 'fast-json-patch';
import { badRequest, patchRejected, unsupportedMediaType } from './status.js';

export const MERGE_PATCH = 'application/merge-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';
export const PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH] as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386: objects merge recursively, null removes a member, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Applies a PATCH body of `contentType` to `doc`, returning a new document; errors are Status errors. */
export function applyPatch(doc: unknown, contentType: string, body: string): unknown {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (!(PATCH_TYPES as readonly string[]).includes(type)) throw unsupportedMediaType(type, PATCH_TYPES);
  let patch: unknown;
  try {
    patch = JSON.parse(body);
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
  if (type !== JSON_PATCH) {
    if (!isObject(patch)) throw badRequest('error decoding patch: a merge patch must be a JSON object');
    return mergePatch(doc, patch);
  }
  if (!Array.isArray(patch))
    throw badRequest('error decoding patch: a JSON patch must be an array of operations');
  try {
    return jsonpatch.applyPatch(doc, patch as jsonpatch.Operation[], true, false).newDocument;
  } catch (err) {
    throw patchRejected((err as Error).message.split('\n')[0] ?? 'invalid JSON patch');
  }
}
