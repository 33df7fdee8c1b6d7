// BGPConfiguration and BGPPeer pass to agents as v3 resources (Calico's felix and bgp
// syncers send them unconverted); they are checked first as api/v3 bgpconfig.go, bgppeer.go
// (CEL rules) and validator/v3 validateBGPConfigurationSpec do. AS numbers become numbers.

import { parseCidr } from '../../model/net/cidr.js';
import { parseIp } from '../../model/net/ip.js';
import type { JsonValue, KV } from '../../model/types.js';
import { modelKV } from '../../model/values/kv.js';
import type { BgpResourceKv } from '../../model/values/routing.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid } from './errors.js';
import { type Fields, fields, jsonCopy, list, optInt, optString, show, stringList } from './fields.js';
import { parseAsn } from './node.js';
import { checkSelector } from './selectors.js';

/** The stored form of a BGP resource: the v3 object with its spec as checked. */
export function v3(
  kind: BgpResourceKv['kind'],
  obj: KubeObject,
  spec: Record<string, JsonValue>,
): BgpResourceKv {
  const labels = obj.metadata.labels;
  const metadata =
    labels && Object.keys(labels).length > 0
      ? { name: obj.metadata.name, labels: { ...labels } }
      : { name: obj.metadata.name };
  return { kind, apiVersion: 'projectcalico.org/v3', metadata, spec };
}

/** A copy of the spec with asNumber-like fields as numbers. */
export function specCopy(spec: Fields, asnFields: readonly string[]): Record<string, JsonValue> {
  const out = jsonCopy(spec, 'spec') as Record<string, JsonValue>;
  for (const f of asnFields) if (spec[f] != null) out[f] = parseAsn(spec[f], `spec.${f}`);
  return out;
}

/** "a:b" (16-bit parts) or "a:b:c" (32-bit parts, large community). */
export function isCommunity(v: string): boolean {
  const parts = v.split(':');
  if (parts.length !== 2 && parts.length !== 3) return false;
  const max = parts.length === 2 ? 0xffff : 0xffff_ffff;
  return parts.every((p) => /^\d+$/.test(p) && Number(p) <= max);
}

/** An entry without a CIDR (`- {}`) is ignored, as Calico does; a CIDR must parse. */
function cidrList(spec: Fields, key: string): void {
  list(spec, key, 'spec').forEach((e, i) => {
    const cidr = optString(fields(e, `spec.${key}[${i}]`), 'cidr', `spec.${key}[${i}]`) ?? '';
    if (cidr !== '' && parseCidr(cidr, { bare: true }) === undefined)
      throw new Invalid(`spec.${key}[${i}].cidr: invalid CIDR ${show(cidr)}`);
  });
}

export function convertBgpConfiguration(obj: KubeObject): KV[] {
  const spec = fields(obj.spec, 'spec');
  for (const key of ['serviceClusterIPs', 'serviceExternalIPs', 'serviceLoadBalancerIPs'])
    cidrList(spec, key);
  optInt(spec, 'listenPort', 'spec', 1, 65535);
  const defined = new Set<string>();
  list(spec, 'communities', 'spec').forEach((c, i) => {
    const f = fields(c, `spec.communities[${i}]`);
    const value = optString(f, 'value', `spec.communities[${i}]`) ?? '';
    if (!isCommunity(value))
      throw new Invalid(`spec.communities[${i}].value: invalid community ${show(value)}`);
    defined.add(optString(f, 'name', `spec.communities[${i}]`) ?? '');
  });
  list(spec, 'prefixAdvertisements', 'spec').forEach((p, i) => {
    const where = `spec.prefixAdvertisements[${i}]`;
    const f = fields(p, where);
    const cidr = optString(f, 'cidr', where) ?? '';
    if (parseCidr(cidr, { bare: true }) === undefined)
      throw new Invalid(`${where}.cidr: invalid CIDR ${show(cidr)}`);
    for (const c of stringList(f, 'communities', where))
      if (!isCommunity(c) && !defined.has(c))
        throw new Invalid(`${where}.communities: ${show(c)} is not defined`);
  });
  const nodeSelector = optString(spec, 'nodeSelector', 'spec');
  if (nodeSelector) checkSelector(nodeSelector, 'spec.nodeSelector');
  const value = v3('BGPConfiguration', obj, specCopy(spec, ['asNumber']));
  return [modelKV('bgpConfiguration', [obj.metadata.name], value)];
}

/** "ip", "ip:port" or "[v6]:port". */
function checkPeerIp(s: string): void {
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  const v4port = /^([\d.]+):(\d+)$/.exec(s);
  const [ip, port] = bracket ? [bracket[1]!, bracket[2]] : v4port ? [v4port[1]!, v4port[2]] : [s, undefined];
  if (parseIp(ip) === undefined || (port !== undefined && (Number(port) < 1 || Number(port) > 65535)))
    throw new Invalid(`spec.peerIP: invalid IP[:port] ${show(s)}`);
}

export function convertBgpPeer(obj: KubeObject): KV[] {
  const spec = fields(obj.spec, 'spec');
  const get = (k: string) => optString(spec, k, 'spec') ?? '';
  const [node, nodeSelector, peerIP, peerSelector, workloads] = [
    get('node'),
    get('nodeSelector'),
    get('peerIP'),
    get('peerSelector'),
    get('localWorkloadSelector'),
  ];
  for (const [text, field] of [
    [nodeSelector, 'nodeSelector'],
    [peerSelector, 'peerSelector'],
    [workloads, 'localWorkloadSelector'],
  ] as const) {
    if (text !== '') checkSelector(text, `spec.${field}`);
  }
  const asn = spec['asNumber'] == null ? 0 : parseAsn(spec['asNumber'], 'spec.asNumber');
  stringList(spec, 'filters', 'spec'); // BGPFilter names, applied in order
  if (spec['localASNumber'] != null) parseAsn(spec['localASNumber'], 'spec.localASNumber');
  if (peerIP !== '') checkPeerIp(peerIP);
  if (node !== '' && nodeSelector !== '') throw new Invalid('spec: node and nodeSelector cannot both be set');
  if (peerIP !== '' && peerSelector !== '')
    throw new Invalid('spec: peerIP and peerSelector cannot both be set');
  if (peerSelector !== '' && asn !== 0)
    throw new Invalid('spec.asNumber: must be empty when peerSelector is set');
  if (workloads !== '' && (peerIP !== '' || peerSelector !== '' || asn === 0))
    throw new Invalid('spec: localWorkloadSelector needs asNumber and excludes peerIP and peerSelector');
  const reachableBy = get('reachableBy');
  if (reachableBy !== '' && (peerIP === '' || parseIp(reachableBy) === undefined))
    throw new Invalid(`spec.reachableBy: invalid or without peerIP ${show(reachableBy)}`);
  const value = v3('BGPPeer', obj, specCopy(spec, ['asNumber', 'localASNumber']));
  return [modelKV('bgpPeer', [obj.metadata.name], value)];
}
