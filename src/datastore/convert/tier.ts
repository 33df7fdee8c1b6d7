// Tiers to the model tier (order, default action), after Calico's
// libcalico-go/lib/backend/syncersv1/updateprocessors/tierprocessor.go; names as validator/v3.

import type { KV } from '../../model/types.js';
import { modelKV } from '../../model/values/kv.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid } from './errors.js';
import { fields, optNumber, optString, show } from './fields.js';

const TIER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function convertTier(obj: KubeObject): KV[] {
  const name = obj.metadata.name;
  if (!TIER_NAME.test(name) || name.length > 63)
    throw new Invalid(`metadata.name: invalid tier name ${show(name)}`);
  const spec = fields(obj.spec, 'spec');
  const order = optNumber(spec, 'order', 'spec');
  const action = optString(spec, 'defaultAction', 'spec') ?? 'Deny';
  if (action !== 'Deny' && action !== 'Pass')
    throw new Invalid(`spec.defaultAction: expected Deny or Pass, got ${show(action)}`);
  return [modelKV('tier', [name], { ...(order !== undefined ? { order } : {}), defaultAction: action })];
}
