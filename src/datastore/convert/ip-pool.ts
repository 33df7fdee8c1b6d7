// IPPool and IPReservation. Pools go to the v1 pool key with the v3 spec's field names
// (Calico: k8s/resources/ippool.go IPPoolV3ToV1), checked as api/v3 ippool.go's CEL rules
// and validator/v3 validateIPPoolSpec do; reservations pass through as v3 resources.

import { cidrsOverlap, formatCidr, isMasked, parseCidr } from '../../model/net/cidr.js';
import type { KV } from '../../model/types.js';
import { modelKV } from '../../model/values/kv.js';
import type { EncapMode, IpPoolKv, IpReservationKv } from '../../model/values/routing.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid } from './errors.js';
import { fields, optBool, optInt, optString, reqString, show, stringList } from './fields.js';
import { cidrOf } from './net.js';
import { checkSelector } from './selectors.js';

const MODES: readonly EncapMode[] = ['Never', 'Always', 'CrossSubnet'];
const USES = ['Workload', 'Tunnel', 'LoadBalancer'];

const isMode = (v: string): v is EncapMode => (MODES as readonly string[]).includes(v);

function mode(v: string | undefined, field: string): EncapMode {
  if (v === undefined || v === '') return 'Never';
  if (!isMode(v)) throw new Invalid(`spec.${field}: expected Never, Always or CrossSubnet, got ${show(v)}`);
  return v;
}

const LINK_LOCAL = [parseCidr('169.254.0.0/16')!, parseCidr('fe80::/10')!];

export function convertIpPool(obj: KubeObject): KV[] {
  const spec = fields(obj.spec, 'spec');
  const cidr = cidrOf(reqString(spec, 'cidr', 'spec'), 'spec.cidr');
  if (!isMasked(cidr))
    throw new Invalid(`spec.cidr: IPPool CIDR must be strictly masked, got ${formatCidr(cidr)}`);
  if (LINK_LOCAL.some((l) => cidrsOverlap(l, cidr)))
    throw new Invalid(`spec.cidr: ${formatCidr(cidr)} overlaps the link-local range`);
  const v4 = cidr.version === 4;
  const blockSize = optInt(spec, 'blockSize', 'spec', 0, 128) || (v4 ? 26 : 122);
  if (v4 ? blockSize < 20 || blockSize > 32 : blockSize < 116 || blockSize > 128)
    throw new Invalid(
      `spec.blockSize: must be between ${v4 ? '20 and 32' : '116 and 128'}, got ${blockSize}`,
    );
  const disabled = optBool(spec, 'disabled', 'spec') ?? false;
  if (!disabled && cidr.prefix > blockSize)
    throw new Invalid(`spec.cidr: pool /${cidr.prefix} is smaller than its blocks (/${blockSize})`);
  const ipipMode = mode(optString(spec, 'ipipMode', 'spec'), 'ipipMode');
  const vxlanMode = mode(optString(spec, 'vxlanMode', 'spec'), 'vxlanMode');
  if (ipipMode !== 'Never' && vxlanMode !== 'Never')
    throw new Invalid('spec: ipipMode and vxlanMode cannot both be enabled');
  if (!v4 && ipipMode !== 'Never') throw new Invalid('spec.ipipMode: IPIP is not supported on IPv6 pools');
  const nodeSelector = optString(spec, 'nodeSelector', 'spec') || 'all()';
  const namespaceSelector = optString(spec, 'namespaceSelector', 'spec') ?? '';
  for (const [text, what] of [
    [nodeSelector, 'spec.nodeSelector'],
    [namespaceSelector, 'spec.namespaceSelector'],
  ] as const) {
    if (text !== '' && checkSelector(text, what).usesGlobal())
      throw new Invalid(`${what}: global() is not valid here`);
  }
  let allowedUses = stringList(spec, 'allowedUses', 'spec');
  for (const u of allowedUses)
    if (!USES.includes(u)) throw new Invalid(`spec.allowedUses: unknown use ${show(u)}`);
  if (allowedUses.length === 0) allowedUses = ['Workload', 'Tunnel'];
  const disableBGPExport = optBool(spec, 'disableBGPExport', 'spec') ?? false;
  if (allowedUses.includes('LoadBalancer')) {
    if (allowedUses.length > 1)
      throw new Invalid('spec.allowedUses: LoadBalancer cannot be combined with others');
    if (ipipMode !== 'Never' || vxlanMode !== 'Never')
      throw new Invalid('spec: a LoadBalancer pool cannot have IPIP or VXLAN enabled');
    if (disableBGPExport || nodeSelector !== 'all()')
      throw new Invalid('spec: a LoadBalancer pool must export to BGP and have nodeSelector all()');
  }
  if (allowedUses.includes('Tunnel') && namespaceSelector !== '')
    throw new Invalid('spec.namespaceSelector: not allowed on a pool used for tunnels');
  const assignmentMode = optString(spec, 'assignmentMode', 'spec') ?? 'Automatic';
  if (assignmentMode !== 'Automatic' && assignmentMode !== 'Manual')
    throw new Invalid(`spec.assignmentMode: expected Automatic or Manual, got ${show(assignmentMode)}`);
  const text = formatCidr(cidr);
  const natOutgoing = optBool(spec, 'natOutgoing', 'spec') ?? false;
  const value: IpPoolKv = {
    name: obj.metadata.name,
    cidr: text,
    blockSize,
    ipipMode,
    vxlanMode,
    natOutgoing,
    disabled,
    disableBGPExport,
    nodeSelector,
    allowedUses,
    assignmentMode,
    ...(namespaceSelector !== '' ? { namespaceSelector } : {}),
  };
  return [modelKV('ipPool', [text], value)];
}

/** IPReservation: a v3 resource; CIDRs (or bare IPs) are checked. */
export function convertIpReservation(obj: KubeObject): KV[] {
  const spec = fields(obj.spec, 'spec');
  const reserved = stringList(spec, 'reservedCIDRs', 'spec').map((c, i) => {
    const p = parseCidr(c, { bare: true });
    if (p === undefined) throw new Invalid(`spec.reservedCIDRs[${i}]: invalid CIDR ${show(c)}`);
    return c;
  });
  const value: IpReservationKv = {
    kind: 'IPReservation',
    apiVersion: 'projectcalico.org/v3',
    metadata: { name: obj.metadata.name },
    spec: { reservedCIDRs: reserved },
  };
  return [modelKV('ipReservation', [obj.metadata.name], value)];
}
