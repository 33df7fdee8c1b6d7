// Discovery documents (legacy, unaggregated): /api, /api/v1, /apis, /apis/<group>,
// /apis/<group>/<version>, and /version. client-node's KubernetesObjectApi reads the
// APIResourceList of an apiVersion to map a kind to its plural and scope.

import { RESOURCE_TYPES, type ResourceType } from '../../datastore/kube/resources.js';
import { hasStatus } from './routes.js';

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
const SHORT_NAMES: Record<string, string[]> = {
  nodes: ['no'],
  pods: ['po'],
  namespaces: ['ns'],
  serviceaccounts: ['sa'],
  services: ['svc'],
};

export const KUBERNETES_VERSION = {
  major: '1',
  minor: '31',
  gitVersion: 'v1.31.0-tabby-emulator',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2024-08-13T00:00:00Z',
  goVersion: 'go1.22.5',
  compiler: 'gc',
  platform: 'linux/amd64',
};

function groups(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of RESOURCE_TYPES) {
    if (r.group === '') continue;
    const versions = out.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    out.set(r.group, versions);
  }
  return out;
}

function apiGroup(name: string, versions: string[]) {
  const gvs = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: gvs, preferredVersion: gvs[0] };
}

function resourceList(group: string, version: string) {
  const types = RESOURCE_TYPES.filter((r) => r.group === group && r.version === version);
  if (types.length === 0) return undefined;
  const resources = types
    .slice()
    .sort((a, b) => (a.plural < b.plural ? -1 : 1))
    .flatMap((r: ResourceType) => {
      const main = {
        name: r.plural,
        singularName: r.kind.toLowerCase(),
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: VERBS,
        ...(r.group === '' && SHORT_NAMES[r.plural] ? { shortNames: SHORT_NAMES[r.plural] } : {}),
      };
      if (!hasStatus(r)) return [main];
      const status = {
        name: `${r.plural}/status`,
        singularName: '',
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: ['get', 'patch', 'update'],
      };
      return [main, status];
    });
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}

/** The discovery document at /api[/v1] or /apis[/group[/version]], or undefined (404). */
export function discoveryDocument(path: string[], serverAddress: string): unknown {
  const [root, a, b] = path;
  if (root === 'api') {
    if (a === undefined)
      return {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
      };
    return resourceList('', a);
  }
  const all = groups();
  if (a === undefined)
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...all].map(([name, versions]) => apiGroup(name, versions)),
    };
  const versions = all.get(a);
  if (!versions) return undefined;
  if (b === undefined) return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(a, versions) };
  return resourceList(a, b);
}
