// deploy/: every overlay renders with `kubectl kustomize` (offline) into objects that the
// Kubernetes, cert-manager and prometheus-operator schemas accept, and the manifests agree
// with the code: RBAC with the watched resource table, env vars with the config schemas,
// the agent's mounts and capabilities with what it writes and runs, alerts with the metrics.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { size } from '../../src/cli/sizing.js';
import { agentSchema } from '../../src/config/agent-config.js';
import { checkServeConfig, serveSchema } from '../../src/config/serve-config.js';
import { envName } from '../../src/config/setting-names.js';
import { sizingSchema } from '../../src/config/sizing-config.js';
import { RESOURCE_TYPES, type ResourceType } from '../../src/datastore/kube/resources.js';
import { type KubeObject, one, render, validate } from '../harness/manifests.js';

const OVERLAYS = ['base', 'mtls', 'monitoring', 'dev'] as const;
const rendered = {} as Record<(typeof OVERLAYS)[number], KubeObject[]>;

beforeAll(async () => {
  for (const o of OVERLAYS) rendered[o] = await render(o);
});

// biome-ignore lint/suspicious/noExplicitAny: manifests are walked as plain JSON
type J = any;
const podSpec = (o: KubeObject): J => (o.spec as J).template.spec;
const container = (o: KubeObject): J => podSpec(o).containers[0];
const env = (o: KubeObject): Record<string, J> =>
  Object.fromEntries(container(o).env.map((e: J) => [e.name, e.value ?? e.valueFrom]));
const clone = <T>(x: T): T => structuredClone(x);

describe('deploy/ renders and validates', () => {
  it('every overlay renders, and every object passes its schema with no unknown field', async () => {
    const all = OVERLAYS.flatMap((o) => rendered[o]);
    expect(rendered.base.length).toBeGreaterThanOrEqual(9);
    const problems = await validate(all);
    expect([...problems]).toEqual([]);
  });

  it('rejects a typo’d field at any depth, a wrong type, and a kind it has no schema for', async () => {
    const deploy = clone(one(rendered.base, 'Deployment', 'tabby'));
    container(deploy).readinessProbe.httpGet.paht = '/readyz';
    const ds = clone(one(rendered.base, 'DaemonSet', 'tabby-agent'));
    (ds.spec as J).replicas = 3; // DaemonSets have none
    const pdb = clone(one(rendered.base, 'PodDisruptionBudget', 'tabby'));
    (pdb.spec as J).maxUnavailable = true;
    const cert = clone(one(rendered.mtls, 'Certificate', 'tabby-server'));
    (cert.spec as J).dnsName = ['tabby'];
    const rule = clone(one(rendered.monitoring, 'PrometheusRule', 'tabby'));
    (rule.spec as J).groups[0].rules[0].fro = '10m';
    const unknown = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    const problems = await validate([deploy, ds, pdb, cert, rule, unknown]);
    expect(problems.get('Deployment/tabby')?.join()).toMatch(/paht/);
    expect(problems.get('DaemonSet/tabby-agent')?.join()).toMatch(/replicas/);
    expect(problems.get('PodDisruptionBudget/tabby')?.join()).toMatch(/maxUnavailable|boolean/);
    expect(problems.get('Certificate/tabby-server')?.join()).toMatch(/dnsName/);
    expect(problems.get('PrometheusRule/tabby')?.join()).toMatch(/fro/);
    expect(problems.get('Widget/w')?.join()).toMatch(/no model for example.com\/v1 Widget/);
  });

  it('tags the images with the package version', () => {
    const version = JSON.parse(readFileSync('package.json', 'utf8')).version;
    for (const o of rendered.base.filter((x) => x.kind === 'Deployment' || x.kind === 'DaemonSet'))
      expect(container(o).image).toBe(`${o.kind === 'DaemonSet' ? 'tabby-agent' : 'tabby'}:${version}`);
  });
});

