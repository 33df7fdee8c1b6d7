// The renderers' cache across renders (dataplane/render-cache.ts, iptables ChainHashCache): after
// any sequence of random edits (policy rule edits and deletions, profile deletions, local and
// remote relabels, local endpoints added and removed), a render through the cache equals a fresh render, for
// iptables (chains, sets, restore text and diffs) and nftables (the whole table text), and the
// cache keeps only what the last render used.

import { describe, expect, it } from 'vitest';
import { generate } from '../../loadtest/policy-gen.js';
import { PolicyCalculator } from '../../src/agent/calc/index.js';
import {
  appliedState,
  ChainHashCache,
  type RenderedDataplane,
  render,
  renderRestore,
} from '../../src/agent/dataplane/iptables/index.js';
import { render as renderNft } from '../../src/agent/dataplane/nftables/index.js';
import { RenderCache, snapshotOf } from '../../src/agent/dataplane/rules/index.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import type { JsonValue, KV } from '../../src/model/types.js';

const OPTIONS = { seed: 7, endpoints: 240, nodes: 4, namespaces: 6, policies: 90, appsPerNamespace: 4 };
const NODE = 'node-001';

/** A small deterministic PRNG, so a failure replays. */
function prng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

/** The random edit steps, as KV batches. */
function editor(seed: number) {
  const cluster = generate(OPTIONS);
  const rand = prng(seed);
  const kvs = new Map(cluster.kvs.map((kv) => [kv.key, kv.value]));
  const keys = cluster.kvs.map((kv) => kv.key);
  const policyKeys = keys.filter((k) => /\/policy\/(?!tier\/|profile\/)/.test(k));
  const profileKeys = keys.filter((k) => k.includes('/policy/profile/'));
  expect(policyKeys.length).toBeGreaterThan(50);
  expect(profileKeys.length).toBeGreaterThan(0);
  const pods = cluster.pods.map((p) => structuredClone(p));
  let added = 0;
  const podKv = (pod: KubeObject): KV => {
    const out = convertObject(pod);
    expect(out).toHaveLength(1);
    return out[0]!;
  };
  const steps: Record<string, () => KV[]> = {
    policyEdit: () => {
      const key = policyKeys[rand(policyKeys.length)]!;
      const value = kvs.get(key) as Record<string, JsonValue> | null | undefined;
      if (value === null || value === undefined) return [];
      const dir = rand(2) === 0 ? 'inboundRules' : 'outboundRules';
      const rules = structuredClone((value[dir] ?? []) as Record<string, JsonValue>[]);
      if (rules.length === 0 || rand(3) === 0)
        rules.push({
          action: 'allow',
          protocol: 'tcp',
          dstPorts: [1000 + rand(1000)],
          srcSelector: "app == 'a1'",
        });
      else rules[rand(rules.length)] = { ...rules[0]!, protocol: 'tcp', dstPorts: [1000 + rand(1000)] };
      const next = { ...value, [dir]: rules };
      kvs.set(key, next);
      return [{ key, value: next }];
    },
    policyDelete: () => {
      const key = policyKeys[rand(policyKeys.length)]!;
      kvs.set(key, null);
      return [{ key, value: null }];
    },
    profileDelete: () => {
      const key = profileKeys[rand(profileKeys.length)]!;
      return [{ key, value: null }];
    },
    relabel: () => {
      const pod = pods[rand(pods.length)]!;
      const labels = pod.metadata.labels!;
      labels['app'] = `a${rand(OPTIONS.appsPerNamespace)}`;
      if (rand(2) === 0) labels['version'] = `v${1 + rand(3)}`;
      return [podKv(pod)];
    },
    endpointAdd: () => {
      const pod = structuredClone(pods[rand(pods.length)]!);
      added++;
      pod.metadata.name = `added-${added}`;
      (pod.spec as { nodeName: string }).nodeName = NODE;
      (pod.status as { podIP: string }).podIP = `10.200.${added >> 8}.${added & 255}`;
      pods.push(pod);
      return [podKv(pod)];
    },
    endpointRemove: () => {
      const i = rand(pods.length);
      const pod = pods[i]!;
      pods.splice(i, 1);
      return [{ key: podKv(pod).key, value: null }];
    },
  };
  return { cluster, rand, steps };
}

const rulesOf = (r: RenderedDataplane) => [...r.tables.values()].reduce((n, t) => n + t.size, 0);

describe('render cache', () => {
  for (const seed of [1, 2, 3]) {
    it(`a cached re-render equals a fresh render after random edits (seed ${seed})`, () => {
      const { cluster, rand, steps } = editor(seed);
      const calc = new PolicyCalculator(NODE);
      calc.apply(cluster.kvs);
      const ipCache = new RenderCache();
      const nftCache = new RenderCache();
      const hashes = new ChainHashCache();
      let previous = render(snapshotOf(calc), {}, ipCache);
      renderNft(snapshotOf(calc), {}, nftCache);
      expect(rulesOf(previous)).toBeGreaterThan(20);
      const names = Object.keys(steps);
      const seen = new Set<string>();
      let written = 0;
      for (let i = 0; i < 40; i++) {
        const name = names[rand(names.length)]!;
        seen.add(name);
        calc.apply(steps[name]!());
        const snap = snapshotOf(calc);
        const fresh = render(snap);
        const cached = render(snap, {}, ipCache);
        expect(cached, `iptables after step ${i} (${name})`).toEqual(fresh);
        // The diff against the previous render, hashed through the cache, is the same too.
        const diff = renderRestore(fresh, appliedState(previous));
        expect(renderRestore(cached, appliedState(previous, hashes), hashes)).toEqual(diff);
        written += diff.written.length + diff.deleted.length;
        expect(renderRestore(cached, undefined, hashes).text).toBe(renderRestore(fresh).text);
        const nftFresh = renderNft(snap);
        const nftCached = renderNft(snap, {}, nftCache);
        expect(nftCached.text, `nftables after step ${i} (${name})`).toBe(nftFresh.text);
        expect(nftCached).toEqual(nftFresh);
        // Bounded: one entry per policy/profile chain and endpoint chain of the last render.
        expect(ipCache.size).toBeLessThanOrEqual(previous.chains.size + cached.chains.size);
        previous = cached;
      }
      expect(seen.size).toBe(names.length);
      expect(written).toBeGreaterThan(20); // the edits did change chains
      expect(ipCache.hits).toBeGreaterThan(ipCache.misses);
      expect(hashes.reused).toBeGreaterThan(hashes.hashed);
    });
  }

  it('drops entries the last render did not use', () => {
    const cache = new RenderCache();
    const a = {};
    const b = {};
    cache.begin();
    expect(cache.memo('a', a, () => 1)).toBe(1);
    expect(cache.memo('b', b, () => 2)).toBe(2);
    cache.end();
    cache.begin();
    expect(cache.memo('a', a, () => 3)).toBe(1); // same input: reused
    expect(cache.memo('b', {}, () => 4)).toBe(4); // new input: recomputed
    cache.end();
    cache.begin();
    cache.end();
    expect(cache.size).toBe(0);
  });
});
