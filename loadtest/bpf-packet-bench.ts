// Per-connection cost as policy grows, bpf vs iptables (root): a lab node with two pods, the
// server pod's ingress policy holding N deny rules that never match (one /32 of 198.18/15 each)
// before an allow, and a client that opens and closes TCP connections one after another for
// DURATION_MS. New connections are what policy costs: established packets go through conntrack
// under both. `npm run bench:packet`; N from PACKET_BENCH_RULES (default 10,1000,10000);
// PACKET_BENCH_SHAPE=members puts the N nets in one rule (an IP set / LPM trie) instead.

import { execFileSync } from 'node:child_process';
import { PolicyCalculator } from '../src/agent/calc/index.js';
import { BpfDataplane } from '../src/agent/dataplane/bpf/manager.js';
import type { PolicyDataplane } from '../src/agent/runtime/parts.js';
import { Keys } from '../src/model/keys.js';
import { silentLogger } from '../src/model/logger.js';
import type { KV } from '../src/model/types.js';
import { IPTABLES, NFTABLES } from '../test/e2e/harness/agent-dataplanes.js';
import { bpfDriver, bpfToolchainProblem } from '../test/e2e/harness/bpf-node.js';
import { Lab, type LabNode } from '../test/e2e/harness/topology.js';

const DURATION_MS = 3000;
const SIZES = (process.env['PACKET_BENCH_RULES'] ?? '10,1000,10000').split(',').map(Number);
/** rules: N one-net deny rules; members: one deny rule whose srcNets hold N nets (a set). */
const SHAPE = process.env['PACKET_BENCH_SHAPE'] === 'members' ? 'members' : 'rules';
const net = (i: number) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`;
const problem = bpfToolchainProblem();
if (problem) throw new Error(problem);

const CONNECT_LOOP = `
const net = require('node:net'); const [host, port, ms] = process.argv.slice(1);
const end = Date.now() + Number(ms); let n = 0;
const once = () => { if (Date.now() > end) { process.stdout.write(String(n)); process.exit(0); }
  const s = net.connect({ host, port: Number(port) }, () => { n++; s.destroy(); once(); });
  s.on('error', (e) => { process.stderr.write(String(e)); process.exit(1); }); };
once();`;

const lab = await Lab.create({ nodes: 1, podsPerNode: 2 });
try {
  const node = lab.nodes[0]!;
  const [client, server] = lab.pods as [(typeof lab.pods)[0], (typeof lab.pods)[0]];
  // A fresh server port per run: the client's TIME_WAIT sockets of earlier runs (thousands per
  // run) would otherwise slow its port search and make later runs look slower.
  let port = 10_000;
  const model = (n: number): KV[] => [
    { key: Keys.tier('default'), value: { order: 100, defaultAction: 'Deny' } },
    {
      key: Keys.profile('open'),
      value: { inboundRules: [{ action: 'allow' }], outboundRules: [{ action: 'allow' }] },
    },
    ...lab.pods.map((p) => ({
      key: Keys.workloadEndpoint(node.name, 'ns', p.name),
      value: {
        name: p.hostIface,
        ipv4Nets: [`${p.ip}/32`],
        ipv6Nets: [],
        labels: { role: p === server ? 'server' : 'client' },
        profileIds: ['open'],
      },
    })),
    {
      key: Keys.policy('GlobalNetworkPolicy', '', 'default.server'),
      value: {
        tier: 'default',
        order: 1,
        selector: "role == 'server'",
        types: ['ingress'],
        inboundRules: [
          ...(SHAPE === 'rules'
            ? Array.from({ length: n }, (_, i) => ({ action: 'deny', protocol: 'tcp', srcNets: [net(i)] }))
            : [{ action: 'deny', protocol: 'tcp', srcNets: Array.from({ length: n }, (_, i) => net(i)) }]),
          { action: 'allow' },
        ],
      },
    },
  ];
  const kinds: [string, (n: LabNode) => { dataplane: PolicyDataplane; cleanup(): Promise<void> }][] = [
    ['iptables', (n) => IPTABLES.create(n.ns, silentLogger)],
    ['nftables', (n) => NFTABLES.create(n.ns, silentLogger)],
    [
      'bpf',
      (n) => {
        const d = bpfDriver(lab, n);
        return { dataplane: new BpfDataplane(silentLogger, d), cleanup: () => d.cleanup() };
      },
    ],
  ];
  for (const size of SIZES) {
    const row: string[] = [];
    for (const [name, create] of kinds) {
      const calc = new PolicyCalculator(node.name);
      calc.apply(model(size));
      const dp = create(node);
      await dp.dataplane.sync(calc);
      await server.listen(++port);
      const out = execFileSync(
        'ip',
        [
          'netns',
          'exec',
          client.ns,
          process.execPath,
          '-e',
          CONNECT_LOOP,
          server.ip,
          String(port),
          String(DURATION_MS),
        ],
        {
          encoding: 'utf8',
        },
      );
      row.push(`${name} ${((Number(out) * 1000) / DURATION_MS).toFixed(0)}/s`);
      await dp.cleanup();
    }
    console.log(`${String(size).padStart(6)} ${SHAPE}: new TCP connections ${row.join(', ')}`);
  }
} finally {
  await lab.destroy();
}
