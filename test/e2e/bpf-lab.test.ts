// The seed lab under the bpf dataplane (2 nodes × 3 pods, as test/e2e/iptables-lab.test.ts):
// each node's calc compiled to maps, encoded and written by the real BpfDriver (programs pinned
// per node, attached to every cali* veth with tc) — then real TCP/UDP must do what explain()
// says. Also: replies of allowed connections pass while the unsolicited reverse connection is
// judged by policy, a label change writes only what changed, a restarted driver adopts the
// pins without writing, and cleanup removes programs, qdiscs and pins.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PolicyCalculator } from '../../src/agent/calc/index.js';
import {
  type BpfApplyResult,
  BpfDriver,
  BpfVerifierError,
  encodePolicy,
  execShim,
} from '../../src/agent/dataplane/bpf/index.js';
import { explain, mapsOf } from '../../src/agent/dataplane/maps/index.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { keyKind } from '../../src/model/keys.js';
import type { KV } from '../../src/model/types.js';
import { bpfDriver, describeBpf } from './harness/bpf-node.js';
import { namedPortsPolicy, orGroupsPolicy } from './harness/extra-policies.js';
import { connectAsExplained, IDENTITIES, labObjects, podObject } from './harness/seed-lab.js';
import { Lab } from './harness/topology.js';