/** (group, resource, verb) triples a ClusterRole grants. */
function grants(role: KubeObject): Set<string> {
  const out = new Set<string>();
  for (const r of role.rules as J[])
    for (const g of r.apiGroups)
      for (const res of r.resources) for (const v of r.verbs) out.add(`${g}|${res}|${v}`);
  return out;
}
/** What the code needs: list+watch per watched type, patch on nodes (WireGuard key reports). */
function needed(types: readonly ResourceType[]): Set<string> {
  const out = new Set(types.flatMap((t) => ['list', 'watch'].map((v) => `${t.group}|${t.plural}|${v}`)));
  out.add('|nodes|patch');
  return out;
}
const diff = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();

describe('RBAC is exactly what the code uses', () => {
  it('the ClusterRole grants list/watch on each type of resources.ts, patch on nodes, nothing else', () => {
    const have = grants(one(rendered.base, 'ClusterRole', 'tabby'));
    const want = needed(RESOURCE_TYPES);
    expect({ missing: diff(want, have), extra: diff(have, want) }).toEqual({ missing: [], extra: [] });
  });

  it('a newly watched type without its RBAC line shows up as missing', () => {
    const have = grants(one(rendered.base, 'ClusterRole', 'tabby'));
    const added: ResourceType = {
      group: 'crd.projectcalico.org',
      version: 'v1',
      plural: 'externalnetworks',
      kind: 'ExternalNetwork',
      namespaced: false,
    };
    expect(diff(needed([...RESOURCE_TYPES, added]), have)).toEqual([
      'crd.projectcalico.org|externalnetworks|list',
      'crd.projectcalico.org|externalnetworks|watch',
    ]);
  });

  it('binds the role to the replicas’ ServiceAccount; the agents may only list/watch EndpointSlices in their namespace', () => {
    const binding = one(rendered.base, 'ClusterRoleBinding', 'tabby') as J;
    const deploy = one(rendered.base, 'Deployment', 'tabby');
    expect(binding.roleRef).toMatchObject({ kind: 'ClusterRole', name: 'tabby' });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: podSpec(deploy).serviceAccountName, namespace: 'tabby-system' },
    ]);
    const ds = one(rendered.base, 'DaemonSet', 'tabby-agent');
    expect(podSpec(ds).automountServiceAccountToken).toBe(true);
    const agentBinding = one(rendered.base, 'RoleBinding', 'tabby-agent-discovery') as J;
    expect(agentBinding.subjects).toEqual([
      { kind: 'ServiceAccount', name: podSpec(ds).serviceAccountName, namespace: 'tabby-system' },
    ]);
    const role = one(rendered.base, 'Role', agentBinding.roleRef.name);
    expect(role.metadata.namespace).toBe('tabby-system');
    expect([...grants(role)].sort()).toEqual([
      'discovery.k8s.io|endpointslices|list',
      'discovery.k8s.io|endpointslices|watch',
    ]);
    // Discovery watches the Service the agents would dial, by its port named sync.
    const svc = one(rendered.base, 'Service', 'tabby') as J;
    expect(env(ds).TABBY_DISCOVERY_SERVICE).toBe(`k8s:tabby-system/${svc.metadata.name}`);
    expect(svc.spec.ports.map((p: J) => p.name)).toContain('sync');
    expect(
      rendered.base
        .filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['tabby', 'tabby-agent-discovery']);
  });
});

// Settings the mTLS work adds (issue 10), named as planned; the overlays already use them.
const PLANNED = {
  serve: ['tlsCertFile', 'tlsKeyFile', 'tlsClientCaFile', 'tlsAllowedClientCns', 'tlsAllowedClientUriSans'],
  agent: ['tlsCertFile', 'tlsKeyFile', 'tlsCaFile', 'tlsServerName'],
};
const known = (keys: string[]) => new Set(['TABBY_CONFIG', ...keys.map(envName)]);
const portOf = (hostPort: string) => Number(hostPort.split(':').pop());

