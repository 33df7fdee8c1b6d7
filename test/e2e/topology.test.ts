// Proves the namespace harness with real packets: pod→pod TCP/UDP on one node and across nodes,
// RST for a closed port, an iptables DROP in a node observed as a timeout, and that destroy,
// SIGTERM and a later sweep leave no namespace behind.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listNamespaces, sweepStale } from './harness/cleanup.js';
import { exec } from './harness/exec.js';
import { describeE2E, preflight } from './harness/preflight.js';
import { Lab } from './harness/topology.js';

const reason = await preflight(['ip', 'iptables', 'sysctl']);
const PORT = 8080;
const CLOSED_PORT = 8081;
const UDP_PORT = 5353;

describeE2E('e2e topology: 2 nodes × 2 pods in namespaces', reason, () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.create({ nodes: 2, podsPerNode: 2 });
    await Promise.all(lab.pods.map((p) => p.listen(PORT)));
    await lab.pod('node1-pod0').listenUdp(UDP_PORT);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('connects pod→pod on the same node', async () => {
    const dst = lab.pod('node0-pod1');
    expect(await lab.pod('node0-pod0').connect(dst.ip, PORT)).toBe('connected');
  });

  it('connects pod→pod across nodes, both ways', async () => {
    const [a, b] = [lab.pod('node0-pod0'), lab.pod('node1-pod1')];
    expect(await Promise.all([a.connect(b.ip, PORT), b.connect(a.ip, PORT)])).toEqual([
      'connected',
      'connected',
    ]);
  });

  it('is refused (RST) on a port with no listener', async () => {
    expect(await lab.pod('node0-pod0').connect(lab.pod('node1-pod0').ip, CLOSED_PORT)).toBe('refused');
  });

  it('gets a UDP echo across nodes and ICMP port-unreachable for a closed UDP port', async () => {
    const src = lab.pod('node0-pod1');
    const dst = lab.pod('node1-pod0');
    expect(await src.udpPing(dst.ip, UDP_PORT)).toBe('reply');
    expect(await src.udpPing(dst.ip, UDP_PORT + 1)).toBe('refused');
  });

  it('observes an iptables FORWARD DROP in a node as a timeout, and its removal', async () => {
    const src = lab.pod('node0-pod0');
    const dst = lab.pod('node1-pod0');
    const rule = ['FORWARD', '-d', dst.ip, '-p', 'tcp', '--dport', String(PORT), '-j', 'DROP'];
    await lab.node('node0').iptables(['-A', ...rule]);
    try {
      expect(await src.connect(dst.ip, PORT, { timeoutMs: 300 })).toBe('timeout');
      // Only the matched flow is dropped: same-node traffic does not cross FORWARD to that pod.
      expect(await src.connect(lab.pod('node0-pod1').ip, PORT)).toBe('connected');
    } finally {
      await lab.node('node0').iptables(['-D', ...rule]);
    }
    expect(await src.connect(dst.ip, PORT)).toBe('connected');
  });

  it('leaves no namespace, link or listener behind after destroy', async () => {
    const pids = (await exec('ip', ['netns', 'pids', lab.pod('node0-pod0').ns])).stdout
      .split(/\s+/)
      .filter(Boolean);
    expect(pids.length).toBeGreaterThan(0);
    await lab.destroy();
    expect((await listNamespaces()).filter((ns) => ns.startsWith(lab.prefix))).toEqual([]);
    expect((await exec('ip', ['-o', 'link', 'show'])).stdout).not.toContain(lab.runId);
    for (const pid of pids) expect(() => process.kill(Number(pid), 0)).toThrow();
  });
});

describeE2E('e2e harness cleanup when the test process dies', reason, () => {
  const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hold-lab.ts');

  async function startHolder() {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // The first line is the prefix; an early exit (a harness failure) must not hang the test.
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').once('data', resolve);
      child.once('exit', (code) => reject(new Error(`hold-lab exited early (${code})`)));
    });
    const prefix = line.trim();
    expect((await listNamespaces()).filter((ns) => ns.startsWith(prefix))).toHaveLength(3);
    return { child, prefix };
  }

  it('removes its namespaces on SIGTERM', async () => {
    const { child, prefix } = await startHolder();
    child.kill('SIGTERM');
    await once(child, 'exit');
    expect((await listNamespaces()).filter((ns) => ns.startsWith(prefix))).toEqual([]);
  });

  it('sweeps what a SIGKILLed run left, but not live runs', async () => {
    const live = await Lab.create({ nodes: 1, podsPerNode: 0 });
    try {
      const { child, prefix } = await startHolder();
      child.kill('SIGKILL');
      await once(child, 'exit');
      expect((await listNamespaces()).filter((ns) => ns.startsWith(prefix))).toHaveLength(3);
      const removed = await sweepStale();
      expect(removed.filter((ns) => ns.startsWith(prefix))).toHaveLength(3);
      expect((await listNamespaces()).filter((ns) => ns.startsWith(live.prefix))).toHaveLength(2);
    } finally {
      await live.destroy();
    }
  });
});
