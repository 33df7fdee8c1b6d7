// Endpoint values: workload and host endpoints and network sets, as src/datastore/convert
// stores them (`…Kv`) and as the parse functions return them after checking (`…Value`).

import { keyKind } from '../keys.js';
import type { JsonValue } from '../types.js';
import { BadValue, labelMap, num, protocolOf, segments, str, strList, type Wire, wire } from './read.js';

export interface NamedPortKv {
  readonly name: string;
  /** Lower case ("tcp"), or a protocol number. */
  readonly protocol: string | number;
  readonly port: number;
}

/** libcalico-go model.WorkloadEndpoint. */
export interface WorkloadEndpointKv {
  readonly state: 'active';
  readonly name: string;
  readonly profileIds: readonly string[];
  /** CIDRs (/32, /128 for pod addresses). */
  readonly ipv4Nets: readonly string[];
  readonly ipv6Nets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly ports: readonly NamedPortKv[];
}

/** libcalico-go model.HostEndpoint. */
export interface HostEndpointKv {
  readonly name: string;
  /** Bare addresses. */
  readonly expectedIPv4Addrs: readonly string[];
  readonly expectedIPv6Addrs: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly profileIds: readonly string[];
  readonly ports: readonly NamedPortKv[];
}

export interface NetworkSetKv {
  readonly nets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** Namespaced sets only: the namespace's profile. */
  readonly profileIds?: readonly string[];
}

export interface NamedPort {
  readonly name: string;
  readonly protocol: string;
  readonly port: number;
}

/** A workload or host endpoint on any node. */
export interface EndpointValue {
  readonly id: string;
  readonly kind: 'workload' | 'host';
  readonly node: string;
  readonly interfaceName: string;
  /** IPv4 then IPv6, as CIDRs (/32, /128 for addresses). */
  readonly nets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly profileIds: readonly string[];
  readonly ports: readonly NamedPort[];
}

export interface NetworkSetValue {
  readonly id: string;
  readonly nets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly profileIds: readonly string[];
}

function namedPorts(o: Wire<WorkloadEndpointKv | HostEndpointKv>): NamedPort[] {
  const v = o.ports;
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new BadValue('ports: not a list');
  return v.map((p) => {
    const po = wire<NamedPortKv>(p);
    const name = str(po, 'name');
    const port = num(po, 'port');
    if (name === undefined || port === undefined) throw new BadValue('ports: name and port required');
    return { name, protocol: String(protocolOf(po, 'protocol') ?? 'tcp'), port };
  });
}

const asHostNet = (ip: string): string => (ip.includes('/') ? ip : `${ip}/${ip.includes(':') ? 128 : 32}`);

export function parseEndpoint(key: string, raw: JsonValue): EndpointValue {
  const seg = segments(key); // host, <node>, workload|endpoint, ...
  const kind = keyKind(key) === 'workloadEndpoint' ? 'workload' : 'host';
  let nets: string[];
  let o: Wire<WorkloadEndpointKv | HostEndpointKv>;
  if (kind === 'workload') {
    const w = wire<WorkloadEndpointKv>(raw);
    nets = [...strList(w, 'ipv4Nets'), ...strList(w, 'ipv6Nets')];
    o = w;
  } else {
    const h = wire<HostEndpointKv>(raw);
    nets = [...strList(h, 'expectedIPv4Addrs'), ...strList(h, 'expectedIPv6Addrs')].map(asHostNet);
    o = h;
  }
  return {
    id: key,
    kind,
    node: seg[1]!,
    interfaceName: str(o, 'name') ?? '',
    nets,
    labels: labelMap(o, 'labels'),
    profileIds: strList(o, 'profileIds'),
    ports: namedPorts(o),
  };
}

export function parseNetworkSet(key: string, raw: JsonValue): NetworkSetValue {
  const o = wire<NetworkSetKv>(raw);
  return {
    id: key,
    nets: strList(o, 'nets'),
    labels: labelMap(o, 'labels'),
    profileIds: strList(o, 'profileIds'),
  };
}
