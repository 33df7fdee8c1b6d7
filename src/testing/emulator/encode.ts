// JSON encoding of stored objects, once per object version: stored objects are immutable, so
// every list page and every watcher shares the same string. Items of built-in list kinds omit
// apiVersion and kind, as the real server's typed lists do; custom resources keep them.

import type { KubeObject } from '../../datastore/kube/object.js';
import { apiVersionOf, type ResourceType } from '../../datastore/kube/resources.js';

const full = new WeakMap<object, string>();
const bare = new WeakMap<object, string>();

export function encode(obj: KubeObject): string {
  let s = full.get(obj);
  if (s === undefined) {
    s = JSON.stringify(obj);
    full.set(obj, s);
  }
  return s;
}

/** Whether `r` is served by a built-in (typed) storage rather than as a custom resource. */
export const isBuiltIn = (r: ResourceType): boolean => r.group === '' || r.group.endsWith('.k8s.io');

export function encodeListItem(r: ResourceType, obj: KubeObject): string {
  if (!isBuiltIn(r)) return encode(obj);
  let s = bare.get(obj);
  if (s === undefined) {
    const json = encode(obj);
    // Stored objects begin with apiVersion then kind (object-meta.ts orders them so).
    const prefix = `{"apiVersion":${JSON.stringify(apiVersionOf(r))},"kind":${JSON.stringify(r.kind)},`;
    if (json.startsWith(prefix)) s = `{${json.slice(prefix.length)}`;
    else {
      const { apiVersion: _a, kind: _k, ...rest } = obj;
      s = JSON.stringify(rest);
    }
    bare.set(obj, s);
  }
  return s;
}

export function watchLine(type: string, objectJson: string): string {
  return `{"type":"${type}","object":${objectJson}}\n`;
}
