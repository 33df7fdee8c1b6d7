// Deterministic churn over a simulated cluster, as the object events a watch would deliver:
// mostly pods coming and going (with their IPAM block updates), some pod relabels, and the
// occasional policy tweak or node relabel. Every event leaves the cluster consistent: deletes
// name existing objects, block allocations always match the running pods, and the pod count
// hovers around its initial value. Objects already emitted are never mutated.

import type { KubeObject } from '../../datastore/kube/object.js';
import type { ObjectEvent } from '../../datastore/kube/object-sink.js';
import { Cluster, type Workload } from './cluster.js';
import { buildCluster, pickWorkload } from './generate.js';
import { affinityObject, blockObject, nodeObject, podObject } from './objects.js';
import type { SimOptions } from './options.js';
import { Rng, RngStream } from './rng.js';

export const ChurnKind = {
  PodCreate: 'pod-create',
  PodDelete: 'pod-delete',
  PodLabel: 'pod-label',
  PolicyUpdate: 'policy-update',
  NodeLabel: 'node-label',
} as const;
export type ChurnKind = (typeof ChurnKind)[keyof typeof ChurnKind];

/** Cumulative shares of the event mix: 70 % pod create/delete, 22 % relabel, 5 % policy, 3 % node. */
const MIX = { podLifecycle: 0.7, podLabel: 0.92, policy: 0.97 };
const EXCLUDE_LB = 'node.kubernetes.io/exclude-from-external-load-balancers';
/** The port a policy tweak adds and removes again (the tenants' metrics port). */
const EXTRA_PORT = 9102;
const VERSIONS = ['v1', 'v2', 'v3', 'v4'];

export class ChurnGenerator {
  readonly cluster: Cluster;
  readonly counts: Record<ChurnKind, number> = {
    'pod-create': 0,
    'pod-delete': 0,
    'pod-label': 0,
    'policy-update': 0,
    'node-label': 0,
  };
  private readonly rng: Rng;
  private readonly targetPods: number;
  private readonly workloads: readonly Workload[];
  private readonly cumulative: readonly number[];
  /** objectIds of the policies churn may tweak, and their orders as generated. */
  private readonly policyIds: readonly string[];
  private readonly baseOrder = new Map<string, number>();

  /** From options (builds the same cluster generateInitialState renders), or an existing cluster. */
  constructor(source: Partial<SimOptions> | Cluster = {}) {
    this.cluster = source instanceof Cluster ? source : buildCluster(source);
    this.rng = Rng.stream(this.cluster.opts.seed, RngStream.Churn);
    this.targetPods = this.cluster.churnPods.length;
    this.workloads = this.cluster.workloads.filter((w) => w.churn);
    let total = 0;
    this.cumulative = this.workloads.map((w) => (total += w.template.weight));
    this.policyIds = [...this.cluster.policies].filter(([, e]) => e.churn).map(([id]) => id);
    for (const id of this.policyIds)
      this.baseOrder.set(id, specOf(this.cluster.policies.get(id)!.object).order ?? 0);
  }

  /** Performs `n` churn events and returns their object events, in order (1–3 per event). */
  next(n: number): ObjectEvent[] {
    const out: ObjectEvent[] = [];
    for (let i = 0; i < n; i++) this.step(out);
    return out;
  }

  private step(out: ObjectEvent[]): void {
    const r = this.rng.float();
    if (r < MIX.podLifecycle) {
      const done = this.rng.float() < this.createShare() ? this.podCreate(out) : this.podDelete(out);
      if (done) return;
    } else if (r < MIX.podLabel) {
      if (this.podLabel(out)) return;
    } else if (r < MIX.policy) {
      if (this.policyUpdate(out)) return;
    } else {
      this.nodeLabel(out);
      return;
    }
    // The chosen event was impossible (no pods, no tenant policy): a create, or else a node
    // relabel, which is always possible, so every step emits something.
    if (!this.podCreate(out)) this.nodeLabel(out);
  }

