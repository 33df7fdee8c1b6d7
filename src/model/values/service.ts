// Kubernetes Services and EndpointSlices, as src/datastore/convert/service.ts stores them
// (`…Kv`: the compact fields Felix's service rules and confd's service advertisement read)
// and as the parse functions return them after checking (`…Value`). The parsers read a fixed
// shape, never deeper than these types nest (three levels), so a hostile value fails at the
// first field of the wrong type instead of being walked; addresses must parse as IPs (the
// agent's `lenient` syntax) and are returned as model/net prints them.

import { formatIp, parseIp } from '../net/ip.js';
import type { JsonValue } from '../types.js';
import { BadValue, labelMap, num, protocolOf, segments, str, strList, type Wire, wire } from './read.js';

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
/** As Kubernetes spells them; the readers lower-case them (ServiceProtocol). */
export type ServiceProtocolKv = 'TCP' | 'UDP' | 'SCTP';
export type ServiceProtocol = 'tcp' | 'udp' | 'sctp';
export type TrafficPolicy = 'Cluster' | 'Local';
export type AddressType = 'IPv4' | 'IPv6' | 'FQDN';

export const SERVICE_TYPES: readonly ServiceType[] = [
  'ClusterIP',
  'NodePort',
  'LoadBalancer',
  'ExternalName',
];
export const SERVICE_PROTOCOLS: readonly ServiceProtocolKv[] = ['TCP', 'UDP', 'SCTP'];
export const ADDRESS_TYPES: readonly AddressType[] = ['IPv4', 'IPv6', 'FQDN'];

export interface ServicePortKv {
  readonly protocol: ServiceProtocolKv;
  readonly port: number;
  readonly name?: string;
  /** Left out when 0 (not allocated). */
  readonly nodePort?: number;
  /** A number or a named port; left out when unset. */
  readonly targetPort?: number | string;
}

/** A Service: its type, virtual addresses (formatted IPs; headless: none) and ports. */
export interface ServiceKv {
  readonly type: ServiceType;
  readonly clusterIPs: readonly string[];
  readonly externalIPs: readonly string[];
  /** status.loadBalancer.ingress[].ip. */
  readonly loadBalancerIPs: readonly string[];
  readonly ports: readonly ServicePortKv[];
  readonly externalTrafficPolicy?: TrafficPolicy;
  readonly internalTrafficPolicy?: string;
  /** Left out when the Service has none. */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface SliceEndpointKv {
  /** Formatted IPs of the slice's address type, or names (FQDN). */
  readonly addresses: readonly string[];
  /** conditions.ready, unset read as true. */
  readonly ready: boolean;
  readonly nodeName?: string;
}

export interface SlicePortKv {
  readonly protocol: ServiceProtocolKv;
  readonly name?: string;
  readonly port?: number;
}

export interface EndpointSliceKv {
  readonly addressType: AddressType;
  readonly endpoints: readonly SliceEndpointKv[];
  readonly ports: readonly SlicePortKv[];
  /** The kubernetes.io/service-name label; left out when the slice has none. */
  readonly serviceName?: string;
}

export interface ServicePort {
  readonly protocol: ServiceProtocol;
  readonly port: number;
  readonly name?: string;
  readonly nodePort?: number;
  readonly targetPort?: number | string;
}

export interface ServiceValue {
  /** "<namespace>/<name>", as service rules and EndpointSlices name it. */
  readonly id: string;
  readonly type: ServiceType;
  readonly clusterIPs: readonly string[];
  readonly externalIPs: readonly string[];
  readonly loadBalancerIPs: readonly string[];
  readonly ports: readonly ServicePort[];
  /** '' when the Service has none (type ClusterIP). */
  readonly externalTrafficPolicy: TrafficPolicy | '';
  readonly internalTrafficPolicy?: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface SliceEndpoint {
  readonly addresses: readonly string[];
  readonly ready: boolean;
  readonly nodeName?: string;
}

export interface SlicePort {
  readonly protocol: ServiceProtocol;
  readonly name?: string;
  readonly port?: number;
}

export interface EndpointSliceValue {
  /** "<namespace>/<service name>"; undefined for a slice that belongs to no Service. */
  readonly service: string | undefined;
  readonly addressType: AddressType;
  readonly endpoints: readonly SliceEndpoint[];
  readonly ports: readonly SlicePort[];
}

/** The namespace and name a service or slice key ends with. */
function namespaceAndName(key: string): [string, string] {
  let seg: string[];
  try {
    seg = segments(key);
  } catch {
    throw new BadValue('key: bad escape');
  }
  if (seg.length < 2) throw new BadValue('key: no namespace and name');
  return [seg[seg.length - 2]!, seg[seg.length - 1]!];
}

function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], what: string): T {
  const found = allowed.find((a) => a === v);
  if (found === undefined) throw new BadValue(`${what}: unknown ${JSON.stringify(v)}`);
  return found;
}

