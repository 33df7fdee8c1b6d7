// NetworkSet and GlobalNetworkSet to model network sets (nets + labels, which only rule
// selectors read), after Calico's updateprocessors/networksetprocessor.go and
// globalnetworksetprocessor.go. Namespaced sets carry the namespace label and kns. profile.

import type { KV } from '../../model/types.js';
import type { NetworkSetKv } from '../../model/values/endpoint.js';
import { modelKV } from '../../model/values/kv.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid } from './errors.js';
import { fields, stringList } from './fields.js';
import { networkText } from './net.js';
import { NAMESPACE_LABEL } from './rules.js';

function nets(obj: KubeObject): string[] {
  return stringList(fields(obj.spec, 'spec'), 'nets', 'spec').map((n, i) =>
    networkText(n, `spec.nets[${i}]`),
  );
}

function labels(obj: KubeObject): Record<string, string> {
  const out = { ...obj.metadata.labels };
  if (NAMESPACE_LABEL in out)
    throw new Invalid(`metadata.labels: ${NAMESPACE_LABEL} is not a valid label name`);
  return out;
}

export function convertNetworkSet(obj: KubeObject): KV[] {
  const ns = obj.metadata.namespace;
  if (!ns) throw new Invalid('metadata.namespace: required');
  const value: NetworkSetKv = {
    nets: nets(obj),
    labels: { ...labels(obj), [NAMESPACE_LABEL]: ns },
    profileIds: [`kns.${ns}`],
  };
  return [modelKV('networkSet', [`${ns}/${obj.metadata.name}`], value)];
}

export function convertGlobalNetworkSet(obj: KubeObject): KV[] {
  return [modelKV('networkSet', [obj.metadata.name], { nets: nets(obj), labels: labels(obj) })];
}
