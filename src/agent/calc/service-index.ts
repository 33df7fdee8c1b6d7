// Kubernetes services as the IP sets that policy rules with `services` match, after Felix's
// felix/serviceindex: a service's members come from its EndpointSlices (label
// kubernetes.io/service-name). A destination match uses (address, protocol, port) for each
// slice port with a number ('svc:' sets); a source match uses the bare addresses ('svcnoport:').
// As in Felix, every listed address counts, ready or not, and a port without a number adds
// nothing. IPv4 only, like the dataplanes.

import { keyKind } from '../../model/keys.js';
import type { JsonValue } from '../../model/types.js';
import { addTo } from './label-index.js';

export type ServiceProtocol = 'tcp' | 'udp' | 'sctp';

export interface ServicePortMember {
  /** The endpoint address as a /32. */
  readonly net: string;
  readonly protocol: ServiceProtocol;
  readonly port: number;
}

const PORTS_PREFIX = 'svc:';
const NO_PORTS_PREFIX = 'svcnoport:';

/** The set id of a service match: `namespace/name` with or without the slice ports. */
export const serviceSetId = (service: string, withPorts: boolean): string =>
  `${withPorts ? PORTS_PREFIX : NO_PORTS_PREFIX}${service}`;

/** The service behind a service set id, or undefined for any other set id. */
export function serviceOfSetId(id: string): { service: string; withPorts: boolean } | undefined {
  if (id.startsWith(PORTS_PREFIX)) return { service: id.slice(PORTS_PREFIX.length), withPorts: true };
  if (id.startsWith(NO_PORTS_PREFIX)) return { service: id.slice(NO_PORTS_PREFIX.length), withPorts: false };
  return undefined;
}

interface Slice {
  readonly service: string;
  readonly nets: readonly string[];
  readonly ports: readonly { readonly protocol: ServiceProtocol; readonly port: number }[];
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export class ServiceIndex {
  readonly #slices = new Map<string, Slice>();
  readonly #byService = new Map<string, Set<string>>();

  /**
   * Takes one KV if it is an EndpointSlice; returns the services whose members may have
   * changed (none for any other key). A value that does not parse counts as a deletion.
   */
  take(key: string, value: JsonValue | null): string[] {
    if (keyKind(key) !== 'endpointSlice') return [];
    // Keys.endpointSlice: …/kubernetesendpointslices/<namespace>/<name>, URI-escaped.
    const namespace = decodeURIComponent(key.split('/').at(-2) ?? '');
    const old = this.#slices.get(key);
    const slice = value === null ? undefined : parseSlice(namespace, value);
    const touched = new Set<string>();
    if (old !== undefined) {
      this.#slices.delete(key);
      this.#byService.get(old.service)?.delete(key);
      if (this.#byService.get(old.service)?.size === 0) this.#byService.delete(old.service);
      touched.add(old.service);
    }
    if (slice !== undefined) {
      this.#slices.set(key, slice);
      addTo(this.#byService, slice.service, key);
      touched.add(slice.service);
    }
    return [...touched];
  }

  /** The service's endpoint addresses (/32s), sorted, without duplicates. */
  addresses(service: string): string[] {
    const out = new Set<string>();
    for (const s of this.#slicesOf(service)) for (const n of s.nets) out.add(n);
    return [...out].sort();
  }

  /** (address, protocol, port) for every address and numbered port of the service's slices. */
  ipPorts(service: string): ServicePortMember[] {
    const seen = new Set<string>();
    const out: ServicePortMember[] = [];
    for (const s of this.#slicesOf(service))
      for (const p of s.ports)
        for (const net of s.nets) {
          const k = `${net},${p.protocol}:${p.port}`;
          if (seen.has(k)) continue;
          seen.add(k);
          out.push({ net, protocol: p.protocol, port: p.port });
        }
    return out.sort((a, b) => (a.net === b.net ? a.port - b.port : a.net < b.net ? -1 : 1));
  }

  *#slicesOf(service: string): Iterable<Slice> {
    for (const key of this.#byService.get(service) ?? []) yield this.#slices.get(key)!;
  }
}

/** The converter's compact slice value (src/datastore/convert/service.ts). */
function parseSlice(namespace: string, value: JsonValue): Slice | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const name = value['serviceName'];
  // A slice without the service-name label belongs to no service.
  if (typeof name !== 'string' || name === '') return undefined;
  if (value['addressType'] !== 'IPv4') return { service: `${namespace}/${name}`, nets: [], ports: [] };
  const nets: string[] = [];
  for (const e of asArray(value['endpoints']))
    for (const a of asArray(asObject(e)?.['addresses']))
      if (typeof a === 'string' && IPV4.test(a)) nets.push(`${a}/32`);
  const ports: { protocol: ServiceProtocol; port: number }[] = [];
  for (const p of asArray(value['ports'])) {
    const o = asObject(p);
    const port = o?.['port'];
    if (typeof port !== 'number' || port < 1) continue;
    const proto = String(o?.['protocol'] ?? 'TCP').toLowerCase();
    ports.push({ protocol: proto === 'udp' || proto === 'sctp' ? proto : 'tcp', port });
  }
  return { service: `${namespace}/${name}`, nets, ports };
}

const asArray = (v: JsonValue | undefined): readonly JsonValue[] => (Array.isArray(v) ? v : []);
const asObject = (v: JsonValue | undefined): Readonly<Record<string, JsonValue>> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
