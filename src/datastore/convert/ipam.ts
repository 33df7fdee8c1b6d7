// IPAM blocks and block affinities from their CRDs, after Calico's
// libcalico-go/lib/backend/k8s/resources/ipam_block.go (IPAMBlockV3toV1) and
// ipam_affinity_v1.go (toModelV1): the model block keeps Calico's allocation layout.

import { formatCidr, isMasked, masked } from '../../model/net/cidr.js';
import type { KV } from '../../model/types.js';
import { modelKV } from '../../model/values/kv.js';
import type { IpamAttributeKv, IpamBlockKv } from '../../model/values/routing.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid } from './errors.js';
import { fields, jsonCopy, list, optBool, optInt, optString, reqString, show } from './fields.js';
import { cidrOf } from './net.js';

const STATES = ['confirmed', 'pending', 'pendingDeletion'];

export function convertIpamBlock(obj: KubeObject): KV[] {
  const spec = fields(obj.spec, 'spec');
  const cidr = cidrOf(reqString(spec, 'cidr', 'spec'), 'spec.cidr');
  if (!isMasked(cidr))
    throw new Invalid(`spec.cidr: block CIDR must be strictly masked, got ${formatCidr(cidr)}`);
  const size = 2 ** ((cidr.version === 4 ? 32 : 128) - cidr.prefix);
  if (size > 65536) throw new Invalid(`spec.cidr: block /${cidr.prefix} is too large`);
  const attributes = list(spec, 'attributes', 'spec').map((a, i) => {
    const f = fields(a, `spec.attributes[${i}]`);
    const handle = optString(f, 'handle_id', `spec.attributes[${i}]`);
    const copy = (k: 'secondary' | 'alternateOwnerAttrs' | 'releasedAt') =>
      f[k] != null ? jsonCopy(f[k], `spec.attributes[${i}].${k}`) : undefined;
    const secondary = copy('secondary');
    const alternateOwnerAttrs = copy('alternateOwnerAttrs');
    const releasedAt = copy('releasedAt');
    const out: IpamAttributeKv = {
      ...(handle !== undefined ? { handleId: handle } : {}),
      ...(secondary !== undefined ? { secondary } : {}),
      ...(alternateOwnerAttrs !== undefined ? { alternateOwnerAttrs } : {}),
      ...(releasedAt !== undefined ? { releasedAt } : {}),
    };
    return out;
  });
  const allocations = list(spec, 'allocations', 'spec').map((a, i) => {
    if (a === null) return null;
    if (typeof a !== 'number' || !Number.isInteger(a) || a < 0 || a >= attributes.length)
      throw new Invalid(`spec.allocations[${i}]: expected null or an attribute index, got ${show(a)}`);
    return a;
  });
  if (allocations.length !== size)
    throw new Invalid(`spec.allocations: ${allocations.length} entries for a block of ${size} addresses`);
  const unallocated = list(spec, 'unallocated', 'spec').map((u, i) => {
    if (typeof u !== 'number' || !Number.isInteger(u) || u < 0 || u >= size)
      throw new Invalid(`spec.unallocated[${i}]: expected an ordinal below ${size}, got ${show(u)}`);
    return u;
  });
  const strictAffinity = optBool(spec, 'strictAffinity', 'spec') ?? false;
  const deleted = optBool(spec, 'deleted', 'spec') ?? false;
  const sequenceNumber = optInt(spec, 'sequenceNumber', 'spec', 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const affinity = optString(spec, 'affinity', 'spec');
  if (affinity && !/^[a-z]+:.+$/.test(affinity))
    throw new Invalid(`spec.affinity: expected "host:<node>", got ${show(affinity)}`);
  // Fields in the order they are stored: the encoded bytes and the golden frames depend on it.
  const value: IpamBlockKv = {
    cidr: formatCidr(cidr),
    strictAffinity,
    allocations,
    unallocated,
    attributes,
    deleted,
    sequenceNumber,
    ...(affinity ? { affinity } : {}),
    ...(spec['sequenceNumberForAllocation'] != null
      ? {
          sequenceNumberForAllocation: jsonCopy(
            spec['sequenceNumberForAllocation'],
            'spec.sequenceNumberForAllocation',
          ),
        }
      : {}),
  };
  return [modelKV('ipamBlock', [formatCidr(cidr)], value)];
}

/** Only host affinities have a model key (confd reads them); other types produce nothing. */
export function convertBlockAffinity(obj: KubeObject): KV[] {
  const spec = fields(obj.spec, 'spec');
  const type = optString(spec, 'type', 'spec') || 'host';
  const node = reqString(spec, 'node', 'spec');
  const cidr = cidrOf(reqString(spec, 'cidr', 'spec'), 'spec.cidr');
  // An empty state is confirmed: affinities from before the state field have none, and
  // confd's bird_aggr template blackholes and aggregates them as confirmed.
  const state = optString(spec, 'state', 'spec') || 'confirmed';
  if (!STATES.includes(state))
    throw new Invalid(`spec.state: expected confirmed, pending or pendingDeletion, got ${show(state)}`);
  // The CRD (crd.projectcalico.org/v1) stores deleted as a string, the v3 API as a bool.
  const raw = spec['deleted'];
  if (raw != null && raw !== '' && typeof raw !== 'boolean' && raw !== 'true' && raw !== 'false')
    throw new Invalid(`spec.deleted: expected true or false, got ${show(raw)}`);
  const deleted = raw === true || raw === 'true';
  if (type !== 'host') return [];
  return [modelKV('blockAffinity', [node, formatCidr(masked(cidr))], { state, deleted })];
}