/** A whole number in [lo, hi], or undefined when absent. */
function intIn<T>(o: Wire<T>, k: keyof T & string, lo: number, hi: number): number | undefined {
  const v = num(o, k);
  if (v !== undefined && !(Number.isInteger(v) && v >= lo && v <= hi))
    throw new BadValue(`${k}: out of range`);
  return v;
}

/** Port protocol, lower-cased; TCP when absent. */
function protocol<T>(o: Wire<T>, k: keyof T & string): ServiceProtocol {
  const p = protocolOf(o, k) ?? 'tcp';
  if (p !== 'tcp' && p !== 'udp' && p !== 'sctp') throw new BadValue(`${k}: not TCP, UDP or SCTP`);
  return p;
}

function list(v: JsonValue | undefined, what: string): readonly JsonValue[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new BadValue(`${what}: not a list`);
  return v;
}

/** Addresses that must parse as IPs (of `version`, when given), printed canonically. */
function ips<T>(o: Wire<T>, k: keyof T & string, version?: 4 | 6): string[] {
  return strList(o, k).map((a) => {
    const ip = parseIp(a, 'lenient');
    if (ip === undefined || (version !== undefined && ip.version !== version))
      throw new BadValue(
        `${k}: not an IP${version === undefined ? '' : `v${version}`} address: ${JSON.stringify(a)}`,
      );
    return formatIp(ip);
  });
}

const optional = <K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } =>
  (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };

function servicePort(raw: JsonValue): ServicePort {
  const o = wire<ServicePortKv>(raw);
  const port = intIn(o, 'port', 1, 65535);
  if (port === undefined) throw new BadValue('ports: port required');
  const target = o.targetPort;
  if (target !== undefined && target !== null && typeof target !== 'string' && typeof target !== 'number')
    throw new BadValue('targetPort: not a number or name');
  return {
    protocol: protocol(o, 'protocol'),
    port,
    ...optional('name', str(o, 'name')),
    ...optional('nodePort', intIn(o, 'nodePort', 0, 65535)),
    ...optional('targetPort', target ?? undefined),
  };
}

export function parseService(key: string, raw: JsonValue): ServiceValue {
  const o = wire<ServiceKv>(raw);
  const [namespace, name] = namespaceAndName(key);
  const etp = str(o, 'externalTrafficPolicy');
  return {
    id: `${namespace}/${name}`,
    type: oneOf(str(o, 'type'), SERVICE_TYPES, 'type'),
    clusterIPs: ips(o, 'clusterIPs'),
    externalIPs: ips(o, 'externalIPs'),
    loadBalancerIPs: ips(o, 'loadBalancerIPs'),
    ports: list(o.ports, 'ports').map(servicePort),
    externalTrafficPolicy:
      etp === undefined ? '' : oneOf<TrafficPolicy>(etp, ['Cluster', 'Local'], 'externalTrafficPolicy'),
    ...optional('internalTrafficPolicy', str(o, 'internalTrafficPolicy')),
    labels: labelMap(o, 'labels'),
  };
}

function sliceEndpoint(raw: JsonValue, addressType: AddressType): SliceEndpoint {
  const o = wire<SliceEndpointKv>(raw);
  const ready = o.ready;
  if (ready !== undefined && ready !== null && typeof ready !== 'boolean')
    throw new BadValue('ready: not a boolean');
  return {
    addresses:
      addressType === 'FQDN' ? strList(o, 'addresses') : ips(o, 'addresses', addressType === 'IPv4' ? 4 : 6),
    ready: ready !== false,
    ...optional('nodeName', str(o, 'nodeName')),
  };
}

function slicePort(raw: JsonValue): SlicePort {
  const o = wire<SlicePortKv>(raw);
  return {
    protocol: protocol(o, 'protocol'),
    ...optional('name', str(o, 'name')),
    ...optional('port', intIn(o, 'port', 0, 65535)),
  };
}

export function parseEndpointSlice(key: string, raw: JsonValue): EndpointSliceValue {
  const o = wire<EndpointSliceKv>(raw);
  const [namespace] = namespaceAndName(key);
  const addressType = oneOf(str(o, 'addressType'), ADDRESS_TYPES, 'addressType');
  const service = str(o, 'serviceName');
  return {
    service: service === undefined || service === '' ? undefined : `${namespace}/${service}`,
    addressType,
    endpoints: list(o.endpoints, 'endpoints').map((e) => sliceEndpoint(e, addressType)),
    ports: list(o.ports, 'ports').map(slicePort),
  };
}
