// A worker's rebalancing share is judged on its replica's total: the workers together shed
// what the replica holds above its share, each in proportion to what it holds.
import { describe, expect, it } from 'vitest';
import { shareOf } from '../../src/server/rebalance.js';
import { workerReplicaView } from '../../src/server/workers/link.js';
import type { WorkerView } from '../../src/server/workers/messages.js';

const view: WorkerView = {
  fresh: true,
  readyReplicas: 2,
  expected: { felix: 100 },
  replicaClients: { felix: 60 },
};

describe('worker replica view', () => {
  it('splits the replica share by the workers’ fractions of its clients', () => {
    const target = (own: number) =>
      shareOf(
        workerReplicaView(
          () => view,
          () => own,
        ).expectedClients!('felix'),
        2,
        0,
      );
    // The replica holds 60 against a share of 50: 10 too many, shed 40:20 by the two workers.
    const shedA = 40 - target(40);
    const shedB = 20 - target(20);
    expect(shedA).toBe(6);
    expect(shedB).toBe(3);
    expect(shedA + shedB).toBeLessThanOrEqual(10); // rounding up keeps clients, never sheds more
  });

  it('sheds nothing while the replica is within its share, or when nothing is known', () => {
    const within = { ...view, replicaClients: { felix: 50 } };
    expect(
      30 -
        shareOf(
          workerReplicaView(
            () => within,
            () => 30,
          ).expectedClients!('felix'),
          2,
          0,
        ),
    ).toBeLessThanOrEqual(0);
    expect(
      workerReplicaView(
        () => ({ ...view, replicaClients: {} }),
        () => 30,
      ).expectedClients!('felix'),
    ).toBe(0);
    expect(
      workerReplicaView(
        () => view,
        () => 0,
      ).expectedClients!('bgp'),
    ).toBe(0);
  });
});
