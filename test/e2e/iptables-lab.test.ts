// The seed lab's identities on a namespace lab (2 nodes × 3 pods): the calc model is built from
// converted YAML (the lab's namespaces, tiers and policies, repaired as test/fixtures/calc/lab.yaml;
// pods placed on the lab's nodes with the lab's IPs), rendered per node, applied with the real
// driver inside each node namespace, then checked with real TCP/UDP: every verdict must equal
// explain()'s. Also: incremental ipset-only updates, idempotence, foreign rules untouched, cleanup.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ParsedRule, PolicyCalculator } from '../../src/agent/calc/index.js';
import {
  execShim,
  IptablesDriver,
  type RenderedDataplane,
  render,
  renderRule,
} from '../../src/agent/dataplane/iptables/index.js';
import { explain } from '../../src/agent/dataplane/maps/index.js';
import { DataplaneError, snapshotOf } from '../../src/agent/dataplane/rules/index.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { keyKind } from '../../src/model/keys.js';
import type { KV } from '../../src/model/types.js';
import { NO_SIDE } from '../harness/rules.js';
import {
  apiServiceSlice,
  namedPortsPolicy,
  orGroupsPolicy,
  serviceDenyPolicy,
} from './harness/extra-policies.js';
import { describeE2E, preflight } from './harness/preflight.js';
import { connectAsExplained, IDENTITIES, labObjects, podObject } from './harness/seed-lab.js';
import { Lab } from './harness/topology.js';

const reason = await preflight(['ip', 'iptables', 'iptables-restore', 'iptables-save', 'ipset']);

