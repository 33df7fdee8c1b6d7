// Reading v3 BGPConfiguration/BGPPeer specs as confd does: the `default` configuration holds
// the cluster-wide fields, `node.<name>` may override only prefixAdvertisements, listenPort
// and logSeverityScreen (confd client.go updateBGPConfigCache). Durations are Go/metav1
// duration strings; a value that does not parse is ignored with a warning, never thrown.

import type { JsonValue } from '../../../model/types.js';
import type { BgpWarning, CommunityAdvertisement, SecretRef } from './bgp-types.js';
import type { V3Resource } from './state.js';

export type Spec = { readonly [k: string]: JsonValue };

export const isObj = (v: JsonValue | undefined): v is Spec =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
export const str = (v: JsonValue | undefined): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined;
export const num = (v: JsonValue | undefined): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/** A Go duration ("90s", "1m30s", "2h") in whole seconds, rounded as confd rounds; else undefined. */
export function durationSeconds(v: JsonValue | undefined): number | undefined {
  if (typeof v === 'number') return Math.round(v);
  if (typeof v !== 'string' || v === '') return undefined;
  if (v === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(v); m !== null; m = re.exec(v)) {
    total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
    matched = re.lastIndex;
  }
  return matched === v.length ? Math.round(total) : undefined;
}

/** `{secretKeyRef: {name, key}}` → SecretRef. */
export function secretRef(v: JsonValue | undefined): SecretRef | undefined {
  const ref = isObj(v) ? v['secretKeyRef'] : undefined;
  if (!isObj(ref)) return undefined;
  const name = str(ref['name']);
  const key = str(ref['key']);
  return name !== undefined && key !== undefined ? { name, key } : undefined;
}

const STANDARD = /^(\d+):(\d+)$/;
const LARGE = /^(\d+):(\d+):(\d+)$/;

/**
 * prefixAdvertisements with community names resolved against the same resource's
 * `communities` (as confd does); an unknown name is dropped and reported.
 */
export function communityAdvertisements(
  config: V3Resource,
  warnings: BgpWarning[],
): CommunityAdvertisement[] {
  const defined = new Map<string, string>();
  const communities = config.spec['communities'];
  for (const c of Array.isArray(communities) ? communities : [])
    if (isObj(c) && str(c['name']) && str(c['value'])) defined.set(c['name'] as string, c['value'] as string);
  const out: CommunityAdvertisement[] = [];
  const ads = config.spec['prefixAdvertisements'];
  for (const ad of Array.isArray(ads) ? ads : []) {
    const cidr = isObj(ad) ? str(ad['cidr']) : undefined;
    if (!isObj(ad) || cidr === undefined || cidr.includes(':')) continue;
    const values = new Set<string>();
    const names = ad['communities'];
    for (const c of Array.isArray(names) ? names : []) {
      if (typeof c !== 'string') continue;
      const value = STANDARD.test(c) || LARGE.test(c) ? c : defined.get(c);
      if (value === undefined)
        warnings.push({
          code: 'community-undefined',
          resource: `BGPConfiguration/${config.name}`,
          message: `prefixAdvertisements ${cidr}: community ${JSON.stringify(c)} is not defined; not applied`,
        });
      else values.add(value);
    }
    const standard: [number, number][] = [];
    const large: [number, number, number][] = [];
    for (const v of [...values].sort()) {
      const s = STANDARD.exec(v);
      const l = LARGE.exec(v);
      if (s) standard.push([Number(s[1]), Number(s[2])]);
      else if (l) large.push([Number(l[1]), Number(l[2]), Number(l[3])]);
    }
    if (standard.length + large.length > 0) out.push({ cidr, standard, large });
  }
  return out;
}

/** The CIDRs of a `[{cidr}]` list field (IPv4 only: this renderer drives an IPv4 BIRD). */
export function cidrList(spec: Spec | undefined, field: string): string[] {
  const list = spec?.[field];
  const out: string[] = [];
  for (const e of Array.isArray(list) ? list : []) {
    const cidr = isObj(e) ? str(e['cidr']) : undefined;
    if (cidr !== undefined && !cidr.includes(':')) out.push(cidr);
  }
  return out;
}

/** The `default` and `node.<name>` configurations (either may be absent). */
export function configsFor(
  configs: ReadonlyMap<string, V3Resource>,
  node: string,
): { global?: V3Resource; perNode?: V3Resource } {
  return { global: configs.get('default'), perNode: configs.get(`node.${node}`) };
}
