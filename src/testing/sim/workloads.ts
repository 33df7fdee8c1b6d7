// What runs in the simulated cluster: namespaces and the workloads (Deployments,
// StatefulSets, bare Pods) that own its pods, plus the fixed seed and platform namespaces.
// Generated tenant namespaces are in tenants.ts.

import type { KubeObject } from '../../datastore/kube/object.js';
import { DEFAULT_POOL, FINANCE_POOL } from './seed-resources.js';

export interface PortDef {
  readonly name: string;
  readonly protocol: 'TCP' | 'UDP';
  readonly port: number;
}

export interface WorkloadTemplate {
  readonly name: string;
  readonly kind: 'Deployment' | 'StatefulSet' | 'Pod';
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount: string;
  readonly ports: readonly PortDef[];
  /** Share of the free pod budget; 0 for fixed-size workloads. */
  readonly weight: number;
  /** Exactly this many pods, created before weighted ones, never churned. */
  readonly fixedReplicas?: number;
  readonly maxReplicas?: number;
}

export interface NamespaceDef {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** IP pools its pods use (the ipv4pools annotation, else the CNI's default pool list). */
  readonly pools: readonly string[];
  /** Pods run only on nodes labelled compliance=pci (finance). */
  readonly pciOnly: boolean;
  readonly workloads: readonly WorkloadTemplate[];
  /** Policy objects (Calico NetworkPolicies, Kubernetes NetworkPolicies) in the namespace. */
  readonly policies: readonly KubeObject[];
}

export const tcp = (name: string, port: number): PortDef => ({ name, protocol: 'TCP', port });
export const http = (port: number): PortDef => tcp('http', port);
const bare = (name: string, app: string, tier: string): WorkloadTemplate => ({
  name,
  kind: 'Pod',
  labels: { app, tier },
  serviceAccount: 'default',
  ports: [http(80)],
  weight: 0,
  fixedReplicas: 1,
});
const fixed = (
  name: string,
  labels: Record<string, string>,
  ports: PortDef[],
  replicas: number,
  kind: WorkloadTemplate['kind'] = 'Deployment',
): WorkloadTemplate => ({
  name,
  kind,
  labels,
  serviceAccount: name,
  ports,
  weight: 0,
  fixedReplicas: replicas,
});
export const deploy = (
  name: string,
  labels: Record<string, string>,
  ports: PortDef[],
  weight: number,
  max?: number,
) => ({
  name,
  kind: 'Deployment' as const,
  labels,
  serviceAccount: name,
  ports,
  weight,
  ...(max === undefined ? {} : { maxReplicas: max }),
});

export function ns(
  name: string,
  workloads: WorkloadTemplate[],
  extra: Partial<Pick<NamespaceDef, 'labels' | 'annotations' | 'pools' | 'pciOnly'>> = {},
): NamespaceDef {
  return {
    name,
    labels: { 'kubernetes.io/metadata.name': name, ...extra.labels },
    annotations: extra.annotations ?? {},
    pools: extra.pools ?? [DEFAULT_POOL.name],
    pciOnly: extra.pciOnly ?? false,
    workloads,
    policies: [],
  };
}

const PG = tcp('postgres', 5432);
const HTTPS = (port: number) => tcp('https', port);

/** Seed namespaces (the lab's three bare pods are pinned: churn never touches them). */
export const SEED_NAMESPACES: readonly NamespaceDef[] = [
  ns('frontend', [
    bare('frontend', 'frontend', 'web'),
    deploy('web-ui', { app: 'frontend', tier: 'web' }, [http(80)], 3),
  ]),
  ns('backend', [
    bare('api', 'api', 'backend'),
    deploy('api', { app: 'api', tier: 'backend' }, [http(80)], 3),
  ]),
  ns('database', [
    bare('db', 'db', 'data'),
    { ...deploy('postgres', { app: 'db', tier: 'data' }, [PG], 1, 3), kind: 'StatefulSet' },
  ]),
  ns('app', [
    deploy('web-api', { app: 'web-api', tier: 'backend' }, [http(8080)], 2),
    deploy('frontend', { app: 'frontend', tier: 'web' }, [http(80)], 2),
  ]),
  ns(
    'finance',
    [
      deploy('ledger', { app: 'ledger', tier: 'backend' }, [http(8080)], 1, 24),
      deploy('payments-gateway', { app: 'payments-gateway', tier: 'web' }, [HTTPS(8443)], 1, 24),
    ],
    {
      labels: { team: 'finance', compliance: 'pci' },
      annotations: { 'cni.projectcalico.org/ipv4pools': `["${FINANCE_POOL.name}"]` },
      pools: [FINANCE_POOL.name],
      pciOnly: true,
    },
  ),
  // Host-network pods (calico-node, kube-proxy) have no workload endpoint, so they are absent.
  ns('kube-system', [
    fixed(
      'coredns',
      { 'k8s-app': 'kube-dns' },
      [{ name: 'dns', protocol: 'UDP', port: 53 }, tcp('dns-tcp', 53), tcp('metrics', 9153)],
      2,
    ),
    fixed('metrics-server', { 'k8s-app': 'metrics-server' }, [HTTPS(10250)], 1),
    fixed('calico-kube-controllers', { 'k8s-app': 'calico-kube-controllers' }, [], 1),
  ]),
  // Namespaces every cluster has, and the two the tenant policies refer to.
  ns('default', []),
  ns('monitoring', [
    fixed('prometheus', { 'app.kubernetes.io/name': 'prometheus' }, [tcp('web', 9090)], 2, 'StatefulSet'),
    fixed('grafana', { 'app.kubernetes.io/name': 'grafana' }, [http(3000)], 1),
  ]),
  ns('ingress-nginx', [
    fixed(
      'ingress-nginx-controller',
      { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' },
      [http(80), HTTPS(443)],
      2,
    ),
  ]),
];