/** Debian's multiarch include directory (asm/ headers) for this machine. */
const archDir = () => `${arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;

await describeBpf('e2e bpf: the seed lab enforced by tc programs reading pinned maps', () => {
  let lab: Lab;
  const calcs = new Map<string, PolicyCalculator>();
  const drivers = new Map<string, BpfDriver>();
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
  const setObjects = (objs: readonly KubeObject[], del = false) => {
    const kvs = objs.flatMap((o) => convertObject(o)).map((kv) => (del ? { key: kv.key, value: null } : kv));
    for (const c of calcs.values()) c.apply(kvs);
  };

  async function applyAll(): Promise<Map<string, BpfApplyResult>> {
    const results = new Map<string, BpfApplyResult>();
    for (const node of lab.nodes) {
      const enc = encodePolicy(mapsOf(calcs.get(node.name)!));
      expect(enc.warnings).toEqual([]);
      results.set(node.name, await drivers.get(node.name)!.apply(enc));
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
      drivers.set(node.name, bpfDriver(lab, node));
    }
    await Promise.all(lab.pods.flatMap((p) => [p.listen(80), p.listen(8080)]));
    await pod('coredns').listenUdp(53);
    const open = await Promise.all(
      lab.pods.flatMap((a) => lab.pods.filter((b) => b !== a).map((b) => a.connect(b.ip, 80))),
    );
    expect(new Set(open)).toEqual(new Set(['connected']));
    const first = await applyAll();
    expect(first.get('node0')!.attached).toEqual(['cali0', 'cali1', 'cali2']);
  }, 30_000);

  afterAll(async () => {
    for (const d of drivers.values()) await d.cleanup().catch(() => undefined);
    await lab?.destroy();
  });

  it('the lab criteria, with real TCP, equal explain() (same node and across nodes)', async () => {
    expect(await check('frontend', 'api', 80)).toBe('allow');
    expect(await check('frontend', 'api-2', 80)).toBe('allow');
    expect(await check('frontend', 'db', 80)).toBe('deny');
    expect(await check('frontend-2', 'db', 80)).toBe('deny');
    expect(await check('api', 'db', 80)).toBe('allow');
    expect(await check('api-2', 'db', 80)).toBe('allow');
    expect(await check('db', 'frontend', 80)).toBe('allow');
    expect(await check('db', 'frontend-2', 80)).toBe('allow');
    expect(await check('frontend', 'api', 8080)).toBe('deny');
    expect(await check('api', 'frontend', 80)).toBe('deny');
    expect(await check('api-2', 'frontend-2', 80)).toBe('deny');
    expect(await check('db', 'api', 8080)).toBe('allow');
  });

  it('DNS over UDP is allowed by the platform tier and its replies come back', async () => {
    for (const src of ['frontend', 'api', 'db'])
      expect(await pod(src).udpPing(pod('coredns').ip, 53)).toBe('reply');
  });

  it('stateful: replies of an allowed connection pass; the unsolicited reverse connection is judged', async () => {
    // frontend -> api:80 is allowed; its SYN-ACK, judged alone as a flow api:80 -> frontend,
    // would be denied: the connect succeeds only through conntrack.
    const reply = {
      srcIp: pod('api').ip,
      dstIp: pod('frontend').ip,
      protocol: 'tcp',
      srcPort: 80,
      dstPort: 40000,
    };
    expect(explain(calcs.get('node0')!, reply).verdict).toBe('deny');
    expect(await pod('frontend').connect(pod('api').ip, 80, { timeoutMs: 3000 })).toBe('connected');
    expect(await check('api', 'frontend', 80)).toBe('deny');
    expect(await check('api-2', 'frontend', 80)).toBe('deny');
  });

  it('re-applying the same state writes nothing', async () => {
    for (const r of (await applyAll()).values())
      expect(r).toMatchObject({ bytes: 0, setEntriesWritten: 0, opsWritten: 0, attached: [], detached: [] });
  });

  it('a label change writes only the changed set and the programs using it, and traffic follows', async () => {
    relabel({ app: 'api-v2', tier: 'backend' });
    const r = await applyAll();
    const n0 = r.get('node0')!;
    expect(n0.setsWritten).toBeGreaterThan(0);
    expect(n0.setEntriesDeleted).toBeGreaterThan(0);
    expect(n0.attached).toEqual([]);
    expect(await check('frontend', 'api-2', 80)).toBe('deny');
    expect(await check('frontend', 'api', 80)).toBe('allow');
    relabel(IDENTITIES['node1-pod2']!.labels);
    await applyAll();
    expect(await check('frontend', 'api-2', 80)).toBe('allow');
  });

  it('OR groups and named ports decide as explain() says', async () => {
    for (const extra of [orGroupsPolicy(pod('api-2').ip, pod('db').ip), namedPortsPolicy()]) {
      setObjects([extra]);
      try {
        await applyAll();
        for (const [s, d, p] of [
          ['frontend', 'api-2', 80],
          ['frontend', 'api-2', 8080],
          ['frontend', 'api', 80],
          ['frontend-2', 'api-2', 80],
          ['frontend', 'db', 80],
          ['frontend', 'db', 8080],
          ['db', 'api', 80],
        ] as const)
          await check(s, d, p);
      } finally {
        setObjects([extra], true);
        await applyAll();
      }
    }
    expect(await check('frontend', 'api', 80)).toBe('allow');
  });

  it('a restarted driver adopts the pinned maps: nothing written, traffic never stopped', async () => {
    const node = lab.node('node0');
    const fresh = bpfDriver(lab, node);
    drivers.set(node.name, fresh);
    const r = await fresh.apply(encodePolicy(mapsOf(calcs.get(node.name)!)));
    expect(r).toMatchObject({ adopted: true, bytes: 0, attached: [] });
    expect(await check('frontend', 'api', 80)).toBe('allow');
    expect(await check('frontend', 'db', 80)).toBe('deny');
  });

  it('a program the verifier rejects is a typed error naming it; nothing is left pinned', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tabby-bpf-reject-'));
    const object = join(dir, 'reject.o');
    const src = new URL('./fixtures/bpf/reject.c', import.meta.url).pathname;
    execFileSync('clang', [
      '-O2',
      '-g',
      '-target',
      'bpf',
      `-I/usr/include/${archDir()}`,
      '-c',
      src,
      '-o',
      object,
    ]);
    const baseDir = `/sys/fs/bpf/${lab.prefix}reject`;
    const driver = new BpfDriver(execShim(), { baseDir, stateFile: join(dir, 'state.json'), object });
    const err = await driver.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BpfVerifierError);
    expect(err).toMatchObject({ program: 'tabby_from_wl', code: 'TABBY_ERR_BPF_VERIFIER' });
    expect((err as Error).message).toContain('invalid access to packet');
    expect(existsSync(baseDir)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('cleanup removes the programs, qdiscs and pins, and traffic is open again', async () => {
    for (const node of lab.nodes) {
      await drivers.get(node.name)!.cleanup();
      const qd = (await node.exec('tc', ['qdisc', 'show', 'dev', 'cali0'])).stdout;
      expect(qd).not.toContain('clsact');
      expect(existsSync(`/sys/fs/bpf/${lab.prefix}${node.name}`)).toBe(false);
    }
    expect(await pod('frontend').connect(pod('db').ip, 80, { timeoutMs: 400 })).toBe('connected');
  });

  function relabel(labels: Record<string, string>): void {
    const kvs = toKvs([podObject(lab.pod('node1-pod2'), labels)]);
    for (const c of calcs.values()) c.apply(kvs);
  }
});