describeE2E('e2e iptables: the seed lab enforced by rendered chains (2 nodes × 3 pods)', reason, () => {
  let lab: Lab;
  const calcs = new Map<string, PolicyCalculator>();
  const drivers = new Map<string, IptablesDriver>();
  const applied = new Map<string, RenderedDataplane>();
  /** Converted KVs with each WEP's interface renamed to the lab's host-side veth. */
  const toKvs = (objs: readonly KubeObject[]): KV[] =>
    objs.flatMap((o) => {
      const kvs = convertObject(o);
      if (o.kind !== 'Pod') return kvs;
      const pod = lab.pods.find((p) => IDENTITIES[p.name]!.name === o.metadata.name)!;
      return kvs.map((kv) =>
        keyKind(kv.key) === 'workloadEndpoint'
          ? { key: kv.key, value: { ...(kv.value as Record<string, never>), name: pod.hostIface } }
          : kv,
      );
    });
  const pod = (name: string) => lab.pods.find((p) => IDENTITIES[p.name]!.name === name)!;

  async function applyAll(): Promise<Map<string, Awaited<ReturnType<IptablesDriver['apply']>>>> {
    const results = new Map();
    for (const node of lab.nodes) {
      const r = render(snapshotOf(calcs.get(node.name)!));
      expect(r.warnings).toEqual([]);
      results.set(node.name, await drivers.get(node.name)!.apply(r));
      applied.set(node.name, r);
    }
    return results;
  }

  const check = (src: string, dst: string, port: number) =>
    connectAsExplained(calcs.get('node0')!, pod(src), pod(dst), port);

  beforeAll(async () => {
    lab = await Lab.create({ nodes: 2, podsPerNode: 3 });
    const kvs = toKvs([...labObjects(), ...lab.pods.map((p) => podObject(p))]);
    for (const node of lab.nodes) {
      const calc = new PolicyCalculator(node.name);
      expect(calc.apply(kvs).invalid).toEqual([]);
      calcs.set(node.name, calc);
      drivers.set(node.name, new IptablesDriver(execShim({ netns: node.ns })));
    }
    await Promise.all(lab.pods.flatMap((p) => [p.listen(80), p.listen(8080)]));
    await pod('coredns').listenUdp(53);
    // Before any policy: every pair connects (this also warms the neighbour caches, so a later
    // timeout means a DROP, not a slow first ARP).
    const open = await Promise.all(
      lab.pods.flatMap((a) => lab.pods.filter((b) => b !== a).map((b) => a.connect(b.ip, 80))),
    );
    expect(new Set(open)).toEqual(new Set(['connected']));
    await applyAll();
  }, 30_000);

  afterAll(async () => {
    for (const d of drivers.values()) await d.cleanup().catch(() => undefined);
    await lab?.destroy();
  });

  it('the lab criteria, with real TCP, equal explain() (same node and across nodes)', async () => {
    expect(await check('frontend', 'api', 80)).toBe('allow'); // same node
    expect(await check('frontend', 'api-2', 80)).toBe('allow'); // across nodes
    expect(await check('frontend', 'db', 80)).toBe('deny');
    expect(await check('frontend-2', 'db', 80)).toBe('deny'); // same node (node1)
    expect(await check('api', 'db', 80)).toBe('allow');
    expect(await check('api-2', 'db', 80)).toBe('allow');
    // Calico semantics: nothing governs db egress in the application tier, nor frontend ingress.
    expect(await check('db', 'frontend', 80)).toBe('allow');
    expect(await check('db', 'frontend-2', 80)).toBe('allow');
  });

  it('what the application policies do not allow is dropped; established replies flow', async () => {
    expect(await check('frontend', 'api', 8080)).toBe('deny');
    expect(await check('api', 'frontend', 80)).toBe('deny');
    expect(await check('api-2', 'frontend-2', 80)).toBe('deny');
    expect(await check('db', 'api', 8080)).toBe('allow');
  });

  it('DNS to CoreDNS over UDP is allowed by the platform tier', async () => {
    for (const src of ['frontend', 'api', 'db']) {
      const e = explain(calcs.get('node0')!, {
        srcIp: pod(src).ip,
        dstIp: pod('coredns').ip,
        protocol: 'udp',
        dstPort: 53,
      });
      expect(e.verdict).toBe('allow');
      expect(await pod(src).udpPing(pod('coredns').ip, 53)).toBe('reply');
    }
  });

  it('re-applying the same state writes nothing', async () => {
    for (const r of (await applyAll()).values()) {
      expect(r).toMatchObject({
        chainsWritten: [],
        chainsDeleted: [],
        hookRewritten: false,
        setsWritten: [],
      });
    }
  });

  it('a label change elsewhere updates only IP set members (swap), and traffic follows', async () => {
    const relabel = (labels: Record<string, string>) => {
      const kvs = toKvs([podObject(lab.pod('node1-pod2'), labels)]);
      for (const c of calcs.values()) c.apply(kvs);
    };
    relabel({ app: 'api-v2', tier: 'backend' });
    const results = await applyAll();
    expect(results.get('node0')).toMatchObject({ chainsWritten: [], hookRewritten: false });
    expect(results.get('node0')!.setsWritten).toHaveLength(1);
    expect(await check('frontend', 'api-2', 80)).toBe('deny');
    expect(await check('frontend', 'api', 80)).toBe('allow');
    relabel(IDENTITIES['node1-pod2']!.labels);
    await applyAll();
    expect(await check('frontend', 'api-2', 80)).toBe('allow');
  });

  it('OR groups (several nets, >15 port slots, negated nets) behave as explain() says', async () => {
    // 16 ports (two multiport matches), two nets (one of them api-2) minus a notNet: the
    // scratch-mark encoding. 80 sits in the second port chunk.
    const extra = orGroupsPolicy(pod('api-2').ip, pod('db').ip);
    const setPolicy = (o: KubeObject, del: boolean) => {
      const kvs = convertObject(o).map((kv) => (del ? { key: kv.key, value: null } : kv));
      for (const c of calcs.values()) c.apply(kvs);
    };
    setPolicy(extra, false);
    try {
      await applyAll();
      expect(await check('frontend', 'api-2', 80)).toBe('deny'); // in nets, second port chunk
      expect(await check('frontend', 'api-2', 8080)).toBe('deny'); // frontend-policy, as before
      expect(await check('frontend', 'api', 80)).toBe('allow'); // not in nets
      expect(await check('frontend-2', 'api-2', 80)).toBe('deny'); // same node, node1
      expect(await check('db', 'frontend', 80)).toBe('allow'); // db is not selected
      const e = explain(calcs.get('node0')!, {
        srcIp: pod('frontend').ip,
        dstIp: pod('api-2').ip,
        protocol: 'tcp',
        dstPort: 80,
      });
      expect(e.egress.decidedBy).toMatchObject({ kind: 'rule', tier: 'security', action: 'deny' });
    } finally {
      setPolicy(extra, true);
      await applyAll();
    }
    expect(await check('frontend', 'api-2', 80)).toBe('allow');
  });

  it('named ports (hash:ip,port sets, OR numeric ports) decide as explain() says', async () => {
    // Deny frontend -> api's `http` (or 8081); allow frontend -> db's `http` at egress (db's
    // ingress policy still denies it). Only named ports match the pods' port 80.
    const extra = namedPortsPolicy();
    const setPolicy = (o: KubeObject, del: boolean) => {
      const kvs = convertObject(o).map((kv) => (del ? { key: kv.key, value: null } : kv));
      for (const c of calcs.values()) c.apply(kvs);
    };
    const decidedBy = (src: string, dst: string, port: number) =>
      explain(calcs.get('node0')!, { srcIp: pod(src).ip, dstIp: pod(dst).ip, protocol: 'tcp', dstPort: port })
        .egress.decidedBy;
    setPolicy(extra, false);
    try {
      await applyAll();
      // `ipset save` reads hash:ip,port members back as rendered: nothing to rewrite.
      for (const r of (await applyAll()).values()) expect(r.setsWritten).toEqual([]);
      expect([...applied.get('node0')!.ipSets.values()].map((s) => s.type)).toContain('hash:ip,port');
      expect(await check('frontend', 'api', 80)).toBe('deny'); // same node
      expect(await check('frontend', 'api-2', 80)).toBe('deny'); // across nodes
      expect(await check('frontend-2', 'api-2', 80)).toBe('deny'); // same node, node1
      expect(await check('frontend', 'db', 80)).toBe('deny'); // egress allowed by the named port
      expect(await check('frontend-2', 'db', 80)).toBe('deny');
      expect(await check('frontend', 'db', 8080)).toBe('deny'); // not the named port
      expect(await check('db', 'api', 80)).toBe('allow'); // db is not selected
      expect(decidedBy('frontend', 'api', 80)).toMatchObject({
        kind: 'rule',
        tier: 'security',
        action: 'deny',
      });
      expect(decidedBy('frontend', 'db', 80)).toMatchObject({
        kind: 'rule',
        tier: 'security',
        action: 'allow',
      });
    } finally {
      setPolicy(extra, true);
      await applyAll();
    }
    expect(await check('frontend', 'api', 80)).toBe('allow');
    expect(await check('frontend', 'db', 80)).toBe('deny');
  });

  it('service matches (the service EndpointSlices as hash:ip,port / hash:net sets) decide as explain() says', async () => {
    // Deny frontend -> the `backend/api` service. Its slice lists api-2 (port 80) only at
    // first: api's pod is not an endpoint, and 8080 is not a service port.
    const svcPolicy = serviceDenyPolicy();
    const slice = apiServiceSlice;
    const set = (objs: KubeObject[], del = false) => {
      const kvs = objs
        .flatMap((o) => convertObject(o))
        .map((kv) => (del ? { key: kv.key, value: null } : kv));
      for (const c of calcs.values()) c.apply(kvs);
    };
    const decidedBy = (src: string, dst: string, port: number) =>
      explain(calcs.get('node0')!, { srcIp: pod(src).ip, dstIp: pod(dst).ip, protocol: 'tcp', dstPort: port })
        .egress.decidedBy;
    set([svcPolicy, slice([pod('api-2').ip])]);
    try {
      await applyAll();
      expect(decidedBy('frontend', 'api-2', 80)).toMatchObject({
        kind: 'rule',
        tier: 'security',
        action: 'deny',
      });
      expect(await check('frontend', 'api-2', 80)).toBe('deny'); // across nodes
      expect(await check('frontend-2', 'api-2', 80)).toBe('deny'); // same node, node1
      expect(await check('frontend', 'api', 80)).toBe('allow'); // not an endpoint of the service
      expect(await check('frontend', 'api-2', 8080)).toBe(await check('frontend', 'api', 8080)); // not a service port
      // The slice gains api's pod: a set member change, no chain rewritten, traffic follows.
      set([slice([pod('api-2').ip, pod('api').ip])]);
      const results = await applyAll();
      expect(results.get('node0')!.chainsWritten).toEqual([]);
      expect(await check('frontend', 'api', 80)).toBe('deny');
    } finally {
      set([svcPolicy, slice([])], true);
      await applyAll();
    }
    expect(await check('frontend', 'api-2', 80)).toBe('allow');
  });

  it('every rule encoding the unit tests show is accepted by the kernel (iptables-restore --test)', async () => {
    const side = NO_SIDE;
    const rules: ParsedRule[] = [
      { action: 'log', protocol: 'udp', src: side, dst: side },
      { action: 'next-tier', notProtocol: 'tcp', src: { ...side, notNets: ['10.0.0.0/8'] }, dst: side },
      { action: 'deny', protocol: 'icmp', icmpType: 8, icmpCode: 0, notIcmpType: 3, src: side, dst: side },
      {
        action: 'allow',
        protocol: 'sctp',
        src: { ...side, ports: ['1:2'] },
        dst: { ...side, notPorts: [5, 7] },
      },
      {
        action: 'allow',
        protocol: 'tcp',
        src: { ...side, nets: ['10.0.0.0/8', '10.2.0.0/16'], notNets: ['10.9.0.0/16', '10.2.3.0/24'] },
        dst: { ...side, ports: Array.from({ length: 20 }, (_, i) => `${1000 + 10 * i}:${1005 + 10 * i}`) },
      },
    ];
    const body = rules.flatMap((r) => {
      const out = renderRule(r, { setName: () => 'x' });
      if ('skipped' in out) throw new Error(out.skipped);
      return out.lines.map((l) => `-A tabby-encodings ${l}`);
    });
    const text = ['*filter', ':tabby-encodings - [0:0]', ...body, 'COMMIT', ''].join('\n');
    await lab.node('node0').exec('iptables-restore', ['--test', '--noflush'], { input: text });
  });

  it('puts the hook back on top without touching a foreign FORWARD rule', async () => {
    const node = lab.node('node0');
    const foreign = ['FORWARD', '-s', '192.0.2.1/32', '-j', 'DROP'];
    await node.iptables(['-I', ...foreign]);
    const r = await drivers.get('node0')!.apply(applied.get('node0')!);
    expect(r).toMatchObject({ hookRewritten: true, chainsWritten: [] });
    const forward = (await node.exec('iptables-save', ['-t', 'filter'])).stdout
      .split('\n')
      .filter((l) => l.startsWith('-A FORWARD'));
    expect(forward).toEqual([
      '-A FORWARD -m comment --comment "tabby hook" -j tabby-FORWARD',
      '-A FORWARD -s 192.0.2.1/32 -j DROP',
    ]);
    await node.iptables(['-D', ...foreign]);
  });

  it('a failed apply keeps the last good rules and reports a coded error', async () => {
    const good = applied.get('node0')!;
    const chains = new Map(good.chains);
    const fw = [...chains.keys()].find((c) => c.startsWith('tabby-fw-'))!;
    chains.set(fw, ['-j DROP', '-m nosuchmatch --bogus -j ACCEPT']);
    const driver = drivers.get('node0')!;
    await expect(driver.apply({ ...good, chains })).rejects.toBeInstanceOf(DataplaneError);
    expect(driver.lastError?.code).toBe('TABBY_ERR_DATAPLANE_APPLY');
    expect(await check('frontend', 'api', 80)).toBe('allow');
    expect(await driver.apply(good)).toMatchObject({ chainsWritten: [] });
  });

  it('cleanup removes every chain, hook and set Tabby owns, and traffic is open again', async () => {
    for (const node of lab.nodes) {
      await drivers.get(node.name)!.cleanup();
      expect((await node.exec('iptables-save', ['-t', 'filter'])).stdout).not.toContain('tabby');
      expect((await node.exec('ipset', ['list', '-n'])).stdout.trim()).toBe('');
    }
    expect(await pod('frontend').connect(pod('db').ip, 80, { timeoutMs: 400 })).toBe('connected');
  });
});
