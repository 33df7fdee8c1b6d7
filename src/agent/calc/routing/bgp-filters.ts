// BGPFilter resources → the typed filters of this node's sessions, after confd's
// BGPFilterBIRDFuncs and the per-peer filter calls in bird.cfg.template: a BGPPeer's
// `filters` apply in order, import filters before the import preference, export filters
// between the route-priority normalisation and calico_export_to_bgp_peers. A name with no
// BGPFilter is skipped (as confd does; lint reports it), as is a direction with no IPv4 rules.
// Rules: first match wins; a route no rule matches falls through to the rest of the filter.

import { formatCidr, parseNet } from '../../../model/net/cidr.js';
import type { JsonValue } from '../../../model/types.js';
import { isObj, num, type Spec, str } from './bgp-config.js';
import type {
  BgpFilterModel,
  BgpFilterOperation,
  BgpFilterRule,
  BgpPeerModel,
  BgpWarning,
} from './bgp-types.js';
import type { V3Resource } from './state.js';

const OPERATORS = new Set(['Equal', 'NotEqual', 'In', 'NotIn']);
const COMMUNITY = /^\d+:\d+(:\d+)?$/;
const INTERFACE = /^[A-Za-z0-9_.*?@:+-]+$/;

const numbers = (v: JsonValue | undefined): number[] | undefined =>
  Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined;

function parseOperation(o: JsonValue): BgpFilterOperation | undefined {
  if (!isObj(o)) return undefined;
  const add = isObj(o['addCommunity']) ? str(o['addCommunity']['value']) : undefined;
  if (add !== undefined) return COMMUNITY.test(add) ? { kind: 'addCommunity', value: add } : undefined;
  const prefix = isObj(o['prependASPath']) ? numbers(o['prependASPath']['prefix']) : undefined;
  if (prefix !== undefined) return { kind: 'prependASPath', prefix };
  const prio = isObj(o['setPriority']) ? num(o['setPriority']['value']) : undefined;
  return prio !== undefined ? { kind: 'setPriority', value: prio } : undefined;
}

/** One IPv4 rule as the converter checked it; undefined if anything is off. */
function parseRule(r: JsonValue): BgpFilterRule | undefined {
  if (!isObj(r)) return undefined;
  const action = r['action'] === 'Accept' ? 'accept' : r['action'] === 'Reject' ? 'reject' : undefined;
  if (action === undefined) return undefined;
  const rule: { -readonly [K in keyof BgpFilterRule]: BgpFilterRule[K] } = {
    action,
    communities: [],
    asPathPrefix: [],
    operations: [],
  };
  const cidr = str(r['cidr']);
  if (cidr !== undefined) {
    const net = parseNet(cidr);
    const op = str(r['matchOperator']);
    if (net === undefined || net.version !== 4 || op === undefined || !OPERATORS.has(op)) return undefined;
    rule.cidr = formatCidr(net);
    rule.operator = op as BgpFilterRule['operator'];
    if (isObj(r['prefixLength'])) {
      const min = Math.max(net.prefix, num(r['prefixLength']['min']) ?? 0);
      const max = Math.min(32, num(r['prefixLength']['max']) ?? 32);
      if (min > max || (op !== 'In' && op !== 'NotIn')) return undefined;
      rule.prefixLength = [min, max];
    }
  }
  if (r['source'] != null) {
    if (r['source'] !== 'RemotePeers') return undefined;
    rule.source = 'RemotePeers';
  }
  const iface = str(r['interface']);
  if (iface !== undefined) {
    if (!INTERFACE.test(iface)) return undefined;
    rule.interface = iface;
  }
  const peerType = str(r['peerType']);
  if (peerType !== undefined) {
    if (peerType !== 'eBGP' && peerType !== 'iBGP') return undefined;
    rule.peerType = peerType;
  }
  const values = isObj(r['communities']) ? r['communities']['values'] : undefined;
  if (values != null) {
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'string' && COMMUNITY.test(v)))
      return undefined;
    rule.communities = values as string[];
  }
  if (r['asPathPrefix'] != null) {
    const path = numbers(r['asPathPrefix']);
    if (path === undefined) return undefined;
    rule.asPathPrefix = path;
  }
  rule.priority = num(r['priority']);
  const ops = Array.isArray(r['operations']) ? r['operations'].map(parseOperation) : [];
  if (ops.some((o) => o === undefined)) return undefined;
  rule.operations = ops as BgpFilterOperation[];
  return rule;
}

/** The IPv4 import and export rules of a BGPFilter; undefined if a rule does not parse. */
export function parseBgpFilter(f: V3Resource): BgpFilterModel | undefined {
  const rules = (spec: Spec, key: string): BgpFilterRule[] | undefined => {
    const list = spec[key];
    const out = (Array.isArray(list) ? list : []).map(parseRule);
    return out.some((r) => r === undefined) ? undefined : (out as BgpFilterRule[]);
  };
  const imports = rules(f.spec, 'importV4');
  const exports = rules(f.spec, 'exportV4');
  if (imports === undefined || exports === undefined) return undefined;
  return { name: f.name, import: imports, export: exports };
}

/** BGPPeer.filters: the names, in order. */
export function filterNames(spec: Spec): string[] {
  const v = spec['filters'];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : [];
}

/**
 * The sessions with their filters resolved (importFilters/exportFilters: names of filters
 * with rules in that direction) and the filters they use, sorted by name.
 */
export function applyFilters(
  peers: readonly BgpPeerModel[],
  filters: ReadonlyMap<string, V3Resource>,
  warnings: BgpWarning[],
): { peers: BgpPeerModel[]; filters: BgpFilterModel[] } {
  const parsed = new Map<string, BgpFilterModel | undefined>();
  const lookup = (name: string, peer: BgpPeerModel): BgpFilterModel | undefined => {
    if (parsed.has(name)) return parsed.get(name);
    const raw = filters.get(name);
    const model = raw === undefined ? undefined : parseBgpFilter(raw);
    const resource = `BGPPeer/${peer.sources.join(',')}`;
    if (raw === undefined)
      warnings.push({
        code: 'bgp-filter-missing',
        resource,
        message: `BGPFilter ${JSON.stringify(name)} does not exist: the session runs without it`,
      });
    else if (model === undefined)
      warnings.push({
        code: 'bgp-filter-invalid',
        resource: `BGPFilter/${name}`,
        message: `BGPFilter ${JSON.stringify(name)} has a rule this agent cannot read: not applied`,
      });
    parsed.set(name, model);
    return model;
  };
  const used = new Map<string, BgpFilterModel>();
  const out = peers.map((p) => {
    if (p.filterNames === undefined || p.filterNames.length === 0) return p;
    const found = p.filterNames.flatMap((n) => lookup(n, p) ?? []);
    for (const f of found) if (f.import.length + f.export.length > 0) used.set(f.name, f);
    return {
      ...p,
      importFilters: found.filter((f) => f.import.length > 0).map((f) => f.name),
      exportFilters: found.filter((f) => f.export.length > 0).map((f) => f.name),
    };
  });
  return { peers: out, filters: [...used.values()].sort((a, b) => (a.name < b.name ? -1 : 1)) };
}
