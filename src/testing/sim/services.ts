// A few Services with their EndpointSlices, for the platform workloads whose pods churn never
// touches (so the slices stay true without churn updating them): the API server, DNS, the
// metrics server, the ingress controller (a LoadBalancer with externalTrafficPolicy Local,
// advertised per node) and the monitoring stack (one with an external IP).

import { createHash } from 'node:crypto';
import type { KubeObject } from '../../datastore/kube/object.js';
import { type Cluster, K8S_ALPHABET, type SimPod } from './cluster.js';
import { meta } from './object-builders.js';

interface PortDef {
  name: string;
  protocol: 'TCP' | 'UDP';
  port: number;
  targetPort: number;
  nodePort?: number;
}

interface ServiceDef {
  namespace: string;
  name: string;
  clusterIP: string;
  ports: PortDef[];
  /** The fixed workload (template name) whose pods back it; undefined for `kubernetes`. */
  workload?: string;
  selector?: Record<string, string>;
  type?: 'LoadBalancer';
  externalIPs?: string[];
  loadBalancerIP?: string;
}

const tcp = (name: string, port: number, targetPort = port): PortDef => ({
  name,
  protocol: 'TCP',
  port,
  targetPort,
});

const SERVICES: readonly ServiceDef[] = [
  { namespace: 'default', name: 'kubernetes', clusterIP: '10.96.0.1', ports: [tcp('https', 443, 6443)] },
  {
    namespace: 'kube-system',
    name: 'kube-dns',
    clusterIP: '10.96.0.10',
    workload: 'coredns',
    selector: { 'k8s-app': 'kube-dns' },
    ports: [
      { name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 },
      tcp('dns-tcp', 53),
      tcp('metrics', 9153),
    ],
  },
  {
    namespace: 'kube-system',
    name: 'metrics-server',
    clusterIP: '10.96.0.20',
    workload: 'metrics-server',
    selector: { 'k8s-app': 'metrics-server' },
    ports: [tcp('https', 443, 10250)],
  },
  {
    namespace: 'ingress-nginx',
    name: 'ingress-nginx-controller',
    clusterIP: '10.96.0.30',
    workload: 'ingress-nginx-controller',
    selector: { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' },
    type: 'LoadBalancer',
    loadBalancerIP: '192.168.200.10',
    ports: [
      { ...tcp('http', 80), nodePort: 30080 },
      { ...tcp('https', 443), nodePort: 30443 },
    ],
  },
  {
    namespace: 'monitoring',
    name: 'prometheus',
    clusterIP: '10.96.0.40',
    workload: 'prometheus',
    selector: { 'app.kubernetes.io/name': 'prometheus' },
    ports: [tcp('web', 9090)],
  },
  {
    namespace: 'monitoring',
    name: 'grafana',
    clusterIP: '10.96.0.41',
    workload: 'grafana',
    selector: { 'app.kubernetes.io/name': 'grafana' },
    externalIPs: ['192.168.100.10'],
    ports: [tcp('http', 80, 3000)],
  },
];

/** A generateName-style suffix, derived from the name so that it is stable. */
function suffix(name: string): string {
  const h = createHash('sha1').update(name).digest();
  return Array.from(h.subarray(0, 5), (b) => K8S_ALPHABET[b % K8S_ALPHABET.length]).join('');
}

function serviceObject(d: ServiceDef): KubeObject {
  const spec: Record<string, unknown> = {
    type: d.type ?? 'ClusterIP',
    clusterIP: d.clusterIP,
    clusterIPs: [d.clusterIP],
    ports: d.ports.map((p) => ({
      name: p.name,
      protocol: p.protocol,
      port: p.port,
      targetPort: p.targetPort,
      ...(p.nodePort === undefined ? {} : { nodePort: p.nodePort }),
    })),
  };
  if (d.selector) spec['selector'] = { ...d.selector };
  if (d.externalIPs) spec['externalIPs'] = [...d.externalIPs];
  if (d.type === 'LoadBalancer') spec['externalTrafficPolicy'] = 'Local';
  const obj: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(d.name, { namespace: d.namespace }),
    spec,
  };
  obj.status = d.loadBalancerIP
    ? { loadBalancer: { ingress: [{ ip: d.loadBalancerIP }] } }
    : { loadBalancer: {} };
  return obj;
}

function sliceObject(
  d: ServiceDef,
  endpoints: readonly { ip: string; nodeName?: string; pod?: string }[],
): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: meta(`${d.name}-${suffix(`${d.namespace}/${d.name}`)}`, {
      namespace: d.namespace,
      labels: {
        'kubernetes.io/service-name': d.name,
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      },
    }),
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: true, serving: true, terminating: false },
      ...(e.nodeName ? { nodeName: e.nodeName } : {}),
      ...(e.pod ? { targetRef: { kind: 'Pod', namespace: d.namespace, name: e.pod } } : {}),
    })),
    ports: d.ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.targetPort })),
  };
}

/** Service then EndpointSlice, for each service whose namespace the cluster has. */
export function serviceObjects(c: Cluster): KubeObject[] {
  const namespaces = new Set(c.namespaces.map((n) => n.name));
  const out: KubeObject[] = [];
  for (const d of SERVICES) {
    if (!namespaces.has(d.namespace)) continue;
    let endpoints: { ip: string; nodeName?: string; pod?: string }[];
    if (d.workload === undefined) {
      endpoints = [{ ip: c.nodes[0]!.ip }]; // the API server, on the first node
    } else {
      const pods: SimPod[] = [];
      for (const p of c.pods.values())
        if (p.namespace === d.namespace && p.workload.template.name === d.workload && !p.workload.churn)
          pods.push(p);
      endpoints = pods.map((p) => ({ ip: p.ip, nodeName: p.node.name, pod: p.name }));
    }
    out.push(serviceObject(d), sliceObject(d, endpoints));
  }
  return out;
}
