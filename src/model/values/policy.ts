// Policy values: tiers, policies, profiles and their rules, in two forms. The `…Kv` types are
// what src/datastore/convert stores (field names after libcalico-go's backend model); the
// `…Value` types are what a reader gets from the parse functions, which check untrusted input.

import { parseSelector, type Selector } from '../selector/index.js';
import type { JsonValue } from '../types.js';
import { BadValue, labelMap, num, protocolOf, segments, str, strList, type Wire, wire } from './read.js';

export type RuleAction = 'allow' | 'deny' | 'log' | 'next-tier';
/** A port number, a "lo:hi" range or a named port. */
export type ModelPort = number | string;

type Side = 'src' | 'dst';
type NotSide = 'notSrc' | 'notDst';
type OrigSide = 'Src' | 'Dst';

export type HttpPathKv = { readonly exact: string } | { readonly prefix: string };

/** One stored rule (libcalico-go model.Rule); selectors already namespaced by the converter. */
export type RuleKv = {
  readonly action: RuleAction;
  readonly ipVersion?: 4 | 6;
  readonly protocol?: string | number;
  readonly notProtocol?: string | number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  readonly notIcmpType?: number;
  readonly notIcmpCode?: number;
  readonly httpMatch?: { readonly methods: readonly string[]; readonly paths: readonly HttpPathKv[] };
  readonly metadata?: { readonly annotations: Readonly<Record<string, string>> };
} & { readonly [K in `${Side | NotSide}Nets`]?: readonly string[] } & {
  readonly [K in `${Side | NotSide}Selector`]?: string;
} & { readonly [K in `${Side | NotSide}Ports`]?: readonly ModelPort[] } & {
  readonly [K in `${Side}Service` | `${Side}ServiceNamespace`]?: string;
} & {
  /** The v3 selectors the model selectors were built from (kept for display, as Calico does). */
  readonly [K in
    | `original${OrigSide}Selector`
    | `original${OrigSide}NamespaceSelector`
    | `originalNot${OrigSide}Selector`
    | `original${OrigSide}ServiceAccountSelector`]?: string;
} & { readonly [K in `original${OrigSide}ServiceAccountNames`]?: readonly string[] };

export interface TierKv {
  readonly order?: number;
  readonly defaultAction: 'Deny' | 'Pass';
}

export interface PolicyKv {
  readonly namespace?: string;
  readonly tier: string;
  readonly order?: number;
  readonly selector: string;
  readonly inboundRules: readonly RuleKv[];
  readonly outboundRules: readonly RuleKv[];
  readonly types: readonly ('ingress' | 'egress')[];
  readonly applyOnForward: boolean;
  readonly doNotTrack?: true;
  readonly preDNAT?: true;
  readonly performanceHints?: readonly string[];
}

export interface ProfileKv {
  readonly labels: Readonly<Record<string, string>>;
  readonly inboundRules: readonly RuleKv[];
  readonly outboundRules: readonly RuleKv[];
}

/** A rule as policy calculation reads it: the stored rule less its display-only fields. */
export type ModelRule = Omit<
  RuleKv,
  | `original${OrigSide}Selector`
  | `original${OrigSide}NamespaceSelector`
  | `originalNot${OrigSide}Selector`
  | `original${OrigSide}ServiceAccountSelector`
  | `original${OrigSide}ServiceAccountNames`
  | 'metadata'
  | 'httpMatch'
> & {
  /** Carried as stored; no dataplane here enforces it. */
  readonly httpMatch?: JsonValue;
};

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

function portList(o: Wire<RuleKv>, k: keyof RuleKv & string): ModelPort[] | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' || typeof x === 'number'))
    throw new BadValue(`${k}: bad ports`);
  return v as ModelPort[];
}

const ACTIONS: readonly string[] = ['allow', 'deny', 'log', 'next-tier'] satisfies RuleAction[];

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

const SIDES = ['src', 'dst', 'notSrc', 'notDst'] as const;
const PROTOCOLS = ['protocol', 'notProtocol'] as const;
const ICMP = ['icmpType', 'icmpCode', 'notIcmpType', 'notIcmpCode'] as const;
const SERVICES = ['srcService', 'dstService', 'srcServiceNamespace', 'dstServiceNamespace'] as const;

export function parseRule(raw: JsonValue): ModelRule {
  const o = wire<RuleKv>(raw);
  const action = str(o, 'action');
  if (action === undefined || !ACTIONS.includes(action)) throw new BadValue(`bad action ${String(action)}`);
  const r: Record<string, unknown> = { action };
  const ipVersion = num(o, 'ipVersion');
  if (ipVersion !== undefined) {
    if (ipVersion !== 4 && ipVersion !== 6) throw new BadValue('bad ipVersion');
    r['ipVersion'] = ipVersion;
  }
  for (const k of PROTOCOLS) if (o[k] != null) r[k] = protocolOf(o, k);
  for (const k of ICMP) if (o[k] != null) r[k] = num(o, k);
  for (const side of SIDES) {
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
  for (const k of SERVICES) if (o[k] != null) r[k] = str(o, k);
  if (o.httpMatch != null) r['httpMatch'] = o.httpMatch;
  return r as ModelRule;
}

function rules<T>(o: Wire<T>, k: keyof T & string): ModelRule[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new BadValue(`${k}: not a list`);
  return v.map(parseRule);
}

export function parseTier(key: string, raw: JsonValue): TierValue {
  const o = wire<TierKv>(raw);
  const action = (str(o, 'defaultAction') ?? 'Deny').toLowerCase();
  if (action !== 'deny' && action !== 'pass') throw new BadValue('bad defaultAction');
  return { name: segments(key)[2]!, order: num(o, 'order'), defaultAction: action };
}

export function parsePolicy(key: string, raw: JsonValue): PolicyValue {
  const o = wire<PolicyKv>(raw);
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
    doNotTrack: o.doNotTrack === true,
    preDNAT: o.preDNAT === true,
    applyOnForward: o.applyOnForward === true,
  };
}

export function parseProfile(key: string, raw: JsonValue): ProfileValue {
  const o = wire<ProfileKv>(raw);
  return {
    name: segments(key)[2]!,
    labels: labelMap(o, 'labels'),
    inbound: rules(o, 'inboundRules'),
    outbound: rules(o, 'outboundRules'),
  };
}
