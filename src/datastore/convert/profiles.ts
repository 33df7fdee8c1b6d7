// Namespaces and ServiceAccounts to the profiles every pod lists, after Calico's
// conversion.go NamespaceToProfile / ServiceAccountToProfile and profileprocessor.go: labels
// reach endpoints prefixed (pcns./pcsa.); namespace profiles allow all, SA profiles have no rules.

import type { KV } from '../../model/types.js';
import { modelKV } from '../../model/values/kv.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid } from './errors.js';

const NAME_LABEL = 'projectcalico.org/name';

function prefixed(labels: Record<string, string> | undefined, prefix: string, name: string) {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) out[prefix + k] = v;
  out[prefix + NAME_LABEL] = name;
  return out;
}

export function convertNamespace(obj: KubeObject): KV[] {
  const name = obj.metadata.name;
  return [
    modelKV('profile', [`kns.${name}`], {
      labels: prefixed(obj.metadata.labels, 'pcns.', name),
      inboundRules: [{ action: 'allow' }],
      outboundRules: [{ action: 'allow' }],
    }),
  ];
}

export function convertServiceAccount(obj: KubeObject): KV[] {
  const ns = obj.metadata.namespace;
  if (!ns) throw new Invalid('metadata.namespace: required');
  const name = obj.metadata.name;
  return [
    modelKV('profile', [`ksa.${ns}.${name}`], {
      labels: prefixed(obj.metadata.labels, 'pcsa.', name),
      inboundRules: [],
      outboundRules: [],
    }),
  ];
}
