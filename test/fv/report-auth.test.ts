// The attack of issue 9: over plain TCP a client claims another node's hostname in HELLO and
// REPORTs a WireGuard key for it. By default the server refuses (nothing reaches the
// datastore, the node keeps its key); only the operator's explicit opt-in trusts the claim.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import { Keys } from '../../src/model/keys.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { MsgType } from '../../src/protocol/messages.js';
import type { NodeReportSink } from '../../src/server/server.js';
import { SimulatedCluster } from '../../src/testing/sim/simulated-cluster.js';
import { RawClient } from '../harness/raw-client.js';
import { perTestStack, startStack, waitFor } from '../harness/stack.js';

const t = perTestStack();
const KIND = 'wireguard-public-key';

async function attack(insecureAcceptUnauthenticatedReports: boolean) {
  const sim = new SimulatedCluster({ nodes: 4, pods: 8, churnPerSec: 0 });
  let writes = 0;
  const sink: NodeReportSink = {
    recordWireguardPublicKey(node, key, signal) {
      writes++;
      return sim.recordWireguardPublicKey(node, key, signal);
    },
  };
  t.stack = await startStack({ reportSink: sink, insecureAcceptUnauthenticatedReports });
  t.cleanup.push(() => sim.stop());
  await sim.start(t.stack.router);
  const observer = new SyncClient({ addresses: [t.stack.address], syncer: 'felix', hostname: 'observer' });
  t.cleanup.push(() => observer.stop());
  observer.start();
  await waitFor(() => observer.status === 'in-sync', 10_000, 'observer in sync');
  const victim = [...observer.state.entries()]
    .map(([k]) => k)
    .find((k) => k.startsWith(Keys.node('')))!
    .slice(Keys.node('').length);
  const before = observer.state.get(Keys.wireguard(victim));

  const attacker = await RawClient.open(t.stack.address);
  t.cleanup.push(() => attacker.destroy());
  attacker.hello({ hostname: victim });
  await waitFor(() => attacker.messages.some((m) => m.type === MsgType.ServerHello), 5_000, 'SERVER_HELLO');
  const key = randomBytes(32).toString('base64');
  // Sent whether or not SERVER_HELLO invited it: an attacker does not ask.
  attacker.socket.write(
    encodeMessage({ type: MsgType.Report, body: { kind: KIND, node: victim, data: { publicKey: key } } }),
  );
  const serverHello = attacker.messages.find((m) => m.type === MsgType.ServerHello)!;
  return { observer, victim, before, key, writes: () => writes, serverHello, attacker };
}

describe('REPORTs on unauthenticated connections', () => {
  it("are refused by default: another node's key cannot be set, and nothing is written", async () => {
    const a = await attack(false);
    const counted = () => t.stack!.server.stats.reports.get(`${KIND}:unauthenticated`);
    await waitFor(() => counted() === 1, 5_000, 'refusal counted');
    // The server did not invite reports on this connection...
    expect((a.serverHello.body as { reports?: string[] }).reports).toBeUndefined();
    // ...never called the datastore, and the node's WireGuard KV is what it was.
    await new Promise((r) => setTimeout(r, 300));
    expect(a.writes()).toBe(0);
    expect(a.observer.state.get(Keys.wireguard(a.victim))).toEqual(a.before);
    // The refusal does not cut the connection (§15.3).
    expect(a.attacker.closed).toBe(false);
  });

  it('are accepted, trusting the HELLO hostname, only when the operator opts in', async () => {
    const a = await attack(true);
    expect((a.serverHello.body as { reports?: string[] }).reports).toEqual([KIND]);
    await waitFor(
      () => (a.observer.state.get(Keys.wireguard(a.victim)) as { publicKey?: string })?.publicKey === a.key,
      10_000,
      'key recorded',
    );
    expect(a.writes()).toBe(1);
  });
});
