// Services and EndpointSlices. Calico's KDD syncer passes them raw (conversion.go
// ServiceToKVP / EndpointSliceToKVP) for service rules, the BPF proxy and confd's service
// advertisement; we send compact values holding just the fields those consumers read
// (ServiceKv, EndpointSliceKv in model/values/service.ts).

import { formatIp } from '../../model/net/ip.js';
import type { KV } from '../../model/types.js';
import { modelKV } from '../../model/values/kv.js';
import {
  ADDRESS_TYPES,
  type AddressType,
  type EndpointSliceKv,
  SERVICE_PROTOCOLS,
  SERVICE_TYPES,
  type ServiceKv,
  type ServicePortKv,
  type ServiceProtocolKv,
  type ServiceType,
  type SliceEndpointKv,
  type SlicePortKv,
  type TrafficPolicy,
} from '../../model/values/service.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid } from './errors.js';
import { fields, list, optBool, optInt, optString, show, stringList } from './fields.js';
import { ipOf } from './net.js';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

const isOneOf = <T extends string>(v: string, allowed: readonly T[]): v is T =>
  (allowed as readonly string[]).includes(v);

function protocol(v: string | undefined, what: string): ServiceProtocolKv {
  const p = v ?? 'TCP';
  if (!isOneOf(p, SERVICE_PROTOCOLS)) throw new Invalid(`${what}: expected TCP, UDP or SCTP, got ${show(p)}`);
  return p;
}

const ips = (list: readonly string[], what: string): string[] =>
  list.map((ip, i) => formatIp(ipOf(ip, `${what}[${i}]`)));

export function convertService(obj: KubeObject): KV[] {
  const ns = obj.metadata.namespace;
  if (!ns) throw new Invalid('metadata.namespace: required');
  const spec = fields(obj.spec, 'spec');
  const type = optString(spec, 'type', 'spec') ?? 'ClusterIP';
  if (!isOneOf<ServiceType>(type, SERVICE_TYPES))
    throw new Invalid(`spec.type: unknown service type ${show(type)}`);
  let clusterIPs = stringList(spec, 'clusterIPs', 'spec');
  const single = optString(spec, 'clusterIP', 'spec');
  if (clusterIPs.length === 0 && single) clusterIPs = [single];
  // "None" marks a headless service: no virtual IP.
  clusterIPs = clusterIPs.filter((ip) => ip !== 'None' && ip !== '');
  const ports = list(spec, 'ports', 'spec').map((p, i): ServicePortKv => {
    const where = `spec.ports[${i}]`;
    const f = fields(p, where);
    const port = optInt(f, 'port', where, 1, 65535);
    if (port === undefined) throw new Invalid(`${where}.port: required`);
    const proto = protocol(optString(f, 'protocol', where), `${where}.protocol`);
    const name = optString(f, 'name', where);
    const nodePort = optInt(f, 'nodePort', where, 0, 65535);
    const target = f['targetPort'];
    return {
      protocol: proto,
      port,
      ...(name ? { name } : {}),
      ...(nodePort ? { nodePort } : {}),
      ...(typeof target === 'number' || (typeof target === 'string' && target !== '')
        ? { targetPort: target }
        : {}),
    };
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
  const virtualIPs = ips(clusterIPs, 'spec.clusterIPs');
  const externalIPs = ips(stringList(spec, 'externalIPs', 'spec'), 'spec.externalIPs');
  const etp = optString(spec, 'externalTrafficPolicy', 'spec');
  if (etp !== undefined && !isOneOf<TrafficPolicy>(etp, ['Cluster', 'Local']))
    throw new Invalid(`spec.externalTrafficPolicy: unknown ${show(etp)}`);
  const itp = optString(spec, 'internalTrafficPolicy', 'spec');
  const labels = obj.metadata.labels;
  const value: ServiceKv = {
    type,
    clusterIPs: virtualIPs,
    externalIPs,
    loadBalancerIPs: lbIps,
    ports,
    ...(etp !== undefined ? { externalTrafficPolicy: etp } : {}),
    ...(itp !== undefined ? { internalTrafficPolicy: itp } : {}),
    ...(labels !== undefined && Object.keys(labels).length > 0 ? { labels: { ...labels } } : {}),
  };
  return [modelKV('service', [ns, obj.metadata.name], value)];
}

export function convertEndpointSlice(obj: KubeObject): KV[] {
  const ns = obj.metadata.namespace;
  if (!ns) throw new Invalid('metadata.namespace: required');
  const raw = obj as unknown as Readonly<Record<string, unknown>>;
  const addressType = typeof raw['addressType'] === 'string' ? raw['addressType'] : '';
  if (!isOneOf<AddressType>(addressType, ADDRESS_TYPES))
    throw new Invalid(`addressType: expected IPv4, IPv6 or FQDN, got ${show(raw['addressType'])}`);
  const endpoints = list(raw, 'endpoints', '').map((e, i): SliceEndpointKv => {
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
    const nodeName = optString(f, 'nodeName', where);
    return { addresses, ready, ...(nodeName ? { nodeName } : {}) };
  });
  const ports = list(raw, 'ports', '').map((p, i): SlicePortKv => {
    const where = `ports[${i}]`;
    const f = fields(p, where);
    const proto = protocol(optString(f, 'protocol', where), `${where}.protocol`);
    const name = optString(f, 'name', where);
    const port = optInt(f, 'port', where, 0, 65535);
    return {
      protocol: proto,
      ...(name ? { name } : {}),
      ...(port !== undefined ? { port } : {}),
    };
  });
  const service = obj.metadata.labels?.[SERVICE_NAME_LABEL];
  const value: EndpointSliceKv = {
    addressType,
    endpoints,
    ports,
    ...(service ? { serviceName: service } : {}),
  };
  return [modelKV('endpointSlice', [ns, obj.metadata.name], value)];
}
