import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerLintMetrics } from '../../src/lint/metrics.js';
import { LintTap } from '../../src/lint/tap.js';
import { Keys } from '../../src/model/keys.js';
import type { Logger } from '../../src/model/logger.js';
import type { KV, SyncStatus } from '../../src/model/types.js';
import { generateInitialState } from '../../src/testing/sim/index.js';

function recorder() {
  const lines: { level: string; obj: unknown; msg?: string }[] = [];
  const log: Logger = {
    debug: (obj, msg) => lines.push({ level: 'debug', obj, msg }),
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
    child: () => log,
  };
  return { log, lines };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LintTap (the server lint stage)', () => {
  const kvs = generateInitialState({ nodes: 8, pods: 80, churnPerSec: 0 });
  const node = kvs.find((kv) => kv.key.startsWith(Keys.node('')))!;
  const nodeIp = (node.value as { spec: { bgp: { ipv4Address: string } } }).spec.bgp.ipv4Address.split(
    '/',
  )[0]!;
  const wrongPeer: KV = {
    key: Keys.bgpPeer('to-node-wrong-as'),
    value: {
      kind: 'BGPPeer',
      apiVersion: 'projectcalico.org/v3',
      metadata: { name: 'to-node-wrong-as' },
      spec: { peerIP: nodeIp, asNumber: 65999 },
    },
  };

  it('passes everything through, waits for in-sync, then logs new and cleared findings and exports counts', async () => {
    const seen: { kvs: number; status: SyncStatus[] } = { kvs: 0, status: [] };
    const { log, lines } = recorder();
    const tap = new LintTap(
      {
        onUpdates: (b) => {
          seen.kvs += b.length;
        },
        onStatus: (s) => void seen.status.push(s),
      },
      log,
      { quietMs: 10 },
    );
    const registry = new Registry();
    registerLintMetrics(registry, tap.stage);
    tap.onUpdates([...kvs, wrongPeer]);
    await wait(30);
    expect(tap.evaluations).toBe(0); // a partial state is never judged
    tap.onStatus('in-sync');
    expect(seen).toEqual({ kvs: kvs.length + 1, status: ['in-sync'] });
    await wait(50);
    expect(tap.evaluations).toBe(1);
    const error = lines.find(
      (l) => l.level === 'error' && (l.obj as { rule?: string }).rule === 'bgp-peer-asn-mismatch',
    );
    expect(error?.obj).toMatchObject({ resource: 'BGPPeer/to-node-wrong-as' });
    const text = await registry.metrics();
    expect(text).toMatch(/tabby_lint_findings\{rule="bgp-peer-asn-mismatch",severity="error"\} 1/);

    // Policy churn that changes only the finding's details (one of the tier's policies goes)
    // is not logged again at warning level, nor as cleared.
    const tierWarn = () =>
      lines.filter(
        (l) => l.level === 'warn' && (l.obj as { rule?: string }).rule === 'tier-deny-without-pass',
      );
    const warned = tierWarn();
    expect(warned.length).toBe(1);
    const related = (warned[0]!.obj as { related: string[] }).related;
    expect(related.length).toBeGreaterThan(1);
    const [, ns, name] = /^NetworkPolicy\/([^/]+)\/(.+)$/.exec(related[0]!)!;
    const gone = Keys.policy('NetworkPolicy', ns!, name!);
    expect(kvs.some((kv) => kv.key === gone)).toBe(true);
    tap.onUpdates([{ key: gone, value: null }]);
    await wait(50);
    expect(tap.evaluations).toBe(2);
    expect(tierWarn().length).toBe(1);
    expect(lines.some((l) => l.msg === 'lint finding cleared')).toBe(false);

    // Fixed in the datastore: the finding clears, in the log and in the gauge.
    tap.onUpdates([{ key: wrongPeer.key, value: null }]);
    await wait(50);
    expect(
      lines.some(
        (l) =>
          l.msg === 'lint finding cleared' &&
          (l.obj as { resource?: string }).resource === 'BGPPeer/to-node-wrong-as',
      ),
    ).toBe(true);
    expect(await registry.metrics()).toMatch(
      /tabby_lint_findings\{rule="bgp-peer-asn-mismatch",severity="error"\} 0/,
    );
    tap.stop();
  });

  it('keeps evaluating under steady churn (a throttle, not a debounce)', async () => {
    const tap = new LintTap({ onUpdates() {}, onStatus() {} }, recorder().log, { quietMs: 20 });
    tap.onUpdates(kvs);
    tap.onStatus('in-sync');
    const pod = kvs.find((kv) => kv.key.includes('/workload/'))!;
    for (let i = 0; i < 20; i++) {
      tap.onUpdates([pod]);
      await wait(5);
    }
    expect(tap.evaluations).toBeGreaterThanOrEqual(2);
    tap.stop();
  });
});