describe('the replicas (Deployment tabby)', () => {
  it('sets only settings `tabby serve` has', () => {
    const names = known([...Object.keys(serveSchema.shape), ...PLANNED.serve]);
    for (const o of OVERLAYS) {
      const unknown = Object.keys(env(one(rendered[o], 'Deployment', 'tabby'))).filter((n) => !names.has(n));
      expect(unknown, o).toEqual([]);
    }
  });

  it('every overlay’s settings make a configuration `tabby serve` accepts (one that fails at start is caught here)', () => {
    const byEnv = new Map(Object.keys(serveSchema.shape).map((k) => [envName(k), k]));
    for (const o of OVERLAYS) {
      const settings: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(env(one(rendered[o], 'Deployment', 'tabby'))))
        if (typeof value === 'string' && byEnv.has(name)) settings[byEnv.get(name)!] = value;
      expect(checkServeConfig(serveSchema.parse(settings)), o).toEqual([]);
    }
  });

  it('three spread replicas, a PDB of one, probes and ports that match the settings', () => {
    const d = one(rendered.base, 'Deployment', 'tabby') as J;
    const e = env(d);
    const c = container(d);
    expect(d.spec.replicas).toBe(3);
    const ports = Object.fromEntries(c.ports.map((p: J) => [p.name, p.containerPort]));
    expect(ports).toEqual({ sync: portOf(e.TABBY_LISTEN), metrics: portOf(e.TABBY_HEALTH_LISTEN) });
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/livez', port: 'metrics' });
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'metrics' });
    const spread = podSpec(d).topologySpreadConstraints.map((t: J) => t.topologyKey);
    expect(spread).toEqual(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
    const anti = podSpec(d).affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    expect(anti[0].topologyKey).toBe('kubernetes.io/hostname');
    const labels = d.spec.template.metadata.labels;
    for (const t of [...podSpec(d).topologySpreadConstraints, ...anti])
      expect(t.labelSelector.matchLabels).toEqual(labels);
    const pdb = one(rendered.base, 'PodDisruptionBudget', 'tabby') as J;
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: labels } });
    const svc = one(rendered.base, 'Service', 'tabby') as J;
    expect(svc.spec.selector).toEqual(labels);
    expect(svc.spec.ports.map((p: J) => [p.name, p.port, p.targetPort])).toEqual([
      ['sync', ports.sync, 'sync'],
      ['metrics', ports.metrics, 'metrics'],
    ]);
  });

  it('outlives its drain on SIGTERM, runs as non-root on a read-only root with memory requests and limits', () => {
    const d = one(rendered.base, 'Deployment', 'tabby');
    const drainMs = Number(
      env(d).TABBY_SHUTDOWN_DRAIN_MS ?? serveSchema.shape.shutdownDrainMs.parse(undefined),
    );
    expect(podSpec(d).terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(drainMs + 15_000);
    expect(podSpec(d).securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(container(d).securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container(d).resources).toMatchObject({
      requests: { cpu: expect.any(String), memory: expect.any(String) },
      limits: { memory: expect.any(String) },
    });
  });
});

describe('the replica’s memory request', () => {
  it('covers `tabby sizing` at 1,000 nodes for the workers each overlay runs', () => {
    for (const o of OVERLAYS) {
      const d = one(rendered[o], 'Deployment', 'tabby');
      const workers = Number(env(d).TABBY_WORKERS ?? 1);
      const need = size(1_000, { ...sizingSchema.parse({}), workers }).memoryRequestMiB;
      const request = String(container(d).resources.requests.memory);
      expect(request, `${o}: ${workers} workers`).toMatch(/^\d+Mi$/);
      expect(Number.parseInt(request, 10), `${o}: ${workers} workers`).toBeGreaterThanOrEqual(need);
    }
  });
});

