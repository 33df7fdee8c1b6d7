// The seed documents' tiered-policy lab mapped onto a namespace Lab (2 nodes × 3 pods): which
// lab pod plays which pod of the lab, the lab's non-Pod manifests (repaired as
// test/fixtures/calc/lab.yaml explains), and the Pod objects that place the identities on the
// Lab's nodes with the Lab's addresses. Shared by every dataplane e2e.

import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { PolicyCalculator } from '../../../src/agent/calc/index.js';
import { explain } from '../../../src/agent/dataplane/maps/index.js';
import type { KubeObject } from '../../../src/datastore/kube/object.js';
import type { LabPod } from './topology.js';

export interface Identity {
  ns: string;
  name: string;
  labels: Record<string, string>;
  sa: string;
}

/** Lab pod → the seed lab identity it takes. */
export const IDENTITIES: Readonly<Record<string, Identity>> = {
  'node0-pod0': { ns: 'frontend', name: 'frontend', labels: { app: 'frontend', tier: 'web' }, sa: 'default' },
  'node0-pod1': { ns: 'backend', name: 'api', labels: { app: 'api', tier: 'backend' }, sa: 'default' },
  'node0-pod2': { ns: 'kube-system', name: 'coredns', labels: { 'k8s-app': 'kube-dns' }, sa: 'coredns' },
  'node1-pod0': { ns: 'database', name: 'db', labels: { app: 'db', tier: 'data' }, sa: 'default' },
  'node1-pod1': {
    ns: 'frontend',
    name: 'frontend-2',
    labels: { app: 'frontend', tier: 'web' },
    sa: 'default',
  },
  'node1-pod2': { ns: 'backend', name: 'api-2', labels: { app: 'api', tier: 'backend' }, sa: 'default' },
};

/** The lab's namespaces, tiers and policies (everything but its Pods). */
export function labObjects(): KubeObject[] {
  const text = readFileSync(new URL('../../fixtures/calc/lab.yaml', import.meta.url), 'utf8');
  return parseAllDocuments(text, { uniqueKeys: false })
    .map((d) => d.toJS() as KubeObject)
    .filter((o) => o.kind !== 'Pod');
}

/** The Pod a lab pod stands for: on its Lab node, with its Lab address (labels overridable). */
export function podObject(pod: LabPod, labels?: Record<string, string>): KubeObject {
  const id = IDENTITIES[pod.name]!;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: id.name, namespace: id.ns, labels: labels ?? id.labels },
    spec: {
      nodeName: pod.node.name,
      serviceAccountName: id.sa,
      containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80 }] }],
    },
    status: { podIP: pod.ip },
  } as unknown as KubeObject;
}

/**
 * A real TCP connect from `s` to `d` must end as explain() judges the flow on `calc` (allowed:
 * connected; denied: no answer); returns that verdict. Silence is the expected answer to a
 * drop, so a short wait then; an allowed connect answers at once, but the first packet across
 * nodes may wait for ARP, so a long wait.
 */
export async function connectAsExplained(
  calc: PolicyCalculator,
  s: LabPod,
  d: LabPod,
  port: number,
): Promise<'allow' | 'deny'> {
  const expected = explain(calc, { srcIp: s.ip, dstIp: d.ip, protocol: 'tcp', dstPort: port });
  const got = await s.connect(d.ip, port, { timeoutMs: expected.verdict === 'allow' ? 3000 : 400 });
  expect(got, `${s.name} -> ${d.name}:${port}`).toBe(expected.verdict === 'allow' ? 'connected' : 'timeout');
  return expected.verdict;
}
