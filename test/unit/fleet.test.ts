// The fleet view's model: how each agent is classified from its last ACK (PROTOCOL.md §13),
// what a syncer's summary counts and names, recent close reasons, data age, and the gauges
// alerts read. Real caches and Connection objects on a fake clock; no sockets.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Keys } from '../../src/model/keys.js';
import { CloseWindow } from '../../src/observability/close-window.js';
import { BEHIND_AFTER_MS, FleetModel } from '../../src/observability/fleet.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { Connection, ConnState } from '../../src/server/connection.js';
import { ServerStats } from '../../src/server/stats.js';
import { SnapshotCache } from '../../src/snapcache/cache.js';
import { SyncerRouter } from '../../src/snapcache/router.js';
import { TEST_CACHE_OPTIONS } from '../harness/stack.js';

let clock = 1_000_000;
const now = () => clock;

function setup() {
  const felix = new SnapshotCache({ ...TEST_CACHE_OPTIONS, syncer: 'felix', now });
  const bgp = new SnapshotCache({ ...TEST_CACHE_OPTIONS, syncer: 'bgp', now });
  const conns: Connection[] = [];
  const stats = new ServerStats();
  const server = { connections: () => conns.values(), stats, connectionCount: 0 };
  const fleet = new FleetModel({ serverId: 'tabby-0', streams: [felix, bgp], server, now });
  let port = 40_000;
  /** A client past HELLO on `cache`, sent up to its head. */
  const connect = (hostname: string, cache: SnapshotCache): Connection => {
    const socket = { remoteAddress: '10.0.0.7', remotePort: port++ } as Socket;
    const c = new Connection(conns.length + 1, socket, clock);
    c.state = ConnState.Streaming;
    c.syncer = cache.syncer;
    c.stream = cache;
    c.hostname = hostname;
    c.generation = cache.headGeneration;
    conns.push(c);
    return c;
  };
  const advance = (cache: SnapshotCache, value: number) => {
    cache.apply([{ key: Keys.tier(`t${value}`), value: { order: value } }]);
    cache.flush();
  };
  return { felix, bgp, conns, stats, server, fleet, connect, advance };
}