describe('the agents (DaemonSet tabby-agent)', () => {
  const ds = () => one(rendered.base, 'DaemonSet', 'tabby-agent');
  /** Where each mount comes from: its volume, by mount path. */
  const mounts = (o: KubeObject): Record<string, J> => {
    const vols = Object.fromEntries(podSpec(o).volumes.map((v: J) => [v.name, v]));
    return Object.fromEntries(container(o).volumeMounts.map((m: J) => [m.mountPath, vols[m.name]]));
  };
  /** The mount a path lies under. */
  const mountOf = (o: KubeObject, path: string): J => {
    const m = Object.keys(mounts(o))
      .filter((p) => path === p || path.startsWith(`${p}/`))
      .sort((a, b) => b.length - a.length)[0];
    return m === undefined ? undefined : { path: m, volume: mounts(o)[m] };
  };
  const setting = (o: KubeObject, key: keyof typeof agentSchema.shape): string =>
    env(o)[envName(key)] ?? (agentSchema.shape[key] as J).parse(undefined);

  it('sets only settings `tabby agent` has, and its node name from the pod’s node', () => {
    const names = known([...Object.keys(agentSchema.shape), ...PLANNED.agent]);
    for (const o of ['base', 'mtls', 'monitoring'] as const) {
      const e = env(one(rendered[o], 'DaemonSet', 'tabby-agent'));
      expect(
        Object.keys(e).filter((n) => !names.has(n)),
        o,
      ).toEqual([]);
      expect(e.TABBY_NODE).toEqual({ fieldRef: { fieldPath: 'spec.nodeName' } });
    }
  });

  it('host network, every taint tolerated, node-critical, root with only the network capabilities', () => {
    const spec = podSpec(ds());
    expect(spec).toMatchObject({ hostNetwork: true, priorityClassName: 'system-node-critical' });
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(container(ds()).securityContext).toEqual({
      runAsUser: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      // iptables/nft/ipset/ip/wg and BIRD's kernel routes; raw sockets; BIRD's port 179.
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW', 'NET_BIND_SERVICE'] },
    });
  });

  it('every path the agent writes is a mount (the root is read-only); what must survive is on the host', () => {
    const o = ds();
    const wgSource = readFileSync('src/agent/dataplane/wireguard/manager.ts', 'utf8');
    expect(wgSource).toContain("socketDir: opts.socketDir ?? '/var/run/wireguard'");
    const iptablesSource = readFileSync('src/agent/dataplane/iptables/driver.ts', 'utf8');
    expect(iptablesSource).toContain("'iptables-restore', ['-w'");
    const host = (path: string) => mountOf(o, path)?.volume.hostPath;
    // BIRD's socket: reachable by `tabby node` / birdc on the host.
    expect(host(dirname(setting(o, 'birdSocket')))).toMatchObject({ type: 'DirectoryOrCreate' });
    // The WireGuard private key: a new pod must not rotate the node's key.
    expect(host(dirname(setting(o, 'wireguardKeyFile')))).toMatchObject({ type: 'DirectoryOrCreate' });
    // wireguard-go's UAPI sockets, where `wg` looks.
    expect(host('/var/run/wireguard')).toEqual({ path: '/var/run/wireguard', type: 'DirectoryOrCreate' });
    // iptables -w: the host's lock, shared with kube-proxy.
    expect(host('/run/xtables.lock')).toEqual({ path: '/run/xtables.lock', type: 'FileOrCreate' });
    // wireguard-go's TUN device.
    expect(host('/dev/net/tun')).toEqual({ path: '/dev/net/tun', type: 'CharDevice' });
    // The BIRD config it writes (regenerated from the stream: no need to keep it).
    expect(mountOf(o, dirname(setting(o, 'birdConfig')))?.volume.emptyDir).toBeDefined();
    // wg syncconf's file holds the private key: memory, never disk.
    expect(mountOf(o, '/tmp')?.volume.emptyDir).toMatchObject({ medium: 'Memory' });
    // Host paths mounted where they are on the host, so host tools and the agent agree.
    for (const [path, vol] of Object.entries(mounts(o)))
      if (vol.hostPath) expect(vol.hostPath.path).toBe(path);
  });

  it('probes the agent’s health port on the loopback it listens on', () => {
    const o = ds();
    const listen = setting(o, 'healthListen');
    expect(listen).toMatch(/^127\.0\.0\.1:/);
    for (const [probe, path] of [
      ['livenessProbe', '/livez'],
      ['readinessProbe', '/readyz'],
    ] as const)
      expect(container(o)[probe].httpGet).toEqual({ host: '127.0.0.1', path, port: portOf(listen) });
  });
});

