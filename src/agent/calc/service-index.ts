// Kubernetes services as the IP sets that policy rules with `services` match, after Felix's
// felix/serviceindex: a service's members come from its EndpointSlices (label
// kubernetes.io/service-name). A destination match uses (address, protocol, port) for each
// slice port with a number ('svc:' sets); a source match uses the bare addresses ('svcnoport:').
// As in Felix, every listed address counts, ready or not, and a port without a number adds
// nothing. IPv4 only, like the dataplanes. Slices are read through the model's checked
// parser (model/values/service.ts); one that does not parse counts as deleted and is reported.

import { keyKind } from '../../model/keys.js';
import type { JsonValue } from '../../model/types.js';
import { BadValue } from '../../model/values/read.js';
import {
  type EndpointSliceValue,
  parseEndpointSlice,
  type ServiceProtocol,
} from '../../model/values/service.js';
import { addTo } from './label-index.js';

export type { ServiceProtocol } from '../../model/values/service.js';

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

/** What one take() found: the services whose members may have changed, and why a value was refused. */
export interface ServiceTake {
  readonly services: readonly string[];
  /** Set when the value did not parse (it then counts as a deletion). */
  readonly invalid?: string;
}

const NOTHING: ServiceTake = { services: [] };

export class ServiceIndex {
  readonly #slices = new Map<string, Slice>();
  readonly #byService = new Map<string, Set<string>>();

  /**
   * Takes one KV if it is an EndpointSlice; says which services' members may have changed
   * (none for any other key). A value that does not parse counts as a deletion.
   */
  take(key: string, value: JsonValue | null): ServiceTake {
    if (keyKind(key) !== 'endpointSlice') return NOTHING;
    const old = this.#slices.get(key);
    let slice: Slice | undefined;
    let invalid: string | undefined;
    if (value !== null) {
      try {
        slice = sliceOf(parseEndpointSlice(key, value));
      } catch (err) {
        if (!(err instanceof BadValue)) throw err;
        invalid = err.message;
      }
    }
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
    return invalid === undefined ? { services: [...touched] } : { services: [...touched], invalid };
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

/** The members a slice gives its service: IPv4 addresses as /32s, numbered ports. */
function sliceOf(v: EndpointSliceValue): Slice | undefined {
  // A slice without the service-name label belongs to no service.
  if (v.service === undefined) return undefined;
  if (v.addressType !== 'IPv4') return { service: v.service, nets: [], ports: [] };
  const nets = v.endpoints.flatMap((e) => e.addresses.map((a) => `${a}/32`));
  const ports: { protocol: ServiceProtocol; port: number }[] = [];
  for (const p of v.ports)
    if (p.port !== undefined && p.port >= 1) ports.push({ protocol: p.protocol, port: p.port });
  return { service: v.service, nets, ports };
}
