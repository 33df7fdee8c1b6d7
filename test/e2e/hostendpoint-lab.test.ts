// Host endpoints with real packets, under the iptables, nftables and bpf dataplanes: node0 has a
// HostEndpoint on its fabric interface (eth0); the fabric namespace (10.250.0.1) plays a remote
// client. Checked: failsafe port 22 survives a deny-all host policy while another port is
// blocked, and replies of allowed connections pass under a deny-all egress policy;
// applyOnForward policy polices pod traffic forwarded through eth0; preDNAT policy sees the port
// before a DNAT rule rewrites it; doNotTrack lets traffic through with no conntrack entry; pod →
// its own host meets DefaultEndpointToHostAction (Drop by default, Accept when configured);
// host → its own pod is not policed (Felix), its replies pass the pod's deny-all egress;
// removing the host endpoint opens the interface again. Host-bound verdicts are also compared
// with explain().
//
// Not under bpf: "a normal policy only sees the port after DNAT". The tc program runs before
// the kernel's DNAT (iptables nat PREROUTING here), so bpf judges the packet as addressed;
// Calico’s BPF mode does its own NAT in the program for this reason (docs/bpf-dataplane.md).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyCalculator } from '../../src/agent/calc/index.js';
import { type BpfDriver, encodePolicy } from '../../src/agent/dataplane/bpf/index.js';
import {
  execShim,
  IptablesDriver,
  render as renderIptables,
} from '../../src/agent/dataplane/iptables/index.js';
import { explain, mapsOf } from '../../src/agent/dataplane/maps/index.js';
import { NftablesDriver, render as renderNft } from '../../src/agent/dataplane/nftables/index.js';
import { snapshotOf } from '../../src/agent/dataplane/rules/index.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { Keys } from '../../src/model/keys.js';
import type { KV } from '../../src/model/types.js';
import { FABRIC_GATEWAY } from './harness/addressing.js';
import { bpfDriver, bpfToolchainProblem } from './harness/bpf-node.js';
import { Cleanup } from './harness/cleanup.js';
import { describeE2E, preflight } from './harness/preflight.js';
import { startListener, tcpConnect } from './harness/probe.js';
import { Lab } from './harness/topology.js';

const reason = await preflight(['ip', 'iptables', 'iptables-restore', 'iptables-save', 'ipset', 'nft']);

const NODE_SELECTOR = "role == 'node'";
const gnp = (name: string, spec: Record<string, unknown>): KubeObject =>
  ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name },
    spec: { selector: NODE_SELECTOR, ...spec },
  }) as unknown as KubeObject;
const DENY_ALL = gnp('host-deny-all', { types: ['Ingress', 'Egress'] });
const ALLOW_ALL = { action: 'Allow' };
const ALLOW_HOST = gnp('host-allow-all', {
  types: ['Ingress', 'Egress'],
  ingress: [ALLOW_ALL],
  egress: [ALLOW_ALL],
});

