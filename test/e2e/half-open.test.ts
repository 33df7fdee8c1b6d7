// A half-open connection (issue 14; felix#1537: Felix hung on one for over an hour): a client
// in one node namespace streams from a replica in another; the path between them is cut with
// iptables DROP on both sides, so neither gets a FIN or an RST and TCP alone would wait for its
// retransmissions to give up (about 15 minutes). Both sides must notice through the protocol's
// keepalive (PROTOCOL.md §12: nothing received for pongTimeoutMs, here 4 s) and the client must
// fail over to the second replica. The bound checked is loose (3× the keepalive bound, far below
// TCP's): the point is that it is the keepalive, not TCP, that ends the connection.

import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tabby } from '../harness/cli.js';
import { describeE2E, preflight } from './harness/preflight.js';
import { Lab, type LabNode } from './harness/topology.js';

const reason = await preflight(['ip', 'iptables', 'curl']);
const PORT = 5473;
const HEALTH = 9098;
const PING_MS = 1_000;
const PONG_TIMEOUT_MS = 4_000;
/** The client's watchdog looks once a second; the server's tick is its pingInterval at most. */
const KEEPALIVE_BOUND_MS = PONG_TIMEOUT_MS + 1_000;

describeE2E(
  'half-open connection: detected by both sides through keepalive, the client fails over',
  reason,
  () => {
    let lab: Lab;
    const procs: ChildProcess[] = [];
    let client: ChildProcess;
    const out: Array<{ atMs: number; line: string }> = [];

    const serve = (node: LabNode, id: string) => {
      const p = tabby(
        [
          'serve',
          ...['--datastore', 'sim', '--sim-nodes', '4', '--sim-pods', '20', '--sim-churn-per-sec', '0'],
          ...['--listen', `0.0.0.0:${PORT}`, '--health-listen', `127.0.0.1:${HEALTH}`, '--server-id', id],
          ...['--ping-interval-ms', String(PING_MS), '--pong-timeout-ms', String(PONG_TIMEOUT_MS)],
          ...['--log-level', 'warn'],
        ],
        { netns: node.ns },
      );
      procs.push(p);
      return p;
    };

    /** Sums a counter family from a replica's /metrics, read inside its namespace. */
    const metric = async (node: LabNode, name: string, label: string): Promise<number> => {
      const { stdout } = await node.exec('curl', [
        '-s',
        '--max-time',
        '3',
        `http://127.0.0.1:${HEALTH}/metrics`,
      ]);
      let n = 0;
      for (const line of stdout.split('\n'))
        if (line.startsWith(`${name}{`) && line.includes(label)) n += Number(line.split(' ').at(-1));
      return n;
    };

    const waitLine = async (re: RegExp, fromIndex: number, ms: number) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = out.slice(fromIndex).find((l) => re.test(l.line));
        if (hit) return hit;
        if (Date.now() > deadline)
          throw new Error(`no line matching ${re} within ${ms} ms:\n${out.map((l) => l.line).join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    beforeAll(async () => {
      lab = await Lab.create({ nodes: 3, podsPerNode: 0, staticRoutes: false });
      serve(lab.nodes[1]!, 'replica-a');
      serve(lab.nodes[2]!, 'replica-b');
      for (const n of [lab.nodes[1]!, lab.nodes[2]!]) {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const r = await n
            .exec('curl', [
              '-s',
              '-o',
              '/dev/null',
              '-w',
              '%{http_code}',
              `http://127.0.0.1:${HEALTH}/readyz`,
            ])
            .catch(() => ({ stdout: '' }));
          if (r.stdout === '200') break;
          if (Date.now() > deadline) throw new Error(`replica in ${n.name} not ready`);
          await new Promise((res) => setTimeout(res, 250));
        }
      }
      const servers = [lab.nodes[1]!, lab.nodes[2]!].map((n) => `${n.ip}:${PORT}`).join(',');
      client = tabby(['sync', '--server', servers, '--hostname', 'half-open-node', '--log-level', 'warn'], {
        netns: lab.nodes[0]!.ns,
      });
      procs.push(client);
      const keep = (d: Buffer) => {
        for (const line of d.toString().split('\n').filter(Boolean)) out.push({ atMs: Date.now(), line });
      };
      client.stdout!.on('data', keep);
      client.stderr!.on('data', keep);
    }, 120_000);

    afterAll(async () => {
      for (const p of procs)
        if (p.exitCode === null && p.signalCode === null) {
          const gone = once(p, 'exit');
          p.kill('SIGTERM');
          await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
        }
      await lab?.destroy();
    });

    it('cut without FIN/RST: ping-timeout on both sides within the keepalive bound, then the other replica', async () => {
      const first = await waitLine(/^connected to /, 0, 60_000);
      await waitLine(/^status in-sync/, 0, 60_000);
      const ip = /connected to ([\d.]+):/.exec(first.line)![1]!;
      const [victim, other] =
        ip === lab.nodes[1]!.ip ? [lab.nodes[1]!, lab.nodes[2]!] : [lab.nodes[2]!, lab.nodes[1]!];
      const agent = lab.nodes[0]!;
      const timeoutsBefore = await metric(victim, 'tabby_disconnects_total', 'reason="ping-timeout"');
      const mark = out.length;

      // Drop everything between the client's node and the replica's, in both namespaces.
      const cutAt = Date.now();
      await agent.iptables(['-I', 'INPUT', '-s', victim.ip, '-j', 'DROP']);
      await agent.iptables(['-I', 'OUTPUT', '-d', victim.ip, '-j', 'DROP']);
      await victim.iptables(['-I', 'INPUT', '-s', agent.ip, '-j', 'DROP']);
      await victim.iptables(['-I', 'OUTPUT', '-d', agent.ip, '-j', 'DROP']);

      const lost = await waitLine(/^disconnected from .*ping-timeout/, mark, 3 * KEEPALIVE_BOUND_MS);
      const clientDetectMs = lost.atMs - cutAt;
      let serverDetectMs = -1;
      while (Date.now() - cutAt < 3 * KEEPALIVE_BOUND_MS) {
        if ((await metric(victim, 'tabby_disconnects_total', 'reason="ping-timeout"')) > timeoutsBefore) {
          serverDetectMs = Date.now() - cutAt;
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      // The client may try the silent replica once more (a SYN that goes unanswered) before the other.
      const moved = await waitLine(
        new RegExp(`^connected to ${other.ip.replaceAll('.', '\\.')}:`),
        mark,
        60_000,
      );
      console.log(
        `half-open: client noticed after ${clientDetectMs} ms, server after ${serverDetectMs} ms ` +
          `(bound ${KEEPALIVE_BOUND_MS} ms); on the other replica ${moved.atMs - cutAt} ms after the cut`,
      );
      expect(clientDetectMs).toBeLessThan(3 * KEEPALIVE_BOUND_MS);
      expect(serverDetectMs).toBeGreaterThanOrEqual(0);
      // Resumed there (same state on both replicas): the once-a-second line shows it in sync, state kept.
      await waitLine(/ keys [1-9]\d* status in-sync /, out.indexOf(moved) + 1, 60_000);
    }, 180_000);
  },
);
