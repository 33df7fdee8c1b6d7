// Builds the initial simulated cluster from the options: nodes in racks, namespaces and
// workloads, policies, then pods scheduled and addressed through the IPAM. Everything random
// comes from the seed, so generateObjects (and generateInitialState, the same objects
// converted as the Kubernetes datastore would) is a pure function of its options.

import { convertObject } from '../../datastore/convert/index.js';
import { type KubeObject, objectId } from '../../datastore/kube/object.js';
import type { KV } from '../../model/types.js';
import { Cluster, K8S_ALPHABET, nodeSet, type SimNode, type Workload } from './cluster.js';
import { Ipam } from './ipam.js';
import { clusterObjects } from './objects.js';
import { resolveSimOptions, type SimOptions, SimOptionsError } from './options.js';
import { Rng, RngStream } from './rng.js';
import {
  ASN_OVERRIDE_NODE,
  DEFAULT_POOL,
  FINANCE_POOL,
  RACK2_ASN,
  RESERVATION,
  RR_LABEL,
  SCALE_POOL,
  SCALE_POOL_MIN_NODES,
  seedPolicyObjects,
} from './seed-resources.js';
import { tenantNamespaces } from './tenants.js';
import { type NamespaceDef, SEED_NAMESPACES } from './workloads.js';

const NODES_PER_RACK = 200;
const PCI_NODES = 4;
const ZONES = ['zone-a', 'zone-b', 'zone-c'];

/** Every object of the initial cluster, in a stable order (config, tiers, IPAM, nodes, …, pods). */
export function generateObjects(options: Partial<SimOptions> = {}): KubeObject[] {
  return [...clusterObjects(buildCluster(options))];
}

/** The initial state as KVs: generateObjects() converted, in the same order. */
export function generateInitialState(options: Partial<SimOptions> = {}): KV[] {
  const out: KV[] = [];
  for (const obj of clusterObjects(buildCluster(options))) for (const kv of convertObject(obj)) out.push(kv);
  return out;
}

export function buildCluster(options: Partial<SimOptions> = {}): Cluster {
  const opts = resolveSimOptions(options);
  const rng = Rng.stream(opts.seed, RngStream.Build);
  const clusterGuid = rng.hex(32);
  const nodes = makeNodes(opts.nodes, rng);
  const scale = opts.nodes > SCALE_POOL_MIN_NODES;
  const pools = scale ? [DEFAULT_POOL, FINANCE_POOL, SCALE_POOL] : [DEFAULT_POOL, FINANCE_POOL];
  const namespaces: NamespaceDef[] = [...SEED_NAMESPACES, ...tenantNamespaces(opts.namespaces, rng)].map(
    (ns) =>
      scale && ns.pools.length === 1 && ns.pools[0] === DEFAULT_POOL.name
        ? { ...ns, pools: [DEFAULT_POOL.name, SCALE_POOL.name] }
        : ns,
  );
  const ipam = new Ipam(pools, RESERVATION.reservedCIDRs, Rng.stream(opts.seed, RngStream.Ipam));
  const everywhere = nodeSet(nodes);
  const pci = nodeSet(nodes.filter((n) => n.labels['compliance'] === 'pci'));
  const workloads: Workload[] = namespaces.flatMap((ns) =>
    ns.workloads.map((template) => ({
      namespace: ns,
      template,
      templateHash: rng.chars(K8S_ALPHABET, 10),
      nodes: ns.pciOnly ? pci : everywhere,
      churn: template.fixedReplicas === undefined,
      replicas: 0,
    })),
  );
  const cluster = new Cluster(opts, nodes, namespaces, workloads, pools, ipam, clusterGuid);
  for (const object of seedPolicyObjects()) cluster.policies.set(objectId(object), { object, churn: false });
  for (const ns of namespaces) {
    for (const object of ns.policies) {
      // Churn tweaks the tenants' Calico policies, not their Kubernetes ones.
      cluster.policies.set(objectId(object), {
        object,
        churn: object.kind === 'NetworkPolicy' && object.apiVersion !== 'networking.k8s.io/v1',
      });
    }
  }
  schedulePods(cluster, rng);
  return cluster;
}

