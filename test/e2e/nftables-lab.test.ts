// The iptables lab e2e, for the nftables dataplane: the seed lab's identities on a namespace lab
// (2 nodes × 3 pods), the calc model built from converted YAML, rendered per node as one
// `ip tabby` table, replaced atomically with the real driver inside each node namespace, then
// checked with real TCP/UDP: every verdict must equal explain()'s. Also: a label change that only
// changes set elements, idempotence, a failed transaction keeping the old table, foreign tables
// untouched, cleanup. Runs alongside the iptables lab: each lab has its own namespaces.

import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ParsedRule, PolicyCalculator } from '../../src/agent/calc/index.js';
import { explain } from '../../src/agent/dataplane/maps/index.js';
import {
  execShim,
  NftablesDriver,
  type RenderedNftables,
  render,
  renderReplace,
  renderRule,
} from '../../src/agent/dataplane/nftables/index.js';
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

const reason = await preflight(['ip', 'nft']);

describeE2E(
  'e2e nftables: the seed lab enforced by one atomically replaced table (2 nodes × 3 pods)',
  reason,
  () => {
    let lab: Lab;
    const calcs = new Map<string, PolicyCalculator>();
    const drivers = new Map<string, NftablesDriver>();
    const applied = new Map<string, RenderedNftables>();
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
    const listTables = async (ns: string) =>
      (await lab.node(ns).exec('nft', ['list', 'tables'])).stdout.trim().split('\n').filter(Boolean);

    async function applyAll(): Promise<Map<string, Awaited<ReturnType<NftablesDriver['apply']>>>> {
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
        drivers.set(node.name, new NftablesDriver(execShim({ netns: node.ns })));
      }
      await Promise.all(lab.pods.flatMap((p) => [p.listen(80), p.listen(8080)]));
      await pod('coredns').listenUdp(53);
      // Before any policy: every pair connects (this also warms the neighbour caches, so a later
      // timeout means a drop, not a slow first ARP).
      const open = await Promise.all(
        lab.pods.flatMap((a) => lab.pods.filter((b) => b !== a).map((b) => a.connect(b.ip, 80))),
      );
      expect(new Set(open)).toEqual(new Set(['connected']));
      const t0 = performance.now();
      const first = await applyAll();
      console.info(
        `nftables: first apply on ${lab.nodes.length} nodes in ${(performance.now() - t0).toFixed(0)} ms`,
      );
      for (const r of first.values()) expect(r.applied).toBe(true);
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

    it('re-applying the same state sends nothing (the live table carries the hash)', async () => {
      for (const r of (await applyAll()).values())
        expect(r).toEqual({ applied: false, chainsChanged: [], setsChanged: [] });
      // A fresh driver (an agent restart) finds the same hash in the kernel and sends nothing either.
      const fresh = new NftablesDriver(execShim({ netns: lab.node('node0').ns }));
      expect((await fresh.apply(applied.get('node0')!)).applied).toBe(false);
    });

    it('a label change elsewhere changes only set elements, and traffic follows', async () => {
      const relabel = (labels: Record<string, string>) => {
        const kvs = toKvs([podObject(lab.pod('node1-pod2'), labels)]);
        for (const c of calcs.values()) c.apply(kvs);
      };
      const before = applied.get('node0')!;
      relabel({ app: 'api-v2', tier: 'backend' });
      const t0 = performance.now();
      const results = await applyAll();
      console.info(
        `nftables: set-only change applied in ${(performance.now() - t0).toFixed(0)} ms (2 nodes)`,
      );
      expect(results.get('node0')).toMatchObject({ applied: true, chainsChanged: [] });
      expect(results.get('node0')!.setsChanged).toHaveLength(1);
      const after = applied.get('node0')!;
      const [a, b] = [before.text.split('\n'), after.text.split('\n')];
      const diff = [...a.filter((l) => !b.includes(l)), ...b.filter((l) => !a.includes(l))];
      expect(diff.every((l) => l.includes('elements = ') || l.includes('comment "tabby:'))).toBe(true);
      expect(await check('frontend', 'api-2', 80)).toBe('deny');
      expect(await check('frontend', 'api', 80)).toBe('allow');
      relabel(IDENTITIES['node1-pod2']!.labels);
      await applyAll();
      expect(await check('frontend', 'api-2', 80)).toBe('allow');
    });

    it('lists (several nets, many ports, negated nets) behave as explain() says', async () => {
      // 16 ports, two nets (one of them api-2) minus a notNet: anonymous sets in one rule.
      const extra = orGroupsPolicy(pod('api-2').ip, pod('db').ip);
      const setPolicy = (o: KubeObject, del: boolean) => {
        const kvs = convertObject(o).map((kv) => (del ? { key: kv.key, value: null } : kv));
        for (const c of calcs.values()) c.apply(kvs);
      };
      setPolicy(extra, false);
      try {
        await applyAll();
        expect(await check('frontend', 'api-2', 80)).toBe('deny'); // in nets and ports
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
      // Deny frontend -> api's `http` (or 8081); allow frontend -> db's `http`, which the
      // application tier would deny. Only named ports match the pods' port 80.
      const extra = namedPortsPolicy();
      const setPolicy = (o: KubeObject, del: boolean) => {
        const kvs = convertObject(o).map((kv) => (del ? { key: kv.key, value: null } : kv));
        for (const c of calcs.values()) c.apply(kvs);
      };
      const decidedBy = (src: string, dst: string, port: number) =>
        explain(calcs.get('node0')!, {
          srcIp: pod(src).ip,
          dstIp: pod(dst).ip,
          protocol: 'tcp',
          dstPort: port,
        }).egress.decidedBy;
      setPolicy(extra, false);
      try {
        await applyAll();
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

    it('service matches (addr . proto . port and address sets from the EndpointSlices) decide as explain() says', async () => {
      const set = (objs: KubeObject[], del = false) => {
        const kvs = objs
          .flatMap((o) => convertObject(o))
          .map((kv) => (del ? { key: kv.key, value: null } : kv));
        for (const c of calcs.values()) c.apply(kvs);
      };
      set([serviceDenyPolicy(), apiServiceSlice([pod('api-2').ip])]);
      try {
        await applyAll();
        expect(await check('frontend', 'api-2', 80)).toBe('deny'); // an endpoint, on the service port
        expect(await check('frontend-2', 'api-2', 80)).toBe('deny'); // same node, node1
        expect(await check('frontend', 'api', 80)).toBe('allow'); // not an endpoint of the service
        set([apiServiceSlice([pod('api-2').ip, pod('api').ip])]);
        await applyAll();
        expect(await check('frontend', 'api', 80)).toBe('deny'); // the slice gained api's pod
      } finally {
        set([serviceDenyPolicy(), apiServiceSlice([])], true);
        await applyAll();
      }
      expect(await check('frontend', 'api-2', 80)).toBe('allow');
    });

    it('every rule encoding the unit tests show, and every golden file, passes `nft -c`', async () => {
      const side = NO_SIDE;
      const rules: ParsedRule[] = [
        { action: 'log', protocol: 'udp', src: side, dst: side },
        { action: 'next-tier', notProtocol: 'tcp', src: { ...side, notNets: ['10.0.0.0/8'] }, dst: side },
        { action: 'deny', protocol: 'icmp', icmpType: 8, icmpCode: 0, notIcmpType: 3, src: side, dst: side },
        { action: 'deny', protocol: 'icmp', notIcmpType: 3, notIcmpCode: 1, src: side, dst: side },
        { action: 'deny', protocol: 47, src: { ...side, ipSets: ['x'] }, dst: { ...side, notIpSets: ['x'] } },
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
      const body = rules.map((r) => {
        const out = renderRule(r, { setName: () => 'x' });
        if ('skipped' in out) throw new Error(out.skipped);
        return out.lines.map((l) => `\t\t${l}`).join('\n');
      });
      const text = [
        'table ip tabby-encodings {',
        '\tset x { type ipv4_addr; flags interval; }',
        '\tchain c {',
        ...body,
        '\t}',
        '}',
        '',
      ].join('\n');
      const node = lab.node('node0');
      await node.exec('nft', ['-c', '-f', '-'], { input: text });
      const dir = new URL('../golden/nftables/', import.meta.url);
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.nft')))
        await node.exec('nft', ['-c', '-f', '-'], { input: readFileSync(new URL(f, dir), 'utf8') });
    });

    it('a failed transaction keeps the last good table and reports a coded error', async () => {
      const good = applied.get('node0')!;
      const chains = new Map(good.chains);
      const fw = [...chains.keys()].find((c) => c.startsWith('tabby-fw-'))!;
      const broken = {
        ...good,
        hash: 'broken',
        text: good.text.replace(
          `\tchain ${fw} {\n`,
          `\tchain ${fw} {\n\t\tdrop\n\t\tmeta nosuchkey 1 accept\n`,
        ),
      };
      const driver = drivers.get('node0')!;
      await expect(driver.apply(broken)).rejects.toBeInstanceOf(DataplaneError);
      expect(driver.lastError?.code).toBe('TABBY_ERR_DATAPLANE_APPLY');
      expect(await driver.liveHash()).toBe(good.hash); // the delete in the same file was rolled back
      expect(await check('frontend', 'api', 80)).toBe('allow');
      expect((await driver.apply(good)).applied).toBe(false);
    });

    it('never touches a foreign table, nor a foreign table in the same family', async () => {
      const node = lab.node('node0');
      await node.exec('nft', ['-f', '-'], {
        input: 'table ip foreign {\n\tchain c {\n\t\tip saddr 192.0.2.1 drop\n\t}\n}\n',
      });
      await node.exec('iptables', ['-w', '-I', 'FORWARD', '-s', '192.0.2.2/32', '-j', 'DROP']);
      // Force a real replace: a different hash in the kernel.
      const good = applied.get('node0')!;
      await drivers.get('node0')!.cleanup();
      expect((await drivers.get('node0')!.apply(good)).applied).toBe(true);
      const tables = await listTables('node0');
      expect(tables).toEqual(
        expect.arrayContaining(['table ip foreign', 'table ip tabby', 'table ip filter']),
      );
      expect((await node.exec('nft', ['list', 'table', 'ip', 'foreign'])).stdout).toContain('192.0.2.1 drop');
      expect((await node.exec('iptables-save', ['-t', 'filter'])).stdout).toContain(
        '-s 192.0.2.2/32 -j DROP',
      );
      expect(await check('frontend', 'db', 80)).toBe('deny');
      await node.exec('nft', ['delete', 'table', 'ip', 'foreign']);
      await node.exec('iptables', ['-w', '-D', 'FORWARD', '-s', '192.0.2.2/32', '-j', 'DROP']);
    });

    it('the dry-run script equals what the driver applies', () => {
      const r = applied.get('node0')!;
      expect(renderReplace(r).endsWith(r.text)).toBe(true);
    });

    it('cleanup deletes the tabby table only, and traffic is open again', async () => {
      for (const node of lab.nodes) {
        await drivers.get(node.name)!.cleanup();
        expect((await listTables(node.name)).filter((t) => t.includes('tabby'))).toEqual([]);
        await drivers.get(node.name)!.cleanup(); // idempotent: absent is fine
      }
      expect(await pod('frontend').connect(pod('db').ip, 80, { timeoutMs: 400 })).toBe('connected');
    });
  },
);
