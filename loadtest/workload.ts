// A deterministic, felix-like key/value state for the bench: workload endpoints spread over
// nodes, namespaces and deployments, so values repeat the way real clusters do (pods of one
// deployment share labels, ports and profiles) and compression ratios are not flattered by
// identical values nor ruined by random ones. Self-contained: the sim datastore is not used,
// so the bench does not change when the simulator does.

import { Keys } from '../src/model/keys.js';
import type { JsonValue, KV } from '../src/model/types.js';

/** The field deltas carry their send time in (ms since the epoch, float64). */
export const SENT_AT_FIELD = 'benchSentAt';

export interface WorkloadOptions {
  keys: number;
  /** Pods per node (nodes = keys / podsPerNode). */
  podsPerNode: number;
  seed: number;
}

/** mulberry32: tiny, fast and good enough to make names and addresses look varied. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = 'bcdfghjklmnpqrstvwxz2456789';
const TEAMS = ['payments', 'search', 'checkout', 'identity', 'platform', 'data', 'ml', 'web'];
const TIERS = ['frontend', 'backend', 'cache', 'db', 'worker'];

interface Deployment {
  namespace: string;
  name: string;
  hash: string;
  labels: Record<string, string>;
  ports: { name: string; protocol: string; port: number }[];
}

export interface Workload {
  /** Keys in a stable order; deltas walk this list so no two generations share a key. */
  readonly keys: readonly string[];
  /** The initial value of key i. */
  initial(i: number): KV;
  /** The value of key i after its n-th change, stamped with a send time. */
  changed(i: number, n: number, sentAtMs: number): KV;
}

export function makeWorkload(opts: WorkloadOptions): Workload {
  const rand = rng(opts.seed);
  const word = (n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += ALNUM[Math.floor(rand() * ALNUM.length)];
    return s;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const namespaces = Array.from({ length: 40 }, (_, i) => `${pick(TEAMS)}-${word(4)}-${i}`);
  const deployments: Deployment[] = Array.from({ length: Math.max(1, Math.ceil(opts.keys / 8)) }, () => {
    const name = `${pick(TIERS)}-${word(6)}`;
    const hash = word(10);
    return {
      namespace: pick(namespaces),
      name,
      hash,
      labels: {
        app: name,
        'app.kubernetes.io/part-of': pick(TEAMS),
        'pod-template-hash': hash,
        tier: pick(TIERS),
      },
      ports: [{ name: 'http', protocol: 'tcp', port: 8000 + Math.floor(rand() * 1000) }],
    };
  });
  const nodes = Math.max(1, Math.ceil(opts.keys / opts.podsPerNode));
  const pods = Array.from({ length: opts.keys }, (_, i) => {
    const d = pick(deployments);
    const ip = `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    const mac = Array.from({ length: 6 }, () =>
      Math.floor(rand() * 256)
        .toString(16)
        .padStart(2, '0'),
    );
    return {
      d,
      node: `node-${(i % nodes).toString().padStart(5, '0')}.cluster.example`,
      pod: `${d.name}-${d.hash}-${word(5)}`,
      iface: `cali${word(11)}`,
      ip,
      mac: mac.join(':'),
    };
  });
  const keys = pods.map((p) => Keys.workloadEndpoint(p.node, p.d.namespace, p.pod));
  const value = (i: number, extra: Record<string, JsonValue>): JsonValue => {
    const p = pods[i]!;
    const sa = p.d.name;
    return {
      state: 'active',
      name: p.iface,
      mac: p.mac,
      profileIds: [`kns.${p.d.namespace}`, `ksa.${p.d.namespace}.${sa}`],
      ipv4Nets: [`${p.ip}/32`],
      ipv6Nets: [],
      labels: {
        ...p.d.labels,
        'projectcalico.org/namespace': p.d.namespace,
        'projectcalico.org/orchestrator': 'k8s',
        'projectcalico.org/serviceaccount': sa,
      },
      ports: p.d.ports,
      ...extra,
    };
  };
  return {
    keys,
    initial: (i) => ({ key: keys[i]!, value: value(i, {}) }),
    changed: (i, n, sentAtMs) => ({
      key: keys[i]!,
      value: value(i, { generationNote: `update-${n}`, [SENT_AT_FIELD]: sentAtMs }),
    }),
  };
}
