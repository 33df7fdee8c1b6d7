// Services and EndpointSlices. Calico's KDD syncer passes them raw (conversion.go
// ServiceToKVP / EndpointSliceToKVP) for service rules, the BPF proxy and confd's service
// advertisement; we send compact values holding just the fields those consumers read.

import { Keys } from '../../model/keys.js';
import { formatIp } from '../../model/net/ip.js';
import type { JsonValue, KV } from '../../model/types.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid } from './errors.js';
import { fields, list, optBool, optInt, optString, show, stringList } from './fields.js';
import { ipOf } from './net.js';

const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

function protocol(v: string | undefined, what: string): string {
  const p = v ?? 'TCP';
  if (!['TCP', 'UDP', 'SCTP'].includes(p))
    throw new Invalid(`${what}: expected TCP, UDP or SCTP, got ${show(p)}`);
  return p;
}

const ips = (list: readonly string[], what: string): string[] =>
  list.map((ip, i) => formatIp(ipOf(ip, `${what}[${i}]`)));

export function convertService(obj: KubeObject): KV[] {
  const ns = obj.metadata.namespace;
  if (!ns) throw new Invalid('metadata.namespace: required');
  const spec = fields(obj.spec, 'spec');
  const type = optString(spec, 'type', 'spec') ?? 'ClusterIP';
  if (!SERVICE_TYPES.includes(type)) throw new Invalid(`spec.type: unknown service type ${show(type)}`);
  let clusterIPs = stringList(spec, 'clusterIPs', 'spec');
  const single = optString(spec, 'clusterIP', 'spec');
  if (clusterIPs.length === 0 && single) clusterIPs = [single];
  // "None" marks a headless service: no virtual IP.
  clusterIPs = clusterIPs.filter((ip) => ip !== 'None' && ip !== '');
  const ports = list(spec, 'ports', 'spec').map((p, i) => {
    const where = `spec.ports[${i}]`;
    const f = fields(p, where);
    const port = optInt(f, 'port', where, 1, 65535);
    if (port === undefined) throw new Invalid(`${where}.port: required`);
    const out: Record<string, JsonValue> = {
      protocol: protocol(optString(f, 'protocol', where), `${where}.protocol`),
      port,
    };
    const name = optString(f, 'name', where);
    if (name) out['name'] = name;
    const nodePort = optInt(f, 'nodePort', where, 0, 65535);
    if (nodePort) out['nodePort'] = nodePort;
    const target = f['targetPort'];
    if (typeof target === 'number' || (typeof target === 'string' && target !== ''))
      out['targetPort'] = target;
    return out;
  });
  const ingress = list(
    fields(fields(obj.status, 'status')['loadBalancer'], 'status.loadBalancer'),
    'ingress',
    'status.loadBalancer',
  );
  const lbIps = ingress.flatMap((e, i) => {
    const ip = optString(
      fields(e, `status.loadBalancer.ingress[${i}]`),
      'ip',
      `status.loadBalancer.ingress[${i}]`,
    );
    return ip ? [formatIp(ipOf(ip, `status.loadBalancer.ingress[${i}].ip`))] : [];
  });
  const value: Record<string, JsonValue> = {
    type,
    clusterIPs: ips(clusterIPs, 'spec.clusterIPs'),
    externalIPs: ips(stringList(spec, 'externalIPs', 'spec'), 'spec.externalIPs'),
    loadBalancerIPs: lbIps,
    ports,
  };
  const etp = optString(spec, 'externalTrafficPolicy', 'spec');
  if (etp !== undefined) {
    if (etp !== 'Cluster' && etp !== 'Local')
      throw new Invalid(`spec.externalTrafficPolicy: unknown ${show(etp)}`);
    value['externalTrafficPolicy'] = etp;
  }
  const itp = optString(spec, 'internalTrafficPolicy', 'spec');
  if (itp !== undefined) value['internalTrafficPolicy'] = itp;
  if (obj.metadata.labels && Object.keys(obj.metadata.labels).length > 0)
    value['labels'] = { ...obj.metadata.labels };
  return [{ key: Keys.service(ns, obj.metadata.name), value }];
}

export function convertEndpointSlice(obj: KubeObject): KV[] {
  const ns = obj.metadata.namespace;
  if (!ns) throw new Invalid('metadata.namespace: required');
  const raw = obj as unknown as Readonly<Record<string, unknown>>;
  const addressType = typeof raw['addressType'] === 'string' ? raw['addressType'] : '';
  if (!['IPv4', 'IPv6', 'FQDN'].includes(addressType))
    throw new Invalid(`addressType: expected IPv4, IPv6 or FQDN, got ${show(raw['addressType'])}`);
  const endpoints = list(raw, 'endpoints', '').map((e, i) => {
    const where = `endpoints[${i}]`;
    const f = fields(e, where);
    const addresses = stringList(f, 'addresses', where).map((a, j) => {
      if (addressType === 'FQDN') return a;
      const ip = ipOf(a, `${where}.addresses[${j}]`);
      if (`IPv${ip.version}` !== addressType)
        throw new Invalid(`${where}.addresses[${j}]: not an ${addressType} address`);
      return formatIp(ip);
    });
    // Kubernetes: an unset ready condition is to be read as ready.
    const ready =
      optBool(fields(f['conditions'], `${where}.conditions`), 'ready', `${where}.conditions`) ?? true;
    const out: Record<string, JsonValue> = { addresses, ready };
    const nodeName = optString(f, 'nodeName', where);
    if (nodeName) out['nodeName'] = nodeName;
    return out;
  });
  const ports = list(raw, 'ports', '').map((p, i) => {
    const where = `ports[${i}]`;
    const f = fields(p, where);
    const out: Record<string, JsonValue> = {
      protocol: protocol(optString(f, 'protocol', where), `${where}.protocol`),
    };
    const name = optString(f, 'name', where);
    if (name) out['name'] = name;
    const port = optInt(f, 'port', where, 0, 65535);
    if (port !== undefined) out['port'] = port;
    return out;
  });
  const value: Record<string, JsonValue> = { addressType, endpoints, ports };
  const service = obj.metadata.labels?.[SERVICE_NAME_LABEL];
  if (service) value['serviceName'] = service;
  return [{ key: Keys.endpointSlice(ns, obj.metadata.name), value }];
}
