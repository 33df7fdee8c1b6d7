// The model values the policy calculation reads, parsed from the KV model (field names as
// src/datastore/convert writes them, after libcalico-go's backend model). A value that does
// not parse is treated as a deletion, like Felix's ValidationFilter, and reported.

import { ErrorCode } from '../../errors/codes.js';
import { TabbyError } from '../../errors/tabby-error.js';
import { keyKind } from '../../model/keys.js';
import { parseSelector, type Selector } from '../../model/selector/index.js';
import type { JsonValue } from '../../model/types.js';

export type RuleAction = 'allow' | 'deny' | 'log' | 'next-tier';
export type ModelPort = number | string;

/** One model rule (libcalico-go model.Rule); selectors already namespaced by the converter. */
export interface ModelRule {
  readonly action: RuleAction;
  readonly ipVersion?: 4 | 6;
  readonly protocol?: string | number;
  readonly notProtocol?: string | number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  readonly notIcmpType?: number;
  readonly notIcmpCode?: number;
  readonly srcNets?: readonly string[];
  readonly notSrcNets?: readonly string[];
  readonly srcSelector?: string;
  readonly notSrcSelector?: string;
  readonly srcPorts?: readonly ModelPort[];
  readonly notSrcPorts?: readonly ModelPort[];
  readonly dstNets?: readonly string[];
  readonly notDstNets?: readonly string[];
  readonly dstSelector?: string;
  readonly notDstSelector?: string;
  readonly dstPorts?: readonly ModelPort[];
  readonly notDstPorts?: readonly ModelPort[];
  readonly srcService?: string;
  readonly dstService?: string;
  /** The service's namespace (a namespaced policy's own when the rule names none). */
  readonly srcServiceNamespace?: string;
  readonly dstServiceNamespace?: string;
  readonly httpMatch?: JsonValue;
}

export interface TierValue {
  readonly name: string;
  readonly order: number | undefined;
  readonly defaultAction: 'deny' | 'pass';
}

export interface PolicyValue {
  /** The model key: the policy's identity everywhere in calc output. */
  readonly id: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly tier: string;
  /** +Infinity when unset (Felix's default order). */
  readonly order: number;
  readonly selector: Selector;
  readonly ingress: boolean;
  readonly egress: boolean;
  readonly inbound: readonly ModelRule[];
  readonly outbound: readonly ModelRule[];
  readonly doNotTrack: boolean;
  readonly preDNAT: boolean;
  readonly applyOnForward: boolean;
}

export interface ProfileValue {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly inbound: readonly ModelRule[];
  readonly outbound: readonly ModelRule[];
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

export class BadValue extends TabbyError {
  constructor(message: string) {
    super(ErrorCode.BadValue, message);
  }
}

type Obj = Readonly<Record<string, JsonValue>>;
const isObj = (v: JsonValue | undefined): v is Obj =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(v: JsonValue): Obj {
  if (!isObj(v)) throw new BadValue('value is not an object');
  return v;
}
function str(o: Obj, k: string): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BadValue(`${k}: not a string`);
  return v;
}
function num(o: Obj, k: string): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || Number.isNaN(v)) throw new BadValue(`${k}: not a number`);
  return v;
}
function strList(o: Obj, k: string): string[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new BadValue(`${k}: not strings`);
  return v as string[];
}
function labelMap(o: Obj, k: string): Record<string, string> {
  const v = o[k];
  if (v === undefined || v === null) return {};
  if (!isObj(v) || !Object.values(v).every((x) => typeof x === 'string'))
    throw new BadValue(`${k}: bad labels`);
  return { ...(v as Record<string, string>) };
}
function protocolOf(o: Obj, k: string): string | number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw new BadValue(`${k}: bad protocol`);
  return typeof v === 'string' ? v.toLowerCase() : v;
}
function portList(o: Obj, k: string): ModelPort[] | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' || typeof x === 'number'))
    throw new BadValue(`${k}: bad ports`);
  return v as ModelPort[];
}

const ACTIONS: readonly string[] = ['allow', 'deny', 'log', 'next-tier'];

/** Selector texts seen in rules are parsed once and shared. */
const selectorCache = new Map<string, Selector>();
export function selectorOf(text: string): Selector {
  let s = selectorCache.get(text);
  if (s === undefined) {
    try {
      s = parseSelector(text);
    } catch (err) {
      throw new BadValue(`bad selector ${JSON.stringify(text)}: ${(err as Error).message}`);
    }
    if (selectorCache.size > 50_000) selectorCache.clear();
    selectorCache.set(text, s);
  }
  return s;
}