describe('overlays', () => {
  it('mtls: the replicas and agents read their files from the volumes cert-manager fills', () => {
    const objs = rendered.mtls;
    const d = one(objs, 'Deployment', 'tabby');
    const secretVolume = podSpec(d).volumes.find((v: J) => v.name === 'tls');
    expect(secretVolume.secret.secretName).toBe(
      (one(objs, 'Certificate', 'tabby-server').spec as J).secretName,
    );
    const dir = container(d).volumeMounts.find((m: J) => m.name === 'tls').mountPath;
    const e = env(d);
    expect([e.TABBY_TLS_CERT_FILE, e.TABBY_TLS_KEY_FILE, e.TABBY_TLS_CLIENT_CA_FILE]).toEqual(
      ['tls.crt', 'tls.key', 'ca.crt'].map((f) => posix.join(dir, f)),
    );
    const ds = one(objs, 'DaemonSet', 'tabby-agent');
    const attrs = podSpec(ds).volumes.find((v: J) => v.name === 'tls').csi.volumeAttributes;
    // The Issuer it names exists in the overlay, and the URI SAN it issues to an agent pod in
    // the agents' namespace matches the replicas' {pod} allow-list entry.
    one(objs, attrs['csi.cert-manager.io/issuer-kind'], attrs['csi.cert-manager.io/issuer-name']);
    const issued = String(attrs['csi.cert-manager.io/uri-sans'])
      .replace(/\$\{POD_NAMESPACE\}/g, (ds.metadata as J).namespace)
      .replace(/\$\{POD_NAME\}/g, '{pod}');
    expect(e.TABBY_TLS_ALLOWED_CLIENT_URI_SANS.split(',')).toContain(issued);
    expect(e.TABBY_TLS_AGENT_NAMESPACE).toBe((ds.metadata as J).namespace);
    // csi-driver expands only these (cert-manager/csi-driver pkg/requestgen): no ${NODE_NAME}.
    const vars = Object.values(attrs).flatMap((v) =>
      [...String(v).matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]),
    );
    expect(
      vars.filter((v) => !['POD_NAME', 'POD_NAMESPACE', 'POD_UID', 'SERVICE_ACCOUNT_NAME'].includes(v!)),
    ).toEqual([]);
    // The agents expect the name the server certificate carries.
    const serverName = env(ds).TABBY_TLS_SERVER_NAME;
    expect((one(objs, 'Certificate', 'tabby-server').spec as J).dnsNames).toContain(serverName);
    expect(env(ds).TABBY_SERVER.split(':')[0]).toBe(serverName);
  });

  it('monitoring: the ServiceMonitor scrapes the metrics port; alerts use metrics the code exports', () => {
    const objs = rendered.monitoring;
    const sm = one(objs, 'ServiceMonitor', 'tabby').spec as J;
    expect(sm.selector.matchLabels).toEqual((one(objs, 'Service', 'tabby').metadata as J).labels);
    expect(sm.endpoints.map((e: J) => e.port)).toEqual(['metrics']);
    const exprs = ((one(objs, 'PrometheusRule', 'tabby').spec as J).groups as J[]).flatMap((g) =>
      g.rules.map((r: J) => r.expr as string),
    );
    const used = new Set(exprs.flatMap((x) => x.match(/\btabby_[a-z_]+/g) ?? []));
    const sources = sourceText('src');
    // tabby_tls_failures_total{reason}: the mTLS work of issue 10 adds it under this name.
    const missing = [...used].filter((m) => !sources.includes(`'${m}'`) && m !== 'tabby_tls_failures_total');
    expect(missing).toEqual([]);
    expect(used.size).toBeGreaterThanOrEqual(5);
  });

  it('dev: one replica on the emulator, no agents on real nodes', () => {
    const objs = rendered.dev;
    expect(objs.filter((o) => o.kind === 'DaemonSet')).toEqual([]);
    const d = one(objs, 'Deployment', 'tabby') as J;
    expect(d.spec.replicas).toBe(1);
    const kc = env(d).TABBY_KUBECONFIG as string;
    const mount = container(d).volumeMounts.find((m: J) => kc.startsWith(`${m.mountPath}/`));
    const volume = podSpec(d).volumes.find((v: J) => v.name === mount.name);
    const cm = one(objs, 'ConfigMap', volume.configMap.name) as J;
    const server = new URL(parse(cm.data[posix.basename(kc)]).clusters[0].cluster.server);
    const svc = one(objs, 'Service', server.hostname.split('.')[0]!) as J;
    expect(svc.spec.ports.map((p: J) => p.port)).toContain(Number(server.port));
    expect(container(one(objs, 'Deployment', svc.metadata.name)).args[0]).toBe('apiserver-emulator');
  });
});

