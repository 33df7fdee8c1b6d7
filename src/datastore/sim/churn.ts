// Deterministic churn over a simulated cluster: mostly pods coming and going (with their
// IPAM block updates), some pod relabels, and the occasional policy tweak or node relabel.
// Every event leaves the KV state consistent: deletes name existing keys, block allocations
// always match the running pods, and the pod count hovers around its initial value.

import type { KV } from '../../model/types.js';
import { Cluster, type Workload } from './cluster.js';
import { buildCluster, pickWorkload } from './generate.js';
import type { SimOptions } from './options.js';
import { type CalicoPolicySpec, type PortSpec, policyKey, toModelPolicy } from './policy-convert.js';
import { affinityKV, blockKV, nodeKV, wepDeleteKV, wepKV } from './render.js';
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
  private readonly policyKeys: readonly string[];
  private readonly baseOrder = new Map<string, number>();

  /** From options (builds the same cluster generateInitialState renders), or an existing cluster. */
  constructor(source: Partial<SimOptions> | Cluster = {}) {
    this.cluster = source instanceof Cluster ? source : buildCluster(source);
    this.rng = Rng.stream(this.cluster.opts.seed, RngStream.Churn);
    this.targetPods = this.cluster.churnPods.length;
    this.workloads = this.cluster.workloads.filter((w) => w.churn);
    let total = 0;
    this.cumulative = this.workloads.map((w) => (total += w.template.weight));
    this.policyKeys = [...this.cluster.policies].filter(([, e]) => e.churn).map(([k]) => k);
    for (const k of this.policyKeys) {
      const spec = this.cluster.policies.get(k)!.spec as CalicoPolicySpec;
      this.baseOrder.set(k, spec.order ?? 0);
    }
  }

  /** Performs `n` churn events and returns their KVs, in order (an event yields 1–3 KVs). */
  next(n: number): KV[] {
    const out: KV[] = [];
    for (let i = 0; i < n; i++) this.step(out);
    return out;
  }

  private step(out: KV[]): void {
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

  private podCreate(out: KV[]): boolean {
    const w = pickWorkload(this.workloads, this.cumulative, new Set(), this.rng);
    const added = w === undefined ? undefined : this.cluster.addPod(w, this.rng);
    if (added === undefined) return false;
    // CNI order: the IP is assigned (block written) before the endpoint appears.
    if (added.assignment.claimed) out.push(affinityKV(added.assignment.block));
    out.push(blockKV(added.assignment.block), wepKV(added.pod));
    this.counts['pod-create']++;
    return true;
  }

  private podDelete(out: KV[]): boolean {
    const pods = this.cluster.churnPods;
    if (pods.length === 0) return false;
    const pod = this.rng.pick(pods);
    const block = this.cluster.removePod(pod);
    out.push(wepDeleteKV(pod), blockKV(block));
    this.counts['pod-delete']++;
    return true;
  }

  /** A rollout-ish relabel: toggle a canary label or move to another version. */
  private podLabel(out: KV[]): boolean {
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
    out.push(wepKV(pod));
    this.counts['pod-label']++;
    return true;
  }

  /** Moves a tenant policy within its order band, or toggles an extra port on its first rule. */
  private policyUpdate(out: KV[]): boolean {
    if (this.policyKeys.length === 0) return false;
    const key = this.rng.pick(this.policyKeys);
    const entry = this.cluster.policies.get(key)!;
    const spec = entry.spec as CalicoPolicySpec;
    let next: CalicoPolicySpec;
    const first = spec.ingress?.[0];
    if (this.rng.chance(0.5) || first === undefined) {
      next = { ...spec, order: this.baseOrder.get(key)! + this.rng.int(0, 9) };
    } else {
      const ports: readonly PortSpec[] = first.destination?.ports ?? [];
      const toggled = ports.includes(EXTRA_PORT)
        ? ports.filter((p) => p !== EXTRA_PORT)
        : [...ports, EXTRA_PORT];
      const rule = { ...first, destination: { ...first.destination, ports: toggled } };
      next = { ...spec, ingress: [rule, ...(spec.ingress ?? []).slice(1)] };
    }
    entry.spec = next;
    out.push({ key: policyKey(next), value: toModelPolicy(next) });
    this.counts['policy-update']++;
    return true;
  }

  /** Toggles the label that opts a node out of LoadBalancer IP advertisement. */
  private nodeLabel(out: KV[]): void {
    const node = this.rng.pick(this.cluster.nodes);
    if (node.labels[EXCLUDE_LB] === undefined) node.labels[EXCLUDE_LB] = 'true';
    else delete node.labels[EXCLUDE_LB];
    out.push(nodeKV(node));
    this.counts['node-label']++;
  }
}
