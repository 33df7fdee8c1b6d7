import { describe, expect, it } from 'vitest';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { countFindings, LINT_RULES, LintStage, lint, renderFindings } from '../../src/lint/index.js';
import { Keys } from '../../src/model/keys.js';
import type { JsonValue, KV } from '../../src/model/types.js';
import { generateInitialState } from '../../src/testing/sim/index.js';

const v3 = (kind: string, name: string, spec: unknown): KubeObject => ({
  apiVersion: 'projectcalico.org/v3',
  kind,
  metadata: { name },
  spec,
});
const kvsOf = (...objs: KubeObject[]): KV[] => objs.flatMap((o) => convertObject(o));
const rr = v3('Node', 'rr1', { bgp: { ipv4Address: '10.0.0.1/24', asNumber: 65001 } });
const wrongPeer = v3('BGPPeer', 'to-rr', { peerIP: '10.0.0.1', asNumber: 64512 });
const fixedPeer = v3('BGPPeer', 'to-rr', { peerIP: '10.0.0.1', asNumber: 65001 });

describe('LintStage', () => {
  it('reports added, updated and cleared findings between calls', () => {
    const stage = new LintStage();
    stage.apply(kvsOf(rr, wrongPeer));
    const first = stage.changedFindings();
    expect(first.added.map((f) => f.resource)).toEqual(['BGPPeer/to-rr']);
    expect(stage.changedFindings()).toEqual({ added: [], updated: [], cleared: [] });

    // The node changes AS: same finding (rule, resource, related), new message.
    stage.apply(kvsOf(v3('Node', 'rr1', { bgp: { ipv4Address: '10.0.0.1/24', asNumber: 65002 } })));
    const second = stage.changedFindings();
    expect(second.added).toEqual([]);
    expect(second.updated.map((f) => f.message)).toEqual([expect.stringContaining('uses AS 65002')]);

    stage.apply(kvsOf(rr, fixedPeer));
    const third = stage.changedFindings();
    expect(third.cleared.map((f) => f.resource)).toEqual(['BGPPeer/to-rr']);
    expect(stage.findings()).toEqual([]);
  });

  it('a deleted key (null) clears what it caused', () => {
    const stage = new LintStage();
    const kvs = kvsOf(v3('IPPool', 'a', { cidr: '10.1.0.0/16' }), v3('IPPool', 'b', { cidr: '10.1.0.0/24' }));
    stage.apply(kvs);
    expect(stage.findings().map((f) => f.rule)).toEqual(['ippool-overlap']);
    stage.apply([{ key: kvs[1]!.key, value: null }]);
    expect(stage.findings()).toEqual([]);
  });

  it('reports model values that do not parse as invalid-resource, until they are fixed', () => {
    const stage = new LintStage();
    const tierKey = Keys.tier('broken');
    stage.apply([{ key: tierKey, value: { defaultAction: 'Maybe' } as JsonValue }]);
    const f = stage.findings();
    expect(f.map((x) => [x.rule, x.resource])).toEqual([['invalid-resource', 'Tier/broken']]);
    expect(f[0]!.message).toContain('bad defaultAction');
    stage.apply([{ key: tierKey, value: { defaultAction: 'Pass' } }]);
    expect(stage.findings()).toEqual([]);
  });

  it('endpoint churn leaves the findings as they were', () => {
    const stage = new LintStage({ maxMeshNodes: 10 });
    stage.apply(generateInitialState({ nodes: 20, pods: 100 }));
    const before = stage.findings();
    expect(before.map((f) => f.rule)).toContain('full-mesh-too-large');
    const wep = Keys.workloadEndpoint('node-1', 'ns', 'pod');
    stage.apply([{ key: wep, value: { ipv4Nets: ['10.9.9.9/32'] } }]);
    expect(stage.findings()).toEqual(before);
  });

  it('lint() accepts a state map as well as a KV list', () => {
    const kvs = kvsOf(rr, wrongPeer);
    const map = new Map(kvs.map((kv) => [kv.key, kv.value]));
    expect(lint(map)).toEqual(lint(kvs));
  });

  it('rejects bad options at construction', () => {
    expect(() => new LintStage({ maxMeshNodes: 0 })).toThrow(/positive integer/);
  });
});

describe('countFindings', () => {
  it('counts per rule and severity, with zeros for every pair a rule can report', () => {
    const counts = countFindings(lint(kvsOf(rr, wrongPeer)));
    expect(counts).toContainEqual({ rule: 'bgp-peer-asn-mismatch', severity: 'error', count: 1 });
    expect(counts).toContainEqual({ rule: 'tier-deny-without-pass', severity: 'info', count: 0 });
    const pairs = LINT_RULES.reduce((n, r) => n + r.severities.length, 0);
    expect(counts).toHaveLength(pairs);
  });
});

describe('renderFindings', () => {
  it('groups by severity with the fix and a summary line', () => {
    const text = renderFindings(lint(kvsOf(rr, wrongPeer)));
    expect(text).toContain('Errors (1):');
    expect(text).toContain('[bgp-peer-asn-mismatch] BGPPeer/to-rr');
    expect(text).toContain('fix: Set spec.asNumber: 65001 on BGPPeer to-rr');
    expect(text.trim().endsWith('1 error, 0 warnings, 0 info')).toBe(true);
    expect(renderFindings([])).toBe('No findings.\n');
  });
});