  /** Leans towards deletes above the initial pod count and creates below it. */
  private createShare(): number {
    const drift = (this.cluster.churnPods.length - this.targetPods) / Math.max(1, this.targetPods);
    return Math.min(0.9, Math.max(0.1, 0.5 - 5 * drift));
  }

  private podCreate(out: ObjectEvent[]): boolean {
    const w = pickWorkload(this.workloads, this.cumulative, new Set(), this.rng);
    const added = w === undefined ? undefined : this.cluster.addPod(w, this.rng);
    if (added === undefined) return false;
    // CNI order: the block is claimed and the IP assigned before the pod shows its IP.
    const { block, claimed } = added.assignment;
    if (claimed) out.push({ type: 'ADDED', object: affinityObject(block) });
    out.push(
      { type: claimed ? 'ADDED' : 'MODIFIED', object: blockObject(block) },
      { type: 'ADDED', object: podObject(added.pod) },
    );
    this.counts['pod-create']++;
    return true;
  }

  private podDelete(out: ObjectEvent[]): boolean {
    const pods = this.cluster.churnPods;
    if (pods.length === 0) return false;
    const pod = this.rng.pick(pods);
    const block = this.cluster.removePod(pod);
    out.push({ type: 'DELETED', object: podObject(pod) }, { type: 'MODIFIED', object: blockObject(block) });
    this.counts['pod-delete']++;
    return true;
  }

  /** A rollout-ish relabel: toggle a canary label or move to another version. */
  private podLabel(out: ObjectEvent[]): boolean {
    const pods = this.cluster.churnPods;
    if (pods.length === 0) return false;
    const pod = this.rng.pick(pods);
    if (this.rng.chance(0.5)) {
      if (pod.labels['canary'] === undefined) pod.labels['canary'] = 'true';
      else delete pod.labels['canary'];
    } else {
      const others = VERSIONS.filter((v) => v !== pod.labels['version']);
      pod.labels['version'] = this.rng.pick(others);
    }
    out.push({ type: 'MODIFIED', object: podObject(pod) });
    this.counts['pod-label']++;
    return true;
  }

  /** Moves a tenant policy within its order band, or toggles an extra port on its first rule. */
  private policyUpdate(out: ObjectEvent[]): boolean {
    if (this.policyIds.length === 0) return false;
    const id = this.rng.pick(this.policyIds);
    const entry = this.cluster.policies.get(id)!;
    const spec = specOf(entry.object);
    let next: PolicySpec;
    const first = spec.ingress?.[0];
    if (this.rng.chance(0.5) || first === undefined) {
      next = { ...spec, order: this.baseOrder.get(id)! + this.rng.int(0, 9) };
    } else {
      const ports = first.destination?.ports ?? [];
      const toggled = ports.includes(EXTRA_PORT)
        ? ports.filter((p) => p !== EXTRA_PORT)
        : [...ports, EXTRA_PORT];
      const rule = { ...first, destination: { ...first.destination, ports: toggled } };
      next = { ...spec, ingress: [rule, ...(spec.ingress ?? []).slice(1)] };
    }
    entry.object = { ...entry.object, metadata: { ...entry.object.metadata }, spec: next };
    out.push({ type: 'MODIFIED', object: entry.object });
    this.counts['policy-update']++;
    return true;
  }

  /** Toggles the label that opts a node out of LoadBalancer IP advertisement. */
  private nodeLabel(out: ObjectEvent[]): void {
    const node = this.rng.pick(this.cluster.nodes);
    if (node.labels[EXCLUDE_LB] === undefined) node.labels[EXCLUDE_LB] = 'true';
    else delete node.labels[EXCLUDE_LB];
    out.push({ type: 'MODIFIED', object: nodeObject(node) });
    this.counts['node-label']++;
  }
}

/** The parts of a tenant's Calico policy spec that churn edits (the rest is carried over). */
interface PolicySpec {
  readonly order?: number;
  readonly ingress?: readonly {
    readonly destination?: { readonly ports?: readonly (number | string)[] };
  }[];
}

const specOf = (o: KubeObject): PolicySpec => (o.spec ?? {}) as PolicySpec;
