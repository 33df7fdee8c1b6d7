// BGPFilter passes to agents as a v3 resource (Calico's bgp syncer sends it unconverted to
// confd), checked first as Calico's API does (api/v3 bgpfilter.go, validator/v3): each rule
// needs an action; a CIDR and a match operator come together, in the rule list's family;
// prefixLength narrows an In/NotIn CIDR match to a non-empty length range; interfaces must
// be safe inside a quoted BIRD string.
// AS numbers become numbers, as in BGPPeer.

import { parseCidr } from '../../model/net/cidr.js';
import type { JsonValue, KV } from '../../model/types.js';
import { modelKV } from '../../model/values/kv.js';
import type { KubeObject } from '../kube/object.js';
import { isCommunity, specCopy, v3 } from './bgp.js';
import { Invalid } from './errors.js';
import { type Fields, fields, list, optInt, optString, show, stringList } from './fields.js';
import { parseAsn } from './node.js';

const ACTIONS = ['Accept', 'Reject'];
const OPERATORS = ['Equal', 'NotEqual', 'In', 'NotIn'];
/** Interface patterns are written into a quoted BIRD string: nothing that could end it. */
const INTERFACE = /^[A-Za-z0-9_.*?@:+-]+$/;
/** Priorities are carried as BIRD local_pref = 2^31-1 - priority (Calico's BirdIntMaxValue). */
const PRIORITY_MAX = 2147483646;

function checkRule(r: Fields, where: string, version: 4 | 6): Record<string, JsonValue> {
  const action = optString(r, 'action', where);
  if (action === undefined || !ACTIONS.includes(action))
    throw new Invalid(`${where}.action: expected Accept or Reject, got ${show(r['action'])}`);
  const cidr = optString(r, 'cidr', where) ?? '';
  const operator = optString(r, 'matchOperator', where) ?? '';
  if ((cidr === '') !== (operator === ''))
    throw new Invalid(`${where}: cidr and matchOperator must be set together`);
  if (operator !== '' && !OPERATORS.includes(operator))
    throw new Invalid(`${where}.matchOperator: expected Equal, NotEqual, In or NotIn, got ${show(operator)}`);
  const net = cidr === '' ? undefined : parseCidr(cidr);
  if (cidr !== '' && (net === undefined || net.version !== version))
    throw new Invalid(`${where}.cidr: invalid IPv${version} CIDR ${show(cidr)}`);
  if (r['prefixLength'] != null) {
    if (net === undefined) throw new Invalid(`${where}.prefixLength: needs a cidr`);
    const p = fields(r['prefixLength'], `${where}.prefixLength`);
    const bits = version === 4 ? 32 : 128;
    const min = optInt(p, 'min', `${where}.prefixLength`, 0, bits);
    const max = optInt(p, 'max', `${where}.prefixLength`, 0, bits);
    // BIRD needs a non-empty {min,max} range at or below the CIDR's own length, and a
    // prefix set only makes sense with In/NotIn: a config BIRD would refuse is refused here.
    if (Math.max(min ?? 0, net.prefix) > (max ?? bits))
      throw new Invalid(
        `${where}.prefixLength: no prefix length from ${Math.max(min ?? 0, net.prefix)} to ${max ?? bits}`,
      );
    if (operator !== 'In' && operator !== 'NotIn')
      throw new Invalid(`${where}.prefixLength: needs matchOperator In or NotIn`);
  }
  const source = optString(r, 'source', where);
  if (source !== undefined && source !== 'RemotePeers')
    throw new Invalid(`${where}.source: expected RemotePeers, got ${show(source)}`);
  const iface = optString(r, 'interface', where);
  if (iface !== undefined && !INTERFACE.test(iface))
    throw new Invalid(`${where}.interface: invalid interface pattern ${show(iface)}`);
  const peerType = optString(r, 'peerType', where);
  if (peerType !== undefined && peerType !== 'eBGP' && peerType !== 'iBGP')
    throw new Invalid(`${where}.peerType: expected eBGP or iBGP, got ${show(peerType)}`);
  const communities = fields(r['communities'], `${where}.communities`);
  for (const c of stringList(communities, 'values', `${where}.communities`))
    if (!isCommunity(c)) throw new Invalid(`${where}.communities.values: invalid community ${show(c)}`);
  optInt(r, 'priority', where, 1, PRIORITY_MAX);
  const out = specCopy(r, []);
  if (r['asPathPrefix'] != null)
    out['asPathPrefix'] = list(r, 'asPathPrefix', where).map((a, i) =>
      parseAsn(a, `${where}.asPathPrefix[${i}]`),
    );
  out['operations'] = list(r, 'operations', where).map((o, i) =>
    checkOperation(fields(o, `${where}.operations[${i}]`), `${where}.operations[${i}]`),
  );
  return out;
}

function checkOperation(o: Fields, where: string): JsonValue {
  const kinds = Object.keys(o).filter((k) => o[k] != null);
  if (kinds.length !== 1) throw new Invalid(`${where}: expected exactly one operation, got ${show(kinds)}`);
  const kind = kinds[0]!;
  const f = fields(o[kind], `${where}.${kind}`);
  switch (kind) {
    case 'addCommunity': {
      const value = optString(f, 'value', `${where}.${kind}`) ?? '';
      if (!isCommunity(value))
        throw new Invalid(`${where}.addCommunity.value: invalid community ${show(value)}`);
      return { addCommunity: { value } };
    }
    case 'prependASPath':
      return {
        prependASPath: {
          prefix: list(f, 'prefix', `${where}.${kind}`).map((a, i) =>
            parseAsn(a, `${where}.prependASPath.prefix[${i}]`),
          ),
        },
      };
    case 'setPriority': {
      const value = optInt(f, 'value', `${where}.${kind}`, 1, PRIORITY_MAX);
      if (value === undefined) throw new Invalid(`${where}.setPriority.value: required`);
      return { setPriority: { value } };
    }
    default:
      throw new Invalid(`${where}: unknown operation ${show(kind)}`);
  }
}

/** A DNS-1123 subdomain, as the API server requires: the name goes into BIRD symbols and comments. */
const FILTER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function convertBgpFilter(obj: KubeObject): KV[] {
  const name = obj.metadata.name;
  if (name.length > 253 || !FILTER_NAME.test(name))
    throw new Invalid(`metadata.name ${JSON.stringify(name)} is not a DNS-1123 subdomain`);
  const spec = fields(obj.spec, 'spec');
  const out: Record<string, JsonValue> = {};
  for (const [key, version] of [
    ['exportV4', 4],
    ['importV4', 4],
    ['exportV6', 6],
    ['importV6', 6],
  ] as const) {
    const rules = list(spec, key, 'spec').map((r, i) =>
      checkRule(fields(r, `spec.${key}[${i}]`), `spec.${key}[${i}]`, version),
    );
    if (rules.length > 0) out[key] = rules;
  }
  return [modelKV('bgpFilter', [obj.metadata.name], v3('BGPFilter', obj, out))];
}
