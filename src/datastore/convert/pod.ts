// Pod to workload endpoint, after Calico's conversion/workload_endpoint_default.go and
// conversion.go (which pods count, where IPs come from) and the syncer's
// updateprocessors/workloadendpointprocessor.go (the model value Felix receives).

import { createHash } from 'node:crypto';
import { formatCidr, masked, parseCidr } from '../../model/net/cidr.js';
import type { KV } from '../../model/types.js';
import type { NamedPortKv } from '../../model/values/endpoint.js';
import { modelKV } from '../../model/values/kv.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid } from './errors.js';
import { fields, list, optBool, optInt, optString, show } from './fields.js';
import { NAMESPACE_LABEL } from './rules.js';

export const ANNOTATION_POD_IP = 'cni.projectcalico.org/podIP';
export const ANNOTATION_POD_IPS = 'cni.projectcalico.org/podIPs';
const ANNOTATION_AWS_POD_IPS = 'vpc.amazonaws.com/pod-ips';
const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const V4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

/** Calico's host-side veth name: "cali" + the first 11 hex digits of sha1("<ns>.<pod>"). */
export function interfaceName(namespace: string, pod: string): string {
  return `cali${createHash('sha1').update(`${namespace}.${pod}`).digest('hex').slice(0, 11)}`;
}

/**
 * The pod's IPs in Calico's order of preference: status.podIPs, status.podIP, then the
 * annotations the Calico (and AWS VPC) CNI write. Each as CIDR-or-IP, masked.
 */
function podIps(status: Readonly<Record<string, unknown>>, annotations: Record<string, string>): string[] {
  let raw: string[] = [];
  const podIPs = list(status, 'podIPs', 'status');
  const podIP = optString(status, 'podIP', 'status');
  if (podIPs.length > 0) {
    raw = podIPs.map(
      (p, i) => optString(fields(p, `status.podIPs[${i}]`), 'ip', `status.podIPs[${i}]`) ?? '',
    );
  } else if (podIP) raw = [podIP];
  else if (annotations[ANNOTATION_POD_IPS]) raw = annotations[ANNOTATION_POD_IPS].split(',');
  else if (annotations[ANNOTATION_POD_IP]) raw = [annotations[ANNOTATION_POD_IP]];
  else if (annotations[ANNOTATION_AWS_POD_IPS]) raw = annotations[ANNOTATION_AWS_POD_IPS].split(',');
  return raw.map((ip) => {
    // The common case, a plain IPv4 address, without the general parser's allocations.
    if (V4.test(ip)) return `${ip}/32`;
    const c = parseCidr(ip.trim(), { bare: true });
    if (c === undefined) throw new Invalid(`pod IP ${show(ip)} is not an IP address`);
    return formatCidr(masked(c));
  });
}

/** IsFinished: the pod no longer owns its IPs (it may still exist for a while). */
function isFinished(obj: KubeObject, phase: string | undefined): boolean {
  const a = obj.metadata.annotations ?? {};
  if (obj.metadata.deletionTimestamp && (a[ANNOTATION_POD_IP] === '' || a[ANNOTATION_AWS_POD_IPS] === ''))
    return true;
  return phase === 'Succeeded' || phase === 'Failed' || phase === 'Completed';
}

const PROTOCOLS: Record<string, string> = { TCP: 'tcp', '': 'tcp', UDP: 'udp', SCTP: 'sctp' };

/** Named container ports (init containers too); unnamed ones never reach Felix. */
function namedPorts(spec: Readonly<Record<string, unknown>>): NamedPortKv[] {
  const out: NamedPortKv[] = [];
  for (const key of ['containers', 'initContainers']) {
    list(spec, key, 'spec').forEach((c, i) => {
      const where = `spec.${key}[${i}]`;
      list(fields(c, where), 'ports', where).forEach((p, j) => {
        const pf = fields(p, `${where}.ports[${j}]`);
        const port = optInt(pf, 'containerPort', `${where}.ports[${j}]`, 0, 65535) ?? 0;
        const name = optString(pf, 'name', `${where}.ports[${j}]`) ?? '';
        const protocol = PROTOCOLS[optString(pf, 'protocol', `${where}.ports[${j}]`) ?? ''];
        if (port !== 0 && name !== '' && protocol !== undefined) out.push({ name, protocol, port });
      });
    });
  }
  return out;
}

/** No key for pods that are unscheduled, host-networked, finished or without an IP yet. */
export function convertPod(obj: KubeObject): KV[] {
  const ns = obj.metadata.namespace;
  if (!ns) throw new Invalid('metadata.namespace: required');
  const spec = fields(obj.spec, 'spec');
  const status = fields(obj.status, 'status');
  const node = optString(spec, 'nodeName', 'spec');
  if (!node || optBool(spec, 'hostNetwork', 'spec') === true) return [];
  const annotations = obj.metadata.annotations ?? {};
  const ips = podIps(status, annotations);
  if (isFinished(obj, optString(status, 'phase', 'status')) || ips.length === 0) return [];

  const sa = optString(spec, 'serviceAccountName', 'spec') ?? '';
  const labels: Record<string, string> = {};
  // Pods cannot pose as members of another namespace or service account.
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {}))
    if (!k.startsWith('pcns.') && !k.startsWith('pcsa.')) labels[k] = v;
  labels[NAMESPACE_LABEL] = ns;
  labels['projectcalico.org/orchestrator'] = 'k8s';
  if (sa !== '') labels['projectcalico.org/serviceaccount'] = sa;
  return [
    modelKV('workloadEndpoint', [node, ns, obj.metadata.name], {
      state: 'active',
      name: interfaceName(ns, obj.metadata.name),
      profileIds: sa === '' ? [`kns.${ns}`] : [`kns.${ns}`, `ksa.${ns}.${sa}`],
      ipv4Nets: ips.filter((ip) => !ip.includes(':')),
      ipv6Nets: ips.filter((ip) => ip.includes(':')),
      labels,
      ports: namedPorts(spec),
    }),
  ];
}