describeE2E('e2e host endpoints (iptables, nftables and bpf)', reason, () => {
  let lab: Lab;
  const cleanup = new Cleanup();

  beforeAll(async () => {
    lab = await Lab.create({ nodes: 2, podsPerNode: 1 });
    const node0 = lab.node('node0');
    await Promise.all([
      ...[22, 7070, 8080].map((p) => startListener(node0.ns, 'tcp', p, cleanup)),
      ...lab.pods.flatMap((p) => [p.listen(80), p.listen(8080)]),
    ]);
    // preDNAT: the node forwards its port 9090 to its pod's port 80 (a NodePort, in effect).
    await node0.iptables([
      '-t',
      'nat',
      '-A',
      'PREROUTING',
      '-d',
      node0.ip,
      '-p',
      'tcp',
      '--dport',
      '9090',
      '-j',
      'DNAT',
      '--to-destination',
      `${lab.pod('node0-pod0').ip}:80`,
    ]);
    // Before any rule: everything connects (and the neighbour caches warm up).
    expect(await tcpConnect(lab.fabricNs, node0.ip, 8080)).toBe('connected');
    expect(await tcpConnect(lab.fabricNs, node0.ip, 9090)).toBe('connected');
    expect(await lab.pod('node1-pod0').connect(lab.pod('node0-pod0').ip, 80)).toBe('connected');
    expect(await lab.pod('node0-pod0').connect(node0.ip, 8080)).toBe('connected');
  }, 30_000);

  afterAll(async () => {
    await cleanup.run();
    await lab?.destroy();
  });

  /** The model: a tier, node0's host endpoint on eth0, both pods (allow-all profile), extras. */
  function state(objects: readonly KubeObject[], extra: KV[] = [], withHep = true): KV[] {
    const node0 = lab.node('node0');
    const base: KubeObject[] = [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'Tier',
        metadata: { name: 'default' },
        spec: { order: 1000000 },
      } as unknown as KubeObject,
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'HostEndpoint',
        metadata: { name: 'node0-eth0', labels: { role: 'node' } },
        spec: { node: node0.name, interfaceName: node0.iface, expectedIPs: [node0.ip] },
      } as unknown as KubeObject,
    ];
    const pods: KV[] = lab.pods.map((p) => ({
      key: Keys.workloadEndpoint(p.node.name, 'lab', p.name),
      value: { name: p.hostIface, ipv4Nets: [`${p.ip}/32`], labels: { app: 'pod' }, profileIds: ['kns.lab'] },
    }));
    return [
      ...[...base.filter((o) => withHep || o.kind !== 'HostEndpoint'), ...objects].flatMap((o) =>
        convertObject(o),
      ),
      ...pods,
      {
        key: Keys.profile('kns.lab'),
        value: { labels: {}, inboundRules: [{ action: 'allow' }], outboundRules: [{ action: 'allow' }] },
      },
      ...extra,
    ];
  }

  for (const dataplane of ['iptables', 'nftables', 'bpf'] as const) {
    describe(dataplane, () => {
      let calc: PolicyCalculator;
      const shim = () => execShim({ netns: lab.node('node0').ns });
      const ipt = () => new IptablesDriver(shim());
      const nft = () => new NftablesDriver(shim());
      let bpfOnce: BpfDriver | undefined;
      const bpf = () => {
        bpfOnce ??= bpfDriver(lab, lab.node('node0'));
        return bpfOnce;
      };

      beforeAll(() => {
        // A missing toolchain fails every bpf case with what to install (never a skip).
        const problem = dataplane === 'bpf' ? bpfToolchainProblem() : undefined;
        if (problem !== undefined) throw new Error(`bpf dataplane cannot run: ${problem}`);
      });

      async function apply(objects: readonly KubeObject[], extra: KV[] = [], withHep = true): Promise<void> {
        calc = new PolicyCalculator('node0');
        expect(calc.apply(state(objects, extra, withHep)).invalid).toEqual([]);
        if (dataplane === 'bpf') {
          const enc = encodePolicy(mapsOf(calc));
          expect(enc.warnings).toEqual([]);
          await bpf().apply(enc);
          return;
        }
        const snap = snapshotOf(calc);
        if (dataplane === 'iptables') {
          const r = renderIptables(snap);
          expect(r.warnings).toEqual([]);
          await ipt().apply(r);
        } else {
          const r = renderNft(snap);
          expect(r.warnings).toEqual([]);
          await nft().apply(r);
        }
      }

      afterAll(async () => {
        if (dataplane === 'iptables') await ipt().cleanup();
        else if (dataplane === 'nftables') await nft().cleanup();
        else await bpf().cleanup();
      });

      /** Destination ports of the connections conntrack holds (the kernel's, or the bpf map). */
      async function trackedPorts(): Promise<Set<number>> {
        if (dataplane !== 'bpf') {
          const table = (await lab.node('node0').exec('cat', ['/proc/net/nf_conntrack'])).stdout;
          return new Set([...table.matchAll(/dport=(\d+) /g)].map((m) => Number(m[1])));
        }
        const { stdout } = await execShim().run('bpftool', [
          '-j',
          'map',
          'dump',
          'pinned',
          bpf().mapPath('tabby_ct'),
        ]);
        // struct ct_key: u32 ifindex, u8 hook, proto, family, pad, u16 sport, u16 dport (host order).
        const rows = JSON.parse(stdout) as { key: string[] }[];
        return new Set(
          rows.map((r) => Number.parseInt(r.key[10]!, 16) + 256 * Number.parseInt(r.key[11]!, 16)),
        );
      }

      /** A real connect from the fabric to node0, which must agree with explain(). */
      async function fromFabric(port: number): Promise<string> {
        const e = explain(calc, {
          srcIp: FABRIC_GATEWAY,
          dstIp: lab.node('node0').ip,
          protocol: 'tcp',
          dstPort: port,
        });
        const got = await tcpConnect(lab.fabricNs, lab.node('node0').ip, port, {
          timeoutMs: e.verdict === 'allow' ? 3000 : 500,
        });
        expect(got, `fabric -> node0:${port}`).toBe(e.verdict === 'allow' ? 'connected' : 'timeout');
        return got;
      }

      it('failsafe port 22 stays reachable under a deny-all host policy; 8080 is blocked', async () => {
        await apply([DENY_ALL]);
        expect(await fromFabric(22)).toBe('connected');
        expect(await fromFabric(8080)).toBe('timeout');
        // An allowed port: its replies pass although the egress policy denies everything.
        // (7070 stays blocked: the doNotTrack case below needs it never tracked.)
        await apply([
          DENY_ALL,
          gnp('allow-8080', {
            types: ['Ingress'],
            ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [8080] } }],
          }),
        ]);
        expect(await fromFabric(8080)).toBe('connected');
        expect(await fromFabric(7070)).toBe('timeout');
        // With no policy at all the host endpoint still drops all but failsafe traffic.
        await apply([]);
        expect(await fromFabric(8080)).toBe('timeout');
        expect(await fromFabric(22)).toBe('connected');
        // FailsafeInboundHostPorts replaced: 22 is no longer special.
        await apply([DENY_ALL], [{ key: Keys.globalConfig('FailsafeInboundHostPorts'), value: 'tcp:8080' }]);
        expect(await fromFabric(22)).toBe('timeout');
        expect(await fromFabric(8080)).toBe('connected');
      });

      it('applyOnForward policy polices pod traffic forwarded through the host endpoint', async () => {
        const [src, dst] = [lab.pod('node1-pod0'), lab.pod('node0-pod0')];
        // Normal host policy does not touch forwarded traffic: allowed by default.
        await apply([DENY_ALL]);
        expect(await src.connect(dst.ip, 8080)).toBe('connected');
        await apply([
          DENY_ALL,
          gnp('forward-no-8080', {
            applyOnForward: true,
            types: ['Ingress'],
            ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [8080] } }, ALLOW_ALL],
          }),
        ]);
        expect(await src.connect(dst.ip, 8080, { timeoutMs: 500 })).toBe('timeout');
        expect(await src.connect(dst.ip, 80)).toBe('connected');
      });

      // See the header: bpf runs before the kernel's DNAT.
      if (dataplane !== 'bpf')
        it('a normal policy only sees the port after DNAT', async () => {
          const node0 = lab.node('node0');
          // Port 9090 is DNAT'd to the pod's 80: a normal (forward) deny of 9090 never matches.
          await apply([
            gnp('after-dnat', {
              applyOnForward: true,
              types: ['Ingress'],
              ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [9090] } }, ALLOW_ALL],
            }),
          ]);
          expect(await tcpConnect(lab.fabricNs, node0.ip, 9090)).toBe('connected');
        });

      it('preDNAT policy matches the port before DNAT', async () => {
        const node0 = lab.node('node0');
        // The control: host traffic allowed, forwarded traffic allowed by default, 9090 open.
        await apply([ALLOW_HOST]);
        expect(await tcpConnect(lab.fabricNs, node0.ip, 9090)).toBe('connected');
        await apply([
          ALLOW_HOST,
          gnp('before-dnat', {
            preDNAT: true,
            applyOnForward: true,
            types: ['Ingress'],
            ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [9090] } }],
          }),
        ]);
        expect(await tcpConnect(lab.fabricNs, node0.ip, 9090, { timeoutMs: 500 })).toBe('timeout');
      });

      it('doNotTrack policy lets traffic through untracked: no conntrack entry', async () => {
        await apply([
          DENY_ALL,
          gnp('untracked-7070', {
            doNotTrack: true,
            applyOnForward: true,
            types: ['Ingress', 'Egress'],
            ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [7070] } }],
            // Replies are untracked too, so they need their own allow.
            egress: [{ action: 'Allow', protocol: 'TCP', source: { ports: [7070] } }],
          }),
        ]);
        expect(await fromFabric(7070)).toBe('connected');
        expect(await fromFabric(8080)).toBe('timeout');
        // A failsafe connection is tracked as usual: the control for the check below.
        expect(await fromFabric(22)).toBe('connected');
        const tracked = await trackedPorts();
        expect(tracked.has(22)).toBe(true);
        expect(tracked.has(7070)).toBe(false);
      });

      it('pod → its own host: DefaultEndpointToHostAction Drop by default, Accept when configured', async () => {
        const [pod, node0] = [lab.pod('node0-pod0'), lab.node('node0')];
        const flow = { srcIp: pod.ip, dstIp: node0.ip, protocol: 'tcp', dstPort: 8080 };
        await apply([]);
        expect(explain(calc, flow).ingress.decidedBy).toEqual({ kind: 'endpoint-to-host', action: 'drop' });
        expect(await pod.connect(node0.ip, 8080, { timeoutMs: 500 })).toBe('timeout');
        const accept = { key: Keys.globalConfig('DefaultEndpointToHostAction'), value: 'Accept' };
        await apply([DENY_ALL], [accept]);
        expect(explain(calc, flow).verdict).toBe('allow');
        // Accept: the host endpoint's deny-all ingress policy does not apply to workload → host.
        expect(await pod.connect(node0.ip, 8080)).toBe('connected');
        // The workload's egress policy still comes first.
        await apply(
          [
            gnp('pod-egress-deny', {
              selector: "app == 'pod'",
              types: ['Egress'],
              egress: [{ action: 'Deny' }],
            }),
          ],
          [accept],
        );
        expect(explain(calc, flow).egress.allowed).toBe(false);
        expect(await pod.connect(node0.ip, 8080, { timeoutMs: 500 })).toBe('timeout');
      });

      it('host → its own pod is not policed; the pod’s replies pass its egress policy', async () => {
        const [pod, node0, remote] = [lab.pod('node0-pod0'), lab.node('node0'), lab.pod('node1-pod0')];
        await apply([gnp('pod-deny-all', { selector: "app == 'pod'", types: ['Ingress', 'Egress'] })]);
        const flow = { srcIp: node0.ip, dstIp: pod.ip, protocol: 'tcp', dstPort: 80 };
        expect(explain(calc, flow).ingress.decidedBy).toEqual({ kind: 'host-to-workload' });
        expect(explain(calc, flow).verdict).toBe('allow');
        expect(await tcpConnect(node0.ns, pod.ip, 80)).toBe('connected');
        // The control: the pod's deny-all ingress policy is in force for another source.
        expect(await remote.connect(pod.ip, 80, { timeoutMs: 500 })).toBe('timeout');
      });

      it('the host endpoint removed: its interface is open again (bpf: the program detached)', async () => {
        const node0 = lab.node('node0');
        await apply([DENY_ALL]);
        expect(await fromFabric(8080)).toBe('timeout');
        await apply([DENY_ALL], [], false);
        expect(await fromFabric(8080)).toBe('connected');
        if (dataplane === 'bpf') {
          const qdiscs = (await node0.exec('tc', ['qdisc', 'show', 'dev', node0.iface])).stdout;
          expect(qdiscs).not.toMatch(/clsact/);
        }
      });

      if (dataplane === 'bpf')
        it('bpf: detaching leaves someone else’s tc filter on the interface, and its clsact', async () => {
          const node0 = lab.node('node0');
          const filters = async (dir: 'ingress' | 'egress') =>
            (await node0.exec('tc', ['filter', 'show', 'dev', node0.iface, dir])).stdout;
          await apply([DENY_ALL]);
          expect(await fromFabric(8080)).toBe('timeout');
          // Another tool's classifier on the same hook, after ours (a u32 match without action
          // lets packets continue).
          await node0.exec('tc', [
            ...['filter', 'add', 'dev', node0.iface, 'ingress', 'pref', '5', 'protocol', 'ip'],
            ...['u32', 'match', 'u32', '0', '0', 'classid', '1:1'],
          ]);
          try {
            await apply([DENY_ALL], [], false);
            expect(await fromFabric(8080)).toBe('connected');
            expect(await filters('ingress')).toMatch(/pref 5 u32/);
            expect(await filters('ingress')).not.toMatch(/bpf/);
            expect(await filters('egress')).not.toMatch(/bpf/);
            expect((await node0.exec('tc', ['qdisc', 'show', 'dev', node0.iface])).stdout).toMatch(/clsact/);
          } finally {
            await node0.exec('tc', ['qdisc', 'del', 'dev', node0.iface, 'clsact']).catch(() => undefined);
          }
        });
    });
  }
});
