// A synthetic, deterministic cluster for the policy benchmark: namespaces, pods and policies
// (Calico NetworkPolicy / GlobalNetworkPolicy in tiers, Kubernetes NetworkPolicy in the
// default tier) built as Kubernetes objects and run through the real converters, so the KVs
// have exactly the shape the agent receives from the datastore.

import type { PolicyCalculator } from '../src/agent/calc/index.js';
import { convertObject } from '../src/datastore/convert/index.js';
import type { KubeObject } from '../src/datastore/kube/object.js';
import type { JsonValue, KV } from '../src/model/types.js';
import { Rng, RngStream } from '../src/testing/sim/rng.js';

export interface GenOptions {
  readonly seed: number;
  readonly endpoints: number;
  readonly nodes: number;
  readonly namespaces: number;
  readonly policies: number;
  /** Apps (distinct `app` label values) per namespace. */
  readonly appsPerNamespace: number;
}

export const DEFAULTS: GenOptions = {
  seed: 20261123,
  endpoints: 50_000,
  nodes: 500,
  namespaces: 200,
  policies: 5_000,
  appsPerNamespace: 10,
};

export interface Cluster {
  readonly kvs: KV[];
  /** Pod objects by index (to derive label edits). */
  readonly pods: KubeObject[];
  readonly counts: Record<string, number>;
  readonly nodeName: (i: number) => string;
}

const CALICO = 'projectcalico.org/v3';
const TIERS = [
  { name: 'security', order: 100, defaultAction: 'Pass' },
  { name: 'platform', order: 200, defaultAction: 'Pass' },
  { name: 'app', order: 300, defaultAction: 'Deny' },
] as const;
const APP_TIERS = ['frontend', 'backend', 'db', 'cache'] as const;
const TEAMS = 20;
const MONITORING_NAMESPACES = 4;

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
export const nsName = (i: number): string => `ns-${pad(i, 3)}`;
export const nodeNameOf = (i: number): string => `node-${pad(i, 3)}`;
const appTier = (app: number): string => APP_TIERS[app % APP_TIERS.length]!;

/** Pod i's IPv4 address: 10.16.0.0/12 counted up (no .0 / .255 games, it is a /32). */
export const podIp = (i: number): string => `10.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

export function podObject(i: number, o: GenOptions, rng: Rng, overrideApp?: number): KubeObject {
  const nsIdx = rng.below(o.namespaces);
  const ns = nsName(nsIdx);
  const app = overrideApp ?? rng.below(o.appsPerNamespace);
  const name = `a${app}-${pad(i, 5)}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ns,
      labels: {
        app: `a${app}`,
        tier: appTier(app),
        team: `team-${nsIdx % TEAMS}`,
        version: `v${1 + rng.below(3)}`,
        ...(nsIdx < MONITORING_NAMESPACES ? { role: 'monitoring' } : {}),
      },
    },
    spec: {
      // Round robin, so every node gets endpoints/nodes of them.
      nodeName: nodeNameOf(i % o.nodes),
      containers: [{ name: 'main', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }],
    },
    status: { phase: 'Running', podIP: podIp(i) },
  };
}

function randomNet(rng: Rng): string {
  const kind = rng.below(4);
  if (kind === 0) return '10.0.0.0/8';
  if (kind === 1) return `192.168.${rng.below(256)}.0/24`;
  if (kind === 2) return `172.${16 + rng.below(16)}.0.0/16`;
  return `203.0.${rng.below(256)}.${rng.below(64) * 4}/30`;
}

const PORTS = [80, 443, 8080, 8443, 5432, 6379, 9090, 3306] as const;

/** A Calico v3 ingress rule for a namespaced (ns !== '') or global policy. */
function calicoIngressRule(rng: Rng, o: GenOptions): Record<string, unknown> {
  const dst = { ports: [rng.pick(PORTS)] as (number | string)[] };
  if (rng.chance(0.1)) dst.ports = ['http'];
  const r = rng.below(100);
  let source: Record<string, unknown> = {};
  if (r < 45) source = { selector: `app == 'a${rng.below(o.appsPerNamespace)}'` };
  else if (r < 65)
    source = { selector: `tier == 'frontend'`, namespaceSelector: `team == 'team-${rng.below(TEAMS)}'` };
  else if (r < 75) source = { namespaceSelector: `purpose == 'monitoring'` };
  else if (r < 90) source = { nets: [randomNet(rng), randomNet(rng)] };
  return { action: rng.chance(0.9) ? 'Allow' : 'Deny', protocol: 'TCP', source, destination: dst };
}

function calicoEgressRule(rng: Rng, o: GenOptions): Record<string, unknown> {
  const r = rng.below(100);
  if (r < 40)
    return { action: 'Allow', protocol: 'UDP', destination: { nets: ['10.96.0.10/32'], ports: [53] } };
  if (r < 75)
    return {
      action: 'Allow',
      protocol: 'TCP',
      destination: { selector: `app == 'a${rng.below(o.appsPerNamespace)}'`, ports: [rng.pick(PORTS)] },
    };
  return { action: 'Allow', destination: { nets: [randomNet(rng)] } };
}

function knpPeer(rng: Rng, o: GenOptions): Record<string, unknown> {
  const r = rng.below(100);
  if (r < 50) return { podSelector: { matchLabels: { app: `a${rng.below(o.appsPerNamespace)}` } } };
  if (r < 75) return { namespaceSelector: { matchLabels: { team: `team-${rng.below(TEAMS)}` } } };
  return { ipBlock: { cidr: randomNet(rng) } };
}

