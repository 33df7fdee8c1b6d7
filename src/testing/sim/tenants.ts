// Generated tenant namespaces: each runs web + api, most also a worker and a data store, and
// carries the policies a platform team would expect (application-tier allows, a default-deny
// and a monitoring allow as Kubernetes NetworkPolicies). Drawn from the build stream.

import type { KubeObject } from '../../datastore/kube/object.js';
import { crd, k8sNetworkPolicy } from './object-builders.js';
import type { Rng } from './rng.js';
import { deploy, http, type NamespaceDef, ns, tcp, type WorkloadTemplate } from './workloads.js';

const WORDS = [
  'payments',
  'checkout',
  'catalog',
  'search',
  'billing',
  'inventory',
  'shipping',
  'identity',
  'analytics',
  'notifications',
  'reporting',
  'media',
  'orders',
  'reviews',
  'recommendations',
  'ledger-ops',
];

/** `count` namespaces named from WORDS (then `<word>-2`, `<word>-3`, … when they run out). */
export function tenantNamespaces(count: number, rng: Rng): NamespaceDef[] {
  const out: NamespaceDef[] = [];
  for (let i = 0; i < count; i++) {
    const word = WORDS[i % WORDS.length]!;
    const round = Math.floor(i / WORDS.length);
    const name = round === 0 ? word : `${word}-${round + 1}`;
    const v = { version: 'v1' };
    const workloads: WorkloadTemplate[] = [
      deploy('web', { app: 'web', tier: 'web', ...v }, [http(8080)], 3),
      deploy('api', { app: 'api', tier: 'backend', ...v }, [http(8080), tcp('grpc', 9090)], 4),
    ];
    if (rng.chance(0.7))
      workloads.push(deploy('worker', { app: 'worker', tier: 'worker', ...v }, [tcp('metrics', 9102)], 2));
    const store = rng.float();
    if (store < 0.4) {
      const pg = deploy('postgres', { app: 'postgres', tier: 'data' }, [tcp('postgres', 5432)], 0.5, 3);
      workloads.push({ ...pg, kind: 'StatefulSet' });
    } else if (store < 0.8) {
      workloads.push(deploy('redis', { app: 'redis', tier: 'cache' }, [tcp('redis', 6379)], 1, 6));
    }
    const environment = rng.chance(0.75) ? 'prod' : 'staging';
    const def = ns(name, workloads, { labels: { team: word, environment } });
    out.push({ ...def, policies: tenantPolicies(name, workloads) });
  }
  return out;
}

function tenantPolicies(namespace: string, workloads: readonly WorkloadTemplate[]): KubeObject[] {
  const np = (name: string, order: number, selector: string, ingress: unknown[]) =>
    crd(
      'NetworkPolicy',
      name,
      { tier: 'application', order, selector, types: ['Ingress'], ingress },
      { namespace },
    );
  const out: KubeObject[] = [
    np('application.allow-web-ingress', 100, 'tier == "web"', [
      {
        action: 'Allow',
        protocol: 'TCP',
        source: {
          selector: 'app.kubernetes.io/name == "ingress-nginx"',
          namespaceSelector: 'kubernetes.io/metadata.name == "ingress-nginx"',
        },
        destination: { ports: ['http'] },
      },
    ]),
    np('application.allow-api-from-web', 110, 'tier == "backend"', [
      {
        action: 'Allow',
        protocol: 'TCP',
        source: { selector: 'tier == "web"' },
        destination: { ports: ['http', 'grpc'] },
      },
    ]),
  ];
  const store = workloads.find((w) => w.name === 'postgres' || w.name === 'redis');
  if (store !== undefined) {
    out.push(
      np('application.allow-store-from-api', 120, `app == "${store.name}"`, [
        {
          action: 'Allow',
          protocol: 'TCP',
          source: { selector: 'tier == "backend"' },
          destination: { ports: [store.ports[0]!.port] },
        },
        { action: 'Deny' },
      ]),
    );
  }
  out.push(
    k8sNetworkPolicy('default-deny-ingress', namespace, { podSelector: {}, policyTypes: ['Ingress'] }),
    k8sNetworkPolicy('allow-monitoring-scrape', namespace, {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
          ports: [{ protocol: 'TCP', port: 'metrics' }],
        },
      ],
    }),
  );
  return out;
}
