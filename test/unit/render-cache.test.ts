// The incremental path from calc to the renderers (rules/feed.ts, rules/render-cache.ts, iptables
// ChainHashCache): after any sequence of random edits (policy rule edits and deletions, named
// ports, profile deletions, local and remote relabels, local endpoints added and removed), the
// snapshot a SnapshotFeed keeps from the calc updates equals snapshotOf(calc), and a render of
// it through the cache equals a fresh render, for iptables (chains, sets, restore text and
// diffs) and nftables (the whole table text); what the update did not name keeps its identity,
// and the cache keeps only what the last render used.

import { describe, expect, it } from 'vitest';
import { generate } from '../../loadtest/policy-gen.js';
import { type CalcUpdate, PolicyCalculator } from '../../src/agent/calc/index.js';
import {
  appliedState,
  ChainHashCache,
  type RenderedDataplane,
  render,
  renderRestore,
} from '../../src/agent/dataplane/iptables/index.js';
import { render as renderNft } from '../../src/agent/dataplane/nftables/index.js';
import {
  RenderingDataplane,
  renderFresh,
  viaRuleModel,
} from '../../src/agent/dataplane/rendering-manager.js';
import {
  type DataplaneSnapshot,
  namedPortMembers,
  RenderCache,
  SnapshotFeed,
  snapshotOf,
} from '../../src/agent/dataplane/rules/index.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { silentLogger } from '../../src/model/logger.js';
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
          // Sometimes a named port: a new named-port set comes into use.
          dstPorts: [rand(2) === 0 ? 'http' : 1000 + rand(1000)],
          srcSelector: `app == 'a${rand(OPTIONS.appsPerNamespace)}'`,
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

/** A snapshot in a canonical form: plans sorted, maps as sorted entries, named-port sets as rendered. */
function canonical(s: DataplaneSnapshot) {
  const entries = <V>(m: ReadonlyMap<string, V> | undefined) =>
    [...(m ?? new Map<string, V>())].sort(([a], [b]) => (a < b ? -1 : 1));
  return {
    plans: [...s.plans].sort((a, b) => (a.id < b.id ? -1 : 1)),
    policies: entries(s.policies),
    profiles: entries(s.profiles),
    ipSets: entries(s.ipSets),
    namedPortSets: entries(s.namedPortSets).map(([id, m]) => [id, namedPortMembers(id, m)]),
    hostConfig: s.hostConfig,
  };
}

/** Which of the snapshot's parts are the very objects they were before `u`, though `u` did not name them. */
function unnamedButReplaced(before: Snapshotted, after: DataplaneSnapshot, u: CalcUpdate): string[] {
  const named = new Set([...u.ipSetsCreated, ...u.ipSetsDeleted, ...u.ipSetChanges.map((c) => c.id)]);
  const out: string[] = [];
  for (const [id, members] of before.ipSets)
    if (!named.has(id) && after.ipSets.has(id) && after.ipSets.get(id) !== members) out.push(`set ${id}`);
  const programs = new Set([...u.policyProgramChanges]);
  for (const [id, prog] of before.policies)
    if (!programs.has(id) && after.policies.has(id) && after.policies.get(id) !== prog)
      out.push(`policy ${id}`);
  const plans = new Set(u.endpointPlanChanges);
  const afterPlans = new Map(after.plans.map((p) => [p.id, p]));
  for (const p of before.plans) if (!plans.has(p.id) && afterPlans.get(p.id) !== p) out.push(`plan ${p.id}`);
  return out;
}
type Snapshotted = Pick<DataplaneSnapshot, 'plans' | 'ipSets' | 'policies'>;
const copyOf = (s: DataplaneSnapshot): Snapshotted => ({
  plans: [...s.plans],
  ipSets: new Map(s.ipSets),
  policies: new Map(s.policies),
});

describe('render cache', () => {
  for (const seed of [1, 2, 3]) {
    it(`a cached re-render equals a fresh render after random edits (seed ${seed})`, () => {
      const { cluster, rand, steps } = editor(seed);
      const calc = new PolicyCalculator(NODE);
      calc.apply(cluster.kvs);
      const ipCache = new RenderCache();
      const nftCache = new RenderCache();
      const hashes = new ChainHashCache();
      const feed = new SnapshotFeed(calc);
      let fed = feed.snapshot();
      expect(canonical(fed)).toEqual(canonical(snapshotOf(calc)));
      let previous = render(fed, {}, ipCache);
      renderNft(fed, {}, nftCache);
      expect(rulesOf(previous)).toBeGreaterThan(20);
      const names = Object.keys(steps);
      const seen = new Set<string>();
      let written = 0;
      for (let i = 0; i < 40; i++) {
        // Every step kind once, then at random.
        const name = names[i < names.length ? i : rand(names.length)]!;
        seen.add(name);
        const before = copyOf(fed);
        const u = calc.apply(steps[name]!());
        feed.update(u);
        fed = feed.snapshot();
        const snap = snapshotOf(calc);
        expect(canonical(fed), `fed snapshot after step ${i} (${name})`).toEqual(canonical(snap));
        expect(unnamedButReplaced(before, fed, u), `step ${i} (${name})`).toEqual([]);
        const fresh = render(snap);
        const cached = render(fed, {}, ipCache);
        expect(cached, `iptables after step ${i} (${name})`).toEqual(fresh);
        // The diff against the previous render, hashed through the cache, is the same too.
        const diff = renderRestore(fresh, appliedState(previous));
        expect(renderRestore(cached, appliedState(previous, hashes), hashes)).toEqual(diff);
        written += diff.written.length + diff.deleted.length;
        expect(renderRestore(cached, undefined, hashes).text).toBe(renderRestore(fresh).text);
        const nftFresh = renderNft(snap);
        const nftCached = renderNft(fed, {}, nftCache);
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

  it('a feed that missed an update rebuilds from the calculator, and equals snapshotOf again', () => {
    const { cluster, steps } = editor(4);
    const calc = new PolicyCalculator(NODE);
    calc.apply(cluster.kvs);
    const feed = new SnapshotFeed(calc);
    const plans = feed.snapshot().plans.length;
    expect(calc.apply(steps['endpointAdd']!()).endpointPlanChanges).toHaveLength(1); // not given to the feed
    for (let i = 0; i < 5; i++) feed.update(calc.apply(steps['policyEdit']!()));
    const snap = feed.snapshot();
    expect(snap.plans).toHaveLength(plans + 1);
    expect(canonical(snap)).toEqual(canonical(snapshotOf(calc)));
  });

  it('a rendering dataplane renders what it observed, and a fresh render when it observed nothing', async () => {
    const { cluster, rand, steps } = editor(5);
    const applied: RenderedDataplane[] = [];
    class Recording extends RenderingDataplane<RenderedDataplane, void> {
      readonly name = 'recording';
      protected describe() {
        return undefined;
      }
    }
    const dp = new Recording(
      silentLogger,
      { apply: async (r) => void applied.push(r) },
      viaRuleModel(render),
    );
    const calc = new PolicyCalculator(NODE);
    calc.apply(cluster.kvs);
    await dp.sync(calc);
    const names = Object.keys(steps);
    for (let i = 0; i < 12; i++) {
      const u = calc.apply(steps[names[rand(names.length)]!]!());
      if (i % 4 !== 3) dp.observe(u); // every fourth update unseen: the feed rebuilds
      await dp.sync(calc);
      expect(applied.at(-1), `after step ${i}`).toEqual(renderFresh(render, calc));
    }
    expect(applied).toHaveLength(13);
  });

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