/**
 * Racks of at most 200 nodes, nodes dealt round-robin: node i is in rack (i mod R) + 1 with
 * address 10.0.<rack>.<10 + slot>. The first node of rack1 and of rack2 are the route
 * reflectors; the second node of rack2 is the seed's `worker-rack2-01` with ASN 64513.
 */
function makeNodes(count: number, rng: Rng): SimNode[] {
  const racks = Math.max(2, Math.ceil(count / NODES_PER_RACK));
  const width = Math.max(3, String(count - 1).length);
  const nodes: SimNode[] = [];
  for (let i = 0; i < count; i++) {
    const rack = (i % racks) + 1;
    const slot = Math.floor(i / racks);
    const name = i === racks + 1 ? ASN_OVERRIDE_NODE : `node-${String(i).padStart(width, '0')}`;
    const routeReflector = i < 2;
    const labels: Record<string, string> = {
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/hostname': name,
      'kubernetes.io/os': 'linux',
      rack: `rack${rack}`,
      'topology.kubernetes.io/region': 'region-1',
      'topology.kubernetes.io/zone': ZONES[(rack - 1) % ZONES.length]!,
    };
    if (routeReflector) labels[RR_LABEL] = 'true';
    nodes.push({
      name,
      index: i,
      rack,
      ip: `10.0.${rack}.${10 + slot}`,
      asNumber: name === ASN_OVERRIDE_NODE ? RACK2_ASN : undefined,
      routeReflector,
      labels,
      weight: 0.5 + 1.5 * rng.float(),
      pods: 0,
    });
  }
  // A few ordinary workers are dedicated to PCI workloads (the finance namespace).
  const candidates = nodes.filter((n) => !n.routeReflector && n.asNumber === undefined);
  for (let k = 0; k < Math.min(PCI_NODES, candidates.length); k++) {
    const j = k + rng.below(candidates.length - k);
    [candidates[k], candidates[j]] = [candidates[j]!, candidates[k]!];
    candidates[k]!.labels['compliance'] = 'pci';
  }
  return nodes;
}

/** Fixed pods first (seed bare pods, system workloads), then the rest by workload weight. */
function schedulePods(c: Cluster, rng: Rng): void {
  let budget = c.opts.pods;
  for (const w of c.workloads) {
    for (let k = 0; k < (w.template.fixedReplicas ?? 0) && budget > 0; k++) {
      if (c.addPod(w, rng) === undefined) throw new SimOptionsError(`cannot place ${w.template.name}`);
      budget--;
    }
  }
  const weighted = c.workloads.filter((w) => w.churn);
  const blocked = new Set<Workload>();
  let total = 0;
  const cumulative = weighted.map((w) => (total += w.template.weight));
  while (budget > 0) {
    const w = pickWorkload(weighted, cumulative, blocked, rng);
    if (w === undefined) throw new SimOptionsError(`cannot place ${budget} more pods (nodes or pools full)`);
    if (c.addPod(w, rng) === undefined) blocked.add(w);
    else budget--;
  }
}

/** A weighted pick among workloads below their maxReplicas and not blocked. */
export function pickWorkload(
  weighted: readonly Workload[],
  cumulative: readonly number[],
  blocked: ReadonlySet<Workload>,
  rng: Rng,
): Workload | undefined {
  const start = rng.weighted(cumulative);
  for (let i = 0; i < weighted.length; i++) {
    const w = weighted[(start + i) % weighted.length]!;
    const max = w.template.maxReplicas ?? Number.POSITIVE_INFINITY;
    if (w.replicas < max && !blocked.has(w)) return w;
  }
  return undefined;
}