describe('fleet model', () => {
  it('classifies agents by their last ACK: current, behind, divergent, unacked; hash unknown counted', () => {
    const { felix, fleet, connect, advance } = setup();
    felix.setStatus('in-sync');
    advance(felix, 1);
    const g1 = felix.headGeneration;
    const h1 = felix.hashAt(g1)!;
    const current = connect('node-current', felix);
    const noHash = connect('node-nohash', felix);
    const divergent = connect('node-divergent', felix);
    const slow = connect('node-slow', felix);
    connect('node-new', felix);
    current.recordAck({ generation: g1, hash: h1 }, clock);
    noHash.recordAck({ generation: g1 }, clock);
    divergent.recordAck({ generation: g1, hash: 'f'.repeat(64) }, clock);
    slow.recordAck({ generation: g1, hash: h1 }, clock);
    // The stream moves on; all but the slow one acknowledge the new head in time.
    clock += 1_000;
    advance(felix, 2);
    const g2 = felix.headGeneration;
    for (const c of [current, noHash]) {
      c.generation = g2;
      c.recordAck({ generation: g2, ...(c === current && { hash: felix.hashAt(g2)! }) }, clock);
    }
    clock += BEHIND_AFTER_MS + 1;

    const r = fleet.report({ agents: true });
    const byName = new Map(r.agents!.map((a) => [a.hostname, a]));
    expect(byName.get('node-current')).toMatchObject({ state: 'current', hash: 'match', lagGenerations: 0 });
    expect(byName.get('node-nohash')).toMatchObject({ state: 'current', hash: 'unknown' });
    expect(byName.get('node-divergent')).toMatchObject({ state: 'divergent', hash: 'divergent' });
    expect(byName.get('node-slow')).toMatchObject({
      state: 'behind',
      hash: 'match',
      ackedGeneration: g1,
      lagGenerations: 1,
      lagMs: BEHIND_AFTER_MS + 1,
    });
    expect(byName.get('node-new')).toMatchObject({ state: 'unacked', ackedGeneration: null, lagMs: null });
    const s = r.syncers.find((x) => x.syncer === 'felix')!;
    expect(s).toMatchObject({
      agents: 5,
      current: 2,
      behind: 1,
      divergent: 1,
      unacked: 1,
      hashUnknown: 1,
      maxLagGenerations: 1,
      maxLagMs: BEHIND_AFTER_MS + 1,
    });
    // Divergent first, then the most lagging; current agents are never "worst".
    expect(s.worst.map((w) => w.hostname)).toEqual(['node-divergent', 'node-slow']);
    expect(r.syncers.find((x) => x.syncer === 'bgp')).toMatchObject({ agents: 0, worst: [] });
    expect(fleet.report().agents).toBeUndefined(); // the list only when asked for
  });

  it('judges an ACK only against a generation sent on the connection and still kept', () => {
    const { felix, connect, advance } = setup();
    advance(felix, 1);
    const c = connect('n', felix);
    const sent = c.generation;
    c.recordAck({ generation: sent + 1, hash: felix.hashAt(sent)! }, clock); // never sent
    expect(c.ackedHash).toBe('unknown');
    c.recordAck({ generation: sent, hash: felix.hashAt(sent)! }, clock);
    expect(c.ackedHash).toBe('match');
    for (let i = 2; i < 1_100; i++) advance(felix, i);
    c.generation = felix.headGeneration;
    c.recordAck({ generation: sent, hash: 'a'.repeat(64) }, clock); // hash no longer kept
    expect(c.ackedHash).toBe('unknown');
  });

  it('data age: 0 while every syncer is in sync and the API answers, then the time since', () => {
    const { felix, bgp, server } = setup();
    const api = { live: true, replacements: 0 } as { live: boolean; replacements: number; reason?: string };
    const datastore = { health: () => ({ conversionErrors: new Map(), api }) };
    const fleet = new FleetModel({ serverId: 'x', streams: [felix, bgp], server, datastore, now });
    expect(fleet.report().datastore).toMatchObject({ inSync: false, dataAgeMs: null });
    felix.setStatus('in-sync');
    bgp.setStatus('in-sync');
    expect(fleet.report().datastore).toMatchObject({ inSync: true, dataAgeMs: 0 });
    clock += 2_000;
    api.live = false;
    api.reason = 'probe timed out';
    clock += 3_000;
    const d = fleet.report().datastore;
    expect(d).toMatchObject({
      inSync: false,
      dataAgeMs: 5_000,
      api: { live: false, reason: 'probe timed out' },
    });
    expect(d.statuses).toEqual({ felix: 'in-sync', bgp: 'in-sync' });
  });

  it('close reasons of the last minutes, not of all time', () => {
    const stats = new ServerStats();
    const w = new CloseWindow(() => stats.closes.entries(), 60_000);
    stats.closes.inc('felix:ping-timeout', 7); // before the window
    w.sample(0);
    stats.closes.inc('felix:ping-timeout', 2);
    stats.closes.inc('bgp:client:client-closing');
    w.sample(30_000);
    expect(w.recent(30_000)).toEqual({
      coveredMs: 30_000,
      reasons: [
        { syncer: 'felix', reason: 'ping-timeout', count: 2 },
        { syncer: 'bgp', reason: 'client:client-closing', count: 1 },
      ],
    });
    stats.closes.inc('felix:fell-behind');
    w.sample(70_000); // the sample at 0 is now outside the window
    expect(w.recent(70_000)).toEqual({
      coveredMs: 40_000,
      reasons: [{ syncer: 'felix', reason: 'fell-behind', count: 1 }],
    });
  });

  it('exports tabby_agents{syncer,state} with every series, zeros included, for alerts', async () => {
    const { felix, bgp, fleet, connect, advance } = setup();
    advance(felix, 1);
    connect('n1', felix).recordAck({ generation: felix.headGeneration, hash: 'b'.repeat(64) }, clock);
    const caches = [felix, bgp];
    const server = { connections: () => [].values(), stats: new ServerStats(), connectionCount: 0 };
    const registry = createMetrics({
      caches,
      server: server as never,
      router: new SyncerRouter(caches),
      fleet,
    });
    const text = await registry.metrics();
    expect(text).toContain('tabby_agents{syncer="felix",state="divergent"} 1');
    expect(text).toContain('tabby_agents{syncer="felix",state="current"} 0');
    expect(text).toContain('tabby_agents{syncer="bgp",state="behind"} 0');
    expect(text).toMatch(/tabby_agents_lag_max_seconds\{syncer="felix"\} 0/);
  });
});