function sourceText(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile() && f.name.endsWith('.ts'))
    .map((f) => readFileSync(join(f.parentPath, f.name), 'utf8'))
    .join('\n');
}

describe('node-patch admission policy (what `patch nodes` is narrowed to)', () => {
  const policy = () => one(rendered.base, 'ValidatingAdmissionPolicy', 'tabby-node-patch');
  const KEY = 'projectcalico.org/WireguardPublicKey';
  const node = (): J => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: 'node-1',
      labels: { 'kubernetes.io/hostname': 'node-1' },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: { podCIDR: '10.244.1.0/24', taints: [] },
  });
  const replica = (): string => {
    const ns = parse(readFileSync('deploy/base/kustomization.yaml', 'utf8')).namespace;
    const sa = one(rendered.base, 'ClusterRoleBinding', 'tabby').subjects as J[];
    expect(sa[0].namespace).toBe(ns);
    return `system:serviceaccount:${ns}:${sa[0].name}`;
  };

  /** The API server's evaluation of the policy for one UPDATE: match conditions, variables in order, validations. */
  async function admits(username: string, oldObject: J, object: J): Promise<boolean> {
    const { evaluate } = await import('@marcbachmann/cel-js');
    const spec = policy().spec as J;
    const ctx: J = { request: { userInfo: { username } }, object, oldObject, variables: {} };
    if (!spec.matchConditions.every((c: J) => evaluate(c.expression, ctx) === true)) return true;
    for (const v of spec.variables) ctx.variables[v.name] = evaluate(v.expression, ctx);
    return spec.validations.every((v: J) => evaluate(v.expression, ctx) === true);
  }

  it('binds to the replicas’ ServiceAccount in the kustomization’s namespace and denies', () => {
    const spec = policy().spec as J;
    expect(spec.matchConditions[0].expression).toContain(`'${replica()}'`);
    const binding = one(rendered.base, 'ValidatingAdmissionPolicyBinding', 'tabby-node-patch').spec as J;
    expect(binding).toMatchObject({ policyName: 'tabby-node-patch', validationActions: ['Deny'] });
    expect(spec.failurePolicy).toBe('Fail');
  });

  it('lets a replica set, rotate and clear the WireGuard key annotation, and nothing else', async () => {
    const me = replica();
    const before = node();
    const withKey = node();
    withKey.metadata.annotations[KEY] = 'key-1';
    const rotated = structuredClone(withKey);
    rotated.metadata.annotations[KEY] = 'key-2';
    const bare = node();
    delete bare.metadata.annotations;
    const bareWithKey = structuredClone(bare);
    bareWithKey.metadata.annotations = { [KEY]: 'k' };
    expect(await admits(me, before, withKey)).toBe(true);
    expect(await admits(me, withKey, rotated)).toBe(true);
    expect(await admits(me, withKey, before)).toBe(true);
    expect(await admits(me, bare, bareWithKey)).toBe(true);

    const edits: Record<string, (n: J) => void> = {
      'another annotation changed': (n) => {
        n.metadata.annotations['node.alpha.kubernetes.io/ttl'] = '30';
      },
      'another annotation added': (n) => {
        n.metadata.annotations['x'] = 'y';
      },
      'another annotation removed': (n) => {
        delete n.metadata.annotations['node.alpha.kubernetes.io/ttl'];
      },
      'a label added': (n) => {
        n.metadata.labels['node-role.kubernetes.io/control-plane'] = '';
      },
      cordoned: (n) => {
        n.spec.unschedulable = true;
      },
      tainted: (n) => {
        n.spec.taints.push({ key: 'evil', effect: 'NoExecute' });
      },
      'a finalizer added': (n) => {
        n.metadata.finalizers = ['example.com/block-delete'];
      },
    };
    for (const [what, edit] of Object.entries(edits)) {
      const changed = structuredClone(withKey);
      edit(changed);
      expect(await admits(me, withKey, changed), what).toBe(false);
    }
    // Other identities are not this policy's business (the kubelet updates its own Node).
    const relabelled = structuredClone(withKey);
    relabelled.metadata.labels.zone = 'a';
    expect(await admits('system:node:node-1', withKey, relabelled)).toBe(true);
  });
});