export function policyObject(i: number, o: GenOptions, rng: Rng): KubeObject {
  const ns = nsName(rng.below(o.namespaces));
  const app = rng.below(o.appsPerNamespace);
  const kind = i % 10; // 1 in 10 global, 4 in 10 Kubernetes, 5 in 10 Calico namespaced
  const nIngress = 1 + rng.below(3);
  const withEgress = rng.chance(0.3);
  if (kind === 0) {
    const tier = rng.chance(0.5) ? 'security' : 'platform';
    const sel = [`tier == '${rng.pick(APP_TIERS)}'`, `team == 'team-${rng.below(TEAMS)}'`, 'all()'];
    return {
      apiVersion: CALICO,
      kind: 'GlobalNetworkPolicy',
      metadata: { name: `${tier}.g-${pad(i, 4)}` },
      spec: {
        tier,
        order: rng.below(1000),
        selector: sel[rng.below(3)],
        namespaceSelector: rng.chance(0.5) ? `env == '${rng.pick(['prod', 'staging', 'dev'])}'` : undefined,
        ingress: [
          { action: 'Deny', source: { nets: [randomNet(rng)] } },
          { action: 'Allow', protocol: 'TCP', source: { namespaceSelector: `purpose == 'monitoring'` } },
          ...(rng.chance(0.5) ? [{ action: 'Pass' }] : []),
        ],
        egress: withEgress
          ? [{ action: 'Deny', destination: { nets: [randomNet(rng)] } }, { action: 'Pass' }]
          : [],
        types: withEgress ? ['Ingress', 'Egress'] : ['Ingress'],
      },
    };
  }
  if (kind <= 4) {
    const ports = [{ protocol: 'TCP', port: rng.pick(PORTS) }];
    return {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `k-${pad(i, 4)}`, namespace: ns },
      spec: {
        podSelector: { matchLabels: { app: `a${app}` } },
        ingress: Array.from({ length: nIngress }, () => ({ from: [knpPeer(rng, o)], ports })),
        egress: withEgress ? [{ to: [knpPeer(rng, o)] }] : undefined,
        policyTypes: withEgress ? ['Ingress', 'Egress'] : ['Ingress'],
      },
    };
  }
  const tier = rng.chance(0.6) ? 'app' : 'default';
  return {
    apiVersion: CALICO,
    kind: 'NetworkPolicy',
    metadata: { name: tier === 'default' ? `p-${pad(i, 4)}` : `app.p-${pad(i, 4)}`, namespace: ns },
    spec: {
      tier,
      order: 100 + rng.below(900),
      selector: rng.chance(0.8) ? `app == 'a${app}'` : `tier == '${appTier(app)}'`,
      ingress: Array.from({ length: nIngress }, () => calicoIngressRule(rng, o)),
      egress: withEgress ? [calicoEgressRule(rng, o), calicoEgressRule(rng, o)] : [],
      types: withEgress ? ['Ingress', 'Egress'] : ['Ingress'],
    },
  };
}

export function generate(o: GenOptions = DEFAULTS): Cluster {
  const rng = Rng.stream(o.seed, RngStream.Build);
  const objects: KubeObject[] = [];
  for (const t of TIERS)
    objects.push({
      apiVersion: CALICO,
      kind: 'Tier',
      metadata: { name: t.name },
      spec: { order: t.order, defaultAction: t.defaultAction },
    });
  for (let n = 0; n < o.namespaces; n++)
    objects.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: nsName(n),
        labels: {
          'kubernetes.io/metadata.name': nsName(n),
          team: `team-${n % TEAMS}`,
          env: ['prod', 'staging', 'dev'][n % 3]!,
          ...(n < MONITORING_NAMESPACES ? { purpose: 'monitoring' } : {}),
        },
      },
    });
  const pods: KubeObject[] = [];
  for (let i = 0; i < o.endpoints; i++) pods.push(podObject(i, o, rng));
  objects.push(...pods);
  for (let i = 0; i < o.policies; i++) objects.push(policyObject(i, o, rng));

  const kvs: KV[] = [];
  const counts: Record<string, number> = {};
  for (const obj of objects) {
    kvs.push(...convertObject(obj));
    const kind = obj.apiVersion.startsWith('networking.k8s.io') ? 'KubernetesNetworkPolicy' : obj.kind;
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  counts['kvs'] = kvs.length;
  return { kvs, pods, counts, nodeName: nodeNameOf };
}

/**
 * The benches' policy edit: one rule of the first (by plan id) local Calico NetworkPolicy with
 * inbound rules made tcp/9999, so every bench edits the same policy the same way.
 */
export function benchPolicyEdit(calc: PolicyCalculator, byKey: ReadonlyMap<string, KV>): KV {
  let policyId: string | undefined;
  for (const plan of [...calc.plans().values()].sort((a, b) => (a.id < b.id ? -1 : 1)))
    for (const tier of plan.ingress.tiers)
      for (const p of tier.policies)
        if (policyId === undefined && p.id.includes('/NetworkPolicy/')) {
          const v = byKey.get(p.id)?.value as { inboundRules?: unknown[] } | undefined;
          if ((v?.inboundRules?.length ?? 0) > 0) policyId = p.id;
        }
  if (policyId === undefined) throw new Error('no local Calico NetworkPolicy with inbound rules');
  const old = byKey.get(policyId)!.value as Record<string, JsonValue>;
  const rules = structuredClone(old['inboundRules']) as Record<string, JsonValue>[];
  rules[0] = { ...rules[0]!, protocol: 'tcp', dstPorts: [9999] };
  return { key: policyId, value: { ...old, inboundRules: rules } };
}
