// REPORT pieces on their own: the checks on a report's data and node, the optional fields
// in SERVER_HELLO and REPORT, the server's per-connection rate limit and per-node
// coalescing (latest wins), and the sim datastore's in-memory overlay.
import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { NodeNotFoundError } from '../../src/datastore/source.js';
import { Keys } from '../../src/model/keys.js';
import { silentLogger } from '../../src/model/logger.js';
import type { KV, SyncStatus } from '../../src/model/types.js';
import { packr } from '../../src/protocol/codec.js';
import { MsgType, parseBody } from '../../src/protocol/messages.js';
import {
  isNodeName,
  isWireguardPublicKey,
  parseWireguardPublicKeyData,
  ReportError,
} from '../../src/protocol/reports.js';
import { type NodeReportSink, NodeReports, type Reporter } from '../../src/server/reports.js';
import { CounterMap } from '../../src/server/stats.js';
import { SimulatedCluster } from '../../src/testing/sim/simulated-cluster.js';

const KIND = 'wireguard-public-key';
const newKey = (): string => randomBytes(32).toString('base64');

describe('wireguard-public-key data', () => {
  it('accepts the canonical base64 of 32 bytes, or null', () => {
    for (let i = 0; i < 50; i++) expect(isWireguardPublicKey(newKey())).toBe(true);
    const k = newKey();
    expect(parseWireguardPublicKeyData({ publicKey: k })).toEqual({ publicKey: k });
    expect(parseWireguardPublicKeyData({ publicKey: null })).toEqual({ publicKey: null });
  });

  it.each([
    ['a string', 'abc'],
    ['no publicKey', {}],
    ['a number', { publicKey: 5 }],
    ['too short', { publicKey: newKey().slice(1) }],
    ['31 bytes', { publicKey: randomBytes(31).toString('base64') }],
    ['33 bytes', { publicKey: randomBytes(33).toString('base64') }],
    ['url-safe alphabet', { publicKey: `${'-'.repeat(42)}A=` }],
    ['padding bits set', { publicKey: `${'A'.repeat(42)}B=` }],
    ['whitespace', { publicKey: ` ${newKey()}` }],
  ])('refuses %s', (_why, data) => {
    expect(() => parseWireguardPublicKeyData(data as never)).toThrow(ReportError);
    try {
      parseWireguardPublicKeyData(data as never);
    } catch (err) {
      expect((err as ReportError).refusal).toBe('invalid-data');
      expect((err as ReportError).code).toBe('TABBY_ERR_REPORT_INVALID_DATA');
    }
  });

  it('node names are DNS-1123 subdomains', () => {
    expect(isNodeName('node-1.example.com')).toBe(true);
    expect(isNodeName('Node-1')).toBe(false);
    expect(isNodeName('-a')).toBe(false);
    expect(isNodeName('a/b')).toBe(false);
    expect(isNodeName('')).toBe(false);
    expect(isNodeName('a'.repeat(254))).toBe(false);
  });
});

describe('optional fields', () => {
  const serverHello = {
    version: 1,
    syncer: 'felix',
    compression: 'none',
    epoch: 'e',
    serverId: 's',
    resumed: false,
    pingIntervalMs: 1,
    pongTimeoutMs: 2,
  };
  it('SERVER_HELLO reports: absent, nil, a list; anything else is malformed', () => {
    const parse = (b: unknown) => parseBody(MsgType.ServerHello, packr.unpack(packr.pack(b)));
    expect(parse(serverHello).body).not.toHaveProperty('reports');
    expect(parse({ ...serverHello, reports: null }).body).not.toHaveProperty('reports');
    expect(parse({ ...serverHello, reports: [KIND] }).body).toMatchObject({ reports: [KIND] });
    expect(() => parse({ ...serverHello, reports: KIND })).toThrow(/reports/);
  });
  it('REPORT node: optional string', () => {
    expect(parseBody(MsgType.Report, { kind: KIND, data: null }).body).toEqual({ kind: KIND, data: null });
    expect(parseBody(MsgType.Report, { kind: KIND, node: 'n', data: {} }).body).toEqual({
      kind: KIND,
      node: 'n',
      data: {},
    });
    expect(() => parseBody(MsgType.Report, { kind: KIND, node: 5, data: {} })).toThrow(/node/);
  });
});

