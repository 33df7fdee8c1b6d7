// Kubernetes and Calico objects to the KV model, as Calico's Kubernetes datastore plus its
// syncer update processors produce it for Felix and confd. convertObject() is pure: the same
// object always gives the same KVs, and a bad object throws a ConversionError naming it.
// Every object is bounded in depth and size (model/value-bounds.ts) before a converter walks
// it, and every value it yields again after, so nothing downstream (state hash, MessagePack,
// agents) ever sees a value nested deeper than MAX_VALUE_DEPTH. Labels and annotations are
// checked as the API server checks them (metadata.ts) for every kind, after the API
// server's defaults (api-defaults.ts) are applied: files and emulators have none of their own.

import type { KV } from '../../model/types.js';
import { VALUE_LIMITS, valueBoundsProblem } from '../../model/value-bounds.js';
import type { KubeObject } from '../kube/object.js';
import { CALICO_V3_API, resourceTypeOf } from '../kube/resources.js';
import { withApiServerDefaults } from './api-defaults.js';
import { convertBgpConfiguration, convertBgpPeer } from './bgp.js';
import { convertBgpFilter } from './bgp-filter.js';
import { ConversionError, Invalid } from './errors.js';
import { convertClusterInformation, convertFelixConfiguration } from './felix-config.js';
import { convertHostEndpoint } from './host-endpoint.js';
import { convertIpPool, convertIpReservation } from './ip-pool.js';
import { convertBlockAffinity, convertIpamBlock } from './ipam.js';
import { convertKubernetesNetworkPolicy } from './knp.js';
import { checkMetadata } from './metadata.js';
import { convertGlobalNetworkSet, convertNetworkSet } from './network-set.js';
import { convertCalicoNode, convertNode } from './node.js';
import { convertPod } from './pod.js';
import { convertGlobalNetworkPolicy, convertNetworkPolicy } from './policy.js';
import { convertNamespace, convertServiceAccount } from './profiles.js';
import { convertEndpointSlice, convertService } from './service.js';
import { convertTier } from './tier.js';

export { ConversionError, type ObjectRef } from './errors.js';
export { interfaceName } from './pod.js';

type Converter = (obj: KubeObject) => KV[];

/** By "<group>/<Kind>" of the watched resource type (core group ''). */
const CONVERTERS: Readonly<Record<string, Converter>> = {
  '/Pod': convertPod,
  '/Namespace': convertNamespace,
  '/ServiceAccount': convertServiceAccount,
  '/Node': convertNode,
  '/Service': convertService,
  'discovery.k8s.io/EndpointSlice': convertEndpointSlice,
  'networking.k8s.io/NetworkPolicy': convertKubernetesNetworkPolicy,
  'crd.projectcalico.org/NetworkPolicy': convertNetworkPolicy,
  'crd.projectcalico.org/GlobalNetworkPolicy': convertGlobalNetworkPolicy,
  'crd.projectcalico.org/Tier': convertTier,
  'crd.projectcalico.org/NetworkSet': convertNetworkSet,
  'crd.projectcalico.org/GlobalNetworkSet': convertGlobalNetworkSet,
  'crd.projectcalico.org/HostEndpoint': convertHostEndpoint,
  'crd.projectcalico.org/IPPool': convertIpPool,
  'crd.projectcalico.org/IPReservation': convertIpReservation,
  'crd.projectcalico.org/IPAMBlock': convertIpamBlock,
  'crd.projectcalico.org/BlockAffinity': convertBlockAffinity,
  'crd.projectcalico.org/BGPConfiguration': convertBgpConfiguration,
  'crd.projectcalico.org/BGPPeer': convertBgpPeer,
  'crd.projectcalico.org/BGPFilter': convertBgpFilter,
  'crd.projectcalico.org/FelixConfiguration': convertFelixConfiguration,
  'crd.projectcalico.org/ClusterInformation': convertClusterInformation,
};

/** The converter for an object's type, or undefined if Tabby does not handle that type. */
function converterFor(obj: KubeObject): Converter | undefined {
  // calicoctl's v3 Node (spec.bgp …) has no CRD: in a Kubernetes datastore calicoctl writes
  // it into the Kubernetes Node's annotations. Files may still hold it.
  if (obj.apiVersion === CALICO_V3_API && obj.kind === 'Node') return convertCalicoNode;
  const type = resourceTypeOf(obj.apiVersion, obj.kind);
  return type === undefined ? undefined : CONVERTERS[`${type.group}/${type.kind}`];
}

/** Converts one object to its KVs (possibly none); throws ConversionError if it is invalid. */
export function convertObject(raw: KubeObject): KV[] {
  const meta = raw?.metadata;
  const ref = {
    // Whatever it holds: String() of an object with its own toString or valueOf can throw.
    kind: typeof raw?.kind === 'string' ? raw.kind : '?',
    namespace: typeof meta?.namespace === 'string' ? meta.namespace : undefined,
    name: typeof meta?.name === 'string' && meta.name !== '' ? meta.name : '?',
  };
  if (typeof meta?.name !== 'string' || meta.name === '')
    throw new ConversionError(ref, 'metadata.name: required');
  // The API server always sets both; a caller that loads objects itself may not have checked.
  if (typeof raw.apiVersion !== 'string' || typeof raw.kind !== 'string')
    throw new ConversionError(ref, 'apiVersion and kind: required strings');
  // Before anything else reads it: converters, and the messages that quote bad fields, recurse.
  const tooBig = valueBoundsProblem(raw);
  if (tooBig !== undefined) throw new ConversionError(ref, tooBig);
  const obj = withApiServerDefaults(raw);
  const convert = converterFor(obj);
  if (convert === undefined)
    throw new ConversionError(ref, `unsupported resource type ${String(obj.apiVersion)} ${String(obj.kind)}`);
  let kvs: KV[];
  try {
    checkMetadata(obj.metadata);
    kvs = convert(obj);
  } catch (err) {
    if (err instanceof Invalid) throw new ConversionError(ref, err.reason, { cause: err.cause ?? err });
    throw err;
  }
  // Values must also be plain JSON: the state hash and MessagePack must see the same data.
  for (const kv of kvs) {
    const problem = valueBoundsProblem(kv.value, PLAIN_VALUE_LIMITS);
    if (problem !== undefined) throw new ConversionError(ref, `value of ${kv.key}: ${problem}`);
  }
  return kvs;
}

const PLAIN_VALUE_LIMITS = { ...VALUE_LIMITS, plainJson: true };
