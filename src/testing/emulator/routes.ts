// URL paths of the Kubernetes API, resolved against the served types: discovery documents,
// collections (cluster-wide or in a namespace), items and their /status subresource.

import { RESOURCE_TYPES, type ResourceType } from '../../datastore/kube/resources.js';

export type Route =
  | { kind: 'discovery'; path: string[] }
  | { kind: 'collection'; r: ResourceType; namespace: string | undefined; watchPath: boolean }
  | {
      kind: 'item';
      r: ResourceType;
      namespace: string | undefined;
      name: string;
      subresource: 'status' | undefined;
      watchPath: boolean;
    }
  | { kind: 'notFound' };

/** Built-in types with a status subresource; the Calico CRDs declare none. */
const STATUS_SUBRESOURCE = new Set(['pods', 'nodes', 'namespaces', 'services']);
export const hasStatus = (r: ResourceType): boolean => r.group === '' && STATUS_SUBRESOURCE.has(r.plural);

const typeIn = (group: string, version: string, plural: string) =>
  RESOURCE_TYPES.find((r) => r.group === group && r.version === version && r.plural === plural);

export function resolveRoute(pathname: string): Route {
  let segs: string[];
  try {
    segs = pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    return { kind: 'notFound' };
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === 'api') {
    if (segs.length <= 2) return { kind: 'discovery', path: segs };
    group = '';
    version = segs[1]!;
    rest = segs.slice(2);
  } else if (segs[0] === 'apis') {
    if (segs.length <= 3) return { kind: 'discovery', path: segs };
    group = segs[1]!;
    version = segs[2]!;
    rest = segs.slice(3);
  } else return { kind: 'notFound' };

  // The deprecated /watch/ prefix: GET .../watch/pods is GET .../pods?watch=true.
  const watchPath = rest[0] === 'watch';
  if (watchPath) rest = rest.slice(1);

  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const r = typeIn(group, version, rest[2]!);
    if (r?.namespaced) return scoped(r, rest[1]!, rest.slice(3), watchPath);
  }
  const r = typeIn(group, version, rest[0]!);
  if (!r) return { kind: 'notFound' };
  if (r.namespaced && rest.length > 1) return { kind: 'notFound' };
  return scoped(r, undefined, rest.slice(1), watchPath);
}

function scoped(r: ResourceType, namespace: string | undefined, tail: string[], watchPath: boolean): Route {
  if (tail.length === 0) return { kind: 'collection', r, namespace, watchPath };
  const name = tail[0]!;
  if (tail.length === 1) return { kind: 'item', r, namespace, name, subresource: undefined, watchPath };
  if (tail.length === 2 && tail[1] === 'status' && hasStatus(r) && !watchPath)
    return { kind: 'item', r, namespace, name, subresource: 'status', watchPath };
  return { kind: 'notFound' };
}