/** A sink that holds each write until the test releases it. */
class GatedSink implements NodeReportSink {
  readonly calls: Array<{ node: string; key: string | null; signal: AbortSignal; release: () => void }> = [];
  recordWireguardPublicKey(node: string, key: string | null, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(new Error('aborted')));
      this.calls.push({ node, key, signal, release: resolve });
    });
  }
}
const reporter = (node: string | undefined, identity?: { subject: string; node: string }): Reporter => ({
  identity,
  node,
  hostname: node ?? 'Bad_Name',
  describe: () => ({ hostname: node }),
});
/** Plain TCP as these cases have it: HELLO's hostname trusted on purpose. */
const TRUST_HELLO = { insecureAcceptUnauthenticated: true };
const flush = () => new Promise((r) => setTimeout(r, 0));

describe('NodeReports (server)', () => {
  it('latest value wins: a newer report aborts the write in flight; the same value is coalesced', async () => {
    const sink = new GatedSink();
    const counts = new CounterMap();
    const reports = new NodeReports(sink, counts, silentLogger, TRUST_HELLO);
    const from = reporter('node-a');
    const [k1, k2, k3] = [newKey(), newKey(), newKey()];
    reports.onReport(from, { kind: KIND, data: { publicKey: k1 } });
    await flush();
    expect(sink.calls.map((c) => c.key)).toEqual([k1]);
    reports.onReport(from, { kind: KIND, data: { publicKey: k1 } });
    expect(counts.get(`${KIND}:coalesced`)).toBe(1);
    reports.onReport(from, { kind: KIND, data: { publicKey: k2 } });
    reports.onReport(from, { kind: KIND, data: { publicKey: k3 } });
    expect(sink.calls[0]!.signal.aborted).toBe(true);
    await flush();
    await flush();
    // k2 never reached the sink: k3 replaced it while k1 was being aborted.
    expect(sink.calls.map((c) => c.key)).toEqual([k1, k3]);
    sink.calls[1]!.release();
    await flush();
    await flush();
    expect(counts.get(`${KIND}:recorded`)).toBe(1);
    expect(counts.get(`${KIND}:superseded`)).toBe(2);
    expect(reports.busyNodes).toBe(0);
  });

  it('a failed write is retried with backoff until it lands; a newer value goes at once instead', async () => {
    vi.useFakeTimers();
    try {
      const attempts: Array<string | null> = [];
      let failUntil = 3;
      const sink: NodeReportSink = {
        recordWireguardPublicKey: async (_node, key) => {
          attempts.push(key);
          if (attempts.length < failUntil) throw new Error('no node named "node-a"');
        },
      };
      const counts = new CounterMap();
      const reports = new NodeReports(sink, counts, silentLogger, TRUST_HELLO);
      const [k1, k2] = [newKey(), newKey()];
      reports.onReport(reporter('node-a'), { kind: KIND, data: { publicKey: k1 } });
      await vi.advanceTimersByTimeAsync(0);
      expect(attempts).toEqual([k1]);
      // Retries back off from 1 s (±50 %): two failures, then it lands, once.
      await vi.advanceTimersByTimeAsync(60_000);
      expect(attempts).toEqual([k1, k1, k1]);
      expect(counts.get(`${KIND}:failed`)).toBe(2);
      expect(counts.get(`${KIND}:recorded`)).toBe(1);
      expect(reports.busyNodes).toBe(0);
      // Failing again: a newer value does not wait for the retry's time.
      failUntil = 5;
      reports.onReport(reporter('node-a'), { kind: KIND, data: { publicKey: k1 } });
      await vi.advanceTimersByTimeAsync(0);
      expect(attempts.length).toBe(4);
      reports.onReport(reporter('node-b'), { kind: KIND, data: { publicKey: k2 } });
      reports.onReport(reporter('node-a'), { kind: KIND, data: { publicKey: k2 } });
      await vi.advanceTimersByTimeAsync(0);
      expect(attempts.slice(4)).toEqual([k2, k2]);
      // Shutdown stops the retries.
      failUntil = 100;
      reports.onReport(reporter('node-c'), { kind: KIND, data: { publicKey: k2 } });
      await vi.advanceTimersByTimeAsync(0);
      reports.close();
      const before = attempts.length;
      await vi.advanceTimersByTimeAsync(120_000);
      expect(attempts.length).toBe(before);
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses other nodes, bad node names, unknown kinds and bursts, per connection', () => {
    const sink = new GatedSink();
    const counts = new CounterMap();
    const reports = new NodeReports(sink, counts, silentLogger, TRUST_HELLO, { burst: 3, refillMs: 1_000 });
    const a = reporter('node-a');
    reports.onReport(a, { kind: KIND, node: 'node-b', data: { publicKey: newKey() } }, 0);
    reports.onReport(reporter(undefined), { kind: KIND, data: { publicKey: newKey() } }, 0);
    reports.onReport(a, { kind: 'something-else', data: 1 }, 0);
    expect(counts.get(`${KIND}:wrong-node`)).toBe(1);
    expect(counts.get(`${KIND}:invalid-node`)).toBe(1);
    expect(counts.get('other:unsupported-kind')).toBe(1);
    // a has used 2 of its 3 tokens; one left, then refused until a refill.
    reports.onReport(a, { kind: KIND, data: { publicKey: null } }, 10);
    reports.onReport(a, { kind: KIND, data: { publicKey: null } }, 20);
    expect(counts.get(`${KIND}:rate-limited`)).toBe(1);
    reports.onReport(a, { kind: KIND, data: { publicKey: null } }, 1_500);
    expect(counts.get(`${KIND}:rate-limited`)).toBe(1);
    // Another connection has its own bucket.
    reports.onReport(reporter('node-c'), { kind: KIND, data: { publicKey: null } }, 20);
    expect(counts.get(`${KIND}:rate-limited`)).toBe(1);
  });

  it('by default only an authenticated connection may report, and only about its own node', async () => {
    const sink = new GatedSink();
    const counts = new CounterMap();
    const reports = new NodeReports(sink, counts, silentLogger, { insecureAcceptUnauthenticated: false });
    // Plain TCP: HELLO says node-a, nothing proves it.
    const claims = reporter('node-a');
    expect(reports.acceptsFrom(claims)).toBe(false);
    reports.onReport(claims, { kind: KIND, data: { publicKey: newKey() } });
    expect(counts.get(`${KIND}:unauthenticated`)).toBe(1);
    // A certificate for node-b, HELLO claiming node-a: refused.
    reports.onReport(reporter('node-a', { subject: 'CN=system:node:node-b', node: 'node-b' }), {
      kind: KIND,
      data: { publicKey: newKey() },
    });
    expect(counts.get(`${KIND}:wrong-node`)).toBe(1);
    // Proven node-b, about node-b: recorded for node-b.
    const proven = reporter('node-b', { subject: 'CN=system:node:node-b', node: 'node-b' });
    expect(reports.acceptsFrom(proven)).toBe(true);
    const key = newKey();
    reports.onReport(proven, { kind: KIND, node: 'node-b', data: { publicKey: key } });
    await flush();
    expect(sink.calls.map((c) => [c.node, c.key])).toEqual([['node-b', key]]);
  });
});

class Sink {
  readonly state = new Map<string, unknown>();
  readonly statuses: SyncStatus[] = [];
  onUpdates(kvs: readonly KV[]) {
    for (const kv of kvs) kv.value === null ? this.state.delete(kv.key) : this.state.set(kv.key, kv.value);
  }
  onStatus(s: SyncStatus) {
    this.statuses.push(s);
  }
}

describe('sim datastore overlay', () => {
  it('records a key for a simulated node, refuses unknown nodes', async () => {
    const sim = new SimulatedCluster({ nodes: 4, pods: 8, churnPerSec: 0 });
    const sink = new Sink();
    const signal = new AbortController().signal;
    const key = newKey();
    await sim.start(sink);
    const nodeKey = [...sink.state.keys()].find((k) => k.startsWith(Keys.node('')))!;
    const node = decodeURIComponent(nodeKey.slice(Keys.node('').length));
    await sim.recordWireguardPublicKey(node, key, signal);
    expect(sink.state.get(Keys.wireguard(node))).toMatchObject({ publicKey: key });
    expect(sink.state.get(nodeKey)).toMatchObject({ status: { wireguardPublicKey: key } });
    await expect(sim.recordWireguardPublicKey('no-such-node', key, signal)).rejects.toBeInstanceOf(
      NodeNotFoundError,
    );
    await sim.recordWireguardPublicKey(node, null, signal);
    expect(
      (sink.state.get(Keys.wireguard(node)) as { publicKey?: string } | undefined)?.publicKey,
    ).toBeUndefined();
    await sim.stop();
  });
});
