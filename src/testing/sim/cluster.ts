// The simulator's mutable picture of the cluster (nodes, workloads, pods, policies, IPAM)
// and the two pod operations that keep pods and IPAM blocks consistent. The initial build
// and the churn generator both go through addPod/removePod, so their invariants are one.

import type { KubeObject } from '../../datastore/kube/object.js';
import type { Assignment, Block, Ipam } from './ipam.js';
import type { SimOptions } from './options.js';
import type { Rng } from './rng.js';
import type { IpPoolSpec } from './seed-resources.js';
import type { NamespaceDef, WorkloadTemplate } from './workloads.js';

export interface SimNode {
  readonly name: string;
  readonly index: number;
  readonly rack: number;
  readonly ip: string;
  /** Per-node ASN override; undefined = the BGPConfiguration's. */
  readonly asNumber: number | undefined;
  readonly routeReflector: boolean;
  readonly labels: Record<string, string>;
  /** Scheduling weight: some nodes are bigger, so blocks fill unevenly like real clusters. */
  readonly weight: number;
  pods: number;
}

/** Nodes a workload may run on, with running weight totals for weighted picks. */
export interface NodeSet {
  readonly nodes: readonly SimNode[];
  readonly cumulative: readonly number[];
}

export interface Workload {
  readonly namespace: NamespaceDef;
  readonly template: WorkloadTemplate;
  /** Deployment pod-template-hash / StatefulSet revision: 10 chars of k8s's safe alphabet. */
  readonly templateHash: string;
  readonly nodes: NodeSet;
  /** Churn may create and delete its pods (false for seed bare pods and fixed workloads). */
  readonly churn: boolean;
  replicas: number;
}

export interface SimPod {
  readonly namespace: string;
  readonly name: string;
  readonly node: SimNode;
  readonly workload: Workload;
  readonly labels: Record<string, string>;
  readonly ip: string;
  readonly handleId: string;
}

export interface PolicyEntry {
  /** The current object; replaced (never mutated) when churn changes it. */
  object: KubeObject;
  /** Churn may tweak it (tenant policies only; the seed policies stay as the lab wrote them). */
  readonly churn: boolean;
}

/** Kubernetes' SafeEncodeString alphabet, used for pod-template-hash and pod name suffixes. */
export const K8S_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function nodeSet(nodes: readonly SimNode[]): NodeSet {
  let total = 0;
  return { nodes, cumulative: nodes.map((n) => (total += n.weight)) };
}

export class Cluster {
  readonly pods = new Map<string, SimPod>();
  /** Churnable pods, in an array for O(1) uniform picks (removal swaps in the last one). */
  readonly churnPods: SimPod[] = [];
  private readonly churnIndex = new Map<SimPod, number>();
  /** By objectId. */
  readonly policies = new Map<string, PolicyEntry>();

  constructor(
    readonly opts: SimOptions,
    readonly nodes: readonly SimNode[],
    readonly namespaces: readonly NamespaceDef[],
    readonly workloads: readonly Workload[],
    readonly pools: readonly IpPoolSpec[],
    readonly ipam: Ipam,
    readonly clusterGuid: string,
  ) {}

  /**
   * Schedules one pod of `w` and gives it an address. Undefined when no allowed node has
   * room or the namespace's pools are full; nothing is changed in that case.
   */
  addPod(w: Workload, rng: Rng): { pod: SimPod; assignment: Assignment } | undefined {
    const node = this.pickNode(w.nodes, rng);
    if (node === undefined) return undefined;
    const ns = w.namespace.name;
    const name = this.podName(w, rng);
    const handleId = `k8s-pod-network.${rng.hex(64)}`;
    const owner = { handleId, namespace: ns, pod: name, node: node.name };
    const assignment = this.ipam.assign(owner, w.namespace.pools, rng.chance(this.opts.borrowRate));
    if (assignment === undefined) return undefined;
    const pod: SimPod = {
      namespace: ns,
      name,
      node,
      workload: w,
      labels: this.podLabels(w, name),
      ip: assignment.ip,
      handleId,
    };
    node.pods++;
    w.replicas++;
    this.pods.set(`${ns}/${name}`, pod);
    if (w.churn) {
      this.churnIndex.set(pod, this.churnPods.length);
      this.churnPods.push(pod);
    }
    return { pod, assignment };
  }

  /** Deletes the pod and frees its address; returns the block that changed. */
  removePod(pod: SimPod): Block {
    const key = `${pod.namespace}/${pod.name}`;
    if (this.pods.get(key) !== pod) throw new Error(`removePod: ${key} is not running`);
    this.pods.delete(key);
    const at = this.churnIndex.get(pod);
    if (at !== undefined) {
      const last = this.churnPods.pop()!;
      if (last !== pod) {
        this.churnPods[at] = last;
        this.churnIndex.set(last, at);
      }
      this.churnIndex.delete(pod);
    }
    pod.node.pods--;
    pod.workload.replicas--;
    return this.ipam.release(pod.ip);
  }

  private pickNode(set: NodeSet, rng: Rng): SimNode | undefined {
    const max = this.opts.maxPodsPerNode;
    for (let attempt = 0; attempt < 8; attempt++) {
      const node = set.nodes[rng.weighted(set.cumulative)]!;
      if (node.pods < max) return node;
    }
    // Crowded: walk from a random start to the first node with room.
    const start = rng.below(set.nodes.length);
    for (let i = 0; i < set.nodes.length; i++) {
      const node = set.nodes[(start + i) % set.nodes.length]!;
      if (node.pods < max) return node;
    }
    return undefined;
  }

  private podName(w: Workload, rng: Rng): string {
    const t = w.template;
    const ns = w.namespace.name;
    if (t.kind === 'Pod') return t.name;
    if (t.kind === 'StatefulSet') {
      // A StatefulSet recreates the lowest missing ordinal.
      let i = 0;
      while (this.pods.has(`${ns}/${t.name}-${i}`)) i++;
      return `${t.name}-${i}`;
    }
    for (;;) {
      const name = `${t.name}-${w.templateHash}-${rng.chars(K8S_ALPHABET, 5)}`;
      if (!this.pods.has(`${ns}/${name}`)) return name;
    }
  }

  private podLabels(w: Workload, name: string): Record<string, string> {
    const t = w.template;
    if (t.kind === 'Pod') return { ...t.labels };
    if (t.kind === 'Deployment') return { ...t.labels, 'pod-template-hash': w.templateHash };
    return {
      ...t.labels,
      'apps.kubernetes.io/pod-index': name.slice(t.name.length + 1),
      'controller-revision-hash': `${t.name}-${w.templateHash}`,
      'statefulset.kubernetes.io/pod-name': name,
    };
  }
}