export function parseRule(raw: JsonValue): ModelRule {
  const o = obj(raw);
  const action = str(o, 'action');
  if (action === undefined || !ACTIONS.includes(action)) throw new BadValue(`bad action ${String(action)}`);
  const r: Record<string, unknown> = { action };
  const ipVersion = num(o, 'ipVersion');
  if (ipVersion !== undefined) {
    if (ipVersion !== 4 && ipVersion !== 6) throw new BadValue('bad ipVersion');
    r['ipVersion'] = ipVersion;
  }
  for (const k of ['protocol', 'notProtocol']) if (o[k] != null) r[k] = protocolOf(o, k);
  for (const k of ['icmpType', 'icmpCode', 'notIcmpType', 'notIcmpCode']) if (o[k] != null) r[k] = num(o, k);
  for (const side of ['src', 'dst', 'notSrc', 'notDst']) {
    const nets = strList(o, `${side}Nets`);
    if (nets.length > 0) r[`${side}Nets`] = nets;
    const sel = str(o, `${side}Selector`);
    if (sel !== undefined && sel !== '') {
      selectorOf(sel); // validate now: a rule that cannot be evaluated invalidates its owner
      r[`${side}Selector`] = sel;
    }
    const ports = portList(o, `${side}Ports`);
    if (ports !== undefined && ports.length > 0) r[`${side}Ports`] = ports;
  }
  for (const k of ['srcService', 'dstService', 'srcServiceNamespace', 'dstServiceNamespace'])
    if (o[k] != null) r[k] = str(o, k);
  if (o['httpMatch'] != null) r['httpMatch'] = o['httpMatch'];
  return r as unknown as ModelRule;
}

function rules(o: Obj, k: string): ModelRule[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new BadValue(`${k}: not a list`);
  return v.map(parseRule);
}

/** Decoded path segments after `/calico/v1/`. */
const segments = (key: string): string[] => key.split('/').slice(3).map(decodeURIComponent);

export function parseTier(key: string, raw: JsonValue): TierValue {
  const o = obj(raw);
  const action = (str(o, 'defaultAction') ?? 'Deny').toLowerCase();
  if (action !== 'deny' && action !== 'pass') throw new BadValue('bad defaultAction');
  return { name: segments(key)[2]!, order: num(o, 'order'), defaultAction: action };
}

export function parsePolicy(key: string, raw: JsonValue): PolicyValue {
  const o = obj(raw);
  const seg = segments(key); // policy, <Kind>, [ns], name
  const namespaced = seg.length === 4;
  const types = strList(o, 'types').map((t) => t.toLowerCase());
  const both = types.length === 0; // Felix: no types in the model means both directions
  return {
    id: key,
    kind: seg[1]!,
    namespace: namespaced ? seg[2]! : '',
    name: seg[seg.length - 1]!,
    tier: str(o, 'tier') || 'default',
    order: num(o, 'order') ?? Number.POSITIVE_INFINITY,
    selector: selectorOf(str(o, 'selector') ?? ''),
    ingress: both || types.includes('ingress'),
    egress: both || types.includes('egress'),
    inbound: rules(o, 'inboundRules'),
    outbound: rules(o, 'outboundRules'),
    doNotTrack: o['doNotTrack'] === true,
    preDNAT: o['preDNAT'] === true,
    applyOnForward: o['applyOnForward'] === true,
  };
}

export function parseProfile(key: string, raw: JsonValue): ProfileValue {
  const o = obj(raw);
  return {
    name: segments(key)[2]!,
    labels: labelMap(o, 'labels'),
    inbound: rules(o, 'inboundRules'),
    outbound: rules(o, 'outboundRules'),
  };
}

function namedPorts(o: Obj): NamedPort[] {
  const v = o['ports'];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new BadValue('ports: not a list');
  return v.map((p) => {
    const po = obj(p);
    const name = str(po, 'name');
    const port = num(po, 'port');
    if (name === undefined || port === undefined) throw new BadValue('ports: name and port required');
    return { name, protocol: String(protocolOf(po, 'protocol') ?? 'tcp'), port };
  });
}

const asHostNet = (ip: string): string => (ip.includes('/') ? ip : `${ip}/${ip.includes(':') ? 128 : 32}`);

export function parseEndpoint(key: string, raw: JsonValue): EndpointValue {
  const o = obj(raw);
  const seg = segments(key); // host, <node>, workload|endpoint, ...
  const kind = keyKind(key) === 'workloadEndpoint' ? 'workload' : 'host';
  const nets =
    kind === 'workload'
      ? [...strList(o, 'ipv4Nets'), ...strList(o, 'ipv6Nets')]
      : [...strList(o, 'expectedIPv4Addrs'), ...strList(o, 'expectedIPv6Addrs')].map(asHostNet);
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
  const o = obj(raw);
  return {
    id: key,
    nets: strList(o, 'nets'),
    labels: labelMap(o, 'labels'),
    profileIds: strList(o, 'profileIds'),
  };
}
