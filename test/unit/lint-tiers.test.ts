import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { convertObject } from '../../src/datastore/convert/index.js';
import { parseManifests } from '../../src/datastore/kube/manifests.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { type Finding, lint } from '../../src/lint/index.js';
import { selectorCovers } from '../../src/lint/rules/tiers.js';
import { parseSelector } from '../../src/model/selector/index.js';
import type { KV } from '../../src/model/types.js';

const kvsOf = (objs: readonly KubeObject[]): KV[] => objs.flatMap((o) => convertObject(o));
const load = (url: URL): KV[] => kvsOf(parseManifests(readFileSync(url, 'utf8'), url.pathname).objects);
const tierFindings = (fs: readonly Finding[]) => fs.filter((f) => f.rule === 'tier-deny-without-pass');
const tier = (name: string, order: number, defaultAction?: string): KubeObject => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'Tier',
  metadata: { name },
  spec: { order, ...(defaultAction ? { defaultAction } : {}) },
});
const gnp = (name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name },
  spec,
});
const np = (ns: string, name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: ns },
  spec,
});
const allowDns = { action: 'Allow', protocol: 'UDP', destination: { ports: [53] } };

describe('tier-deny-without-pass (seeds common mistake #7)', () => {
  const fixture = lint(load(new URL('../fixtures/lint/tiers.yaml', import.meta.url)));

  it("flags the e2e's gate tier (allows TCP 80, no Pass): later tiers never see other egress", () => {
    const gate = tierFindings(fixture).filter((f) => f.resource === 'Tier/gate');
    expect(gate).toHaveLength(1);
    expect(gate[0]).toMatchObject({ severity: 'warning', related: ['GlobalNetworkPolicy/gate.http-only'] });
    expect(gate[0]!.message).toContain('no catch-all Pass for egress');
    expect(gate[0]!.message).toContain('selected by GlobalNetworkPolicy gate.http-only (selector all())');
    expect(gate[0]!.message).toContain('Later tiers with egress policies (platform)');
    expect(gate[0]!.fix).toContain('- action: Pass');
  });

  it("does not flag the seed lab's tiers (catch-all Pass), a Pass-default tier, or a leaky policy covered by a namespace-wide Pass", () => {
    const flagged = tierFindings(fixture).map((f) => f.resource);
    expect(flagged).not.toContain('Tier/security');
    expect(flagged).not.toContain('Tier/platform');
    expect(flagged).not.toContain('Tier/observability');
    expect(flagged).not.toContain('Tier/team');
  });

  it('the last tier with policies in a direction is a default deny: info, not warning', () => {
    const last = tierFindings(fixture).filter((f) => f.resource === 'Tier/last');
    expect(last.map((f) => f.severity)).toEqual(['info']);
    expect(last[0]!.message).toContain(
      'ingress traffic of endpoints selected by GlobalNetworkPolicy last.db-ingress',
    );
  });

  it('a policy ending in an explicit Deny is a decision, not a fall-through', () => {
    const objs = [
      tier('app', 300),
      gnp('app.deny-rest', {
        tier: 'app',
        selector: 'all()',
        types: ['Egress'],
        egress: [allowDns, { action: 'Deny' }],
      }),
      gnp('later', { selector: 'all()', types: ['Egress'], egress: [allowDns] }),
    ];
    expect(tierFindings(lint(kvsOf(objs)))).toEqual([]);
  });

  it('is precise about direction and selector: only the leaky direction, with the NetworkPolicy namespace', () => {
    const objs = [
      tier('app', 300),
      np('shop', 'app.api', {
        tier: 'app',
        selector: 'app == "api"',
        types: ['Ingress', 'Egress'],
        ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80] } }],
        egress: [{ action: 'Pass' }],
      }),
      gnp('default-ingress', { selector: 'all()', types: ['Ingress'], ingress: [{ action: 'Allow' }] }),
    ];
    const f = tierFindings(lint(kvsOf(objs)));
    expect(f).toHaveLength(1);
    expect(f[0]!.related).toEqual(['NetworkPolicy/shop/app.api']);
    expect(f[0]!.message).toContain('no catch-all Pass for ingress');
    expect(f[0]!.message).toContain('projectcalico.org/namespace == "shop"');
    expect(f[0]!.message).toContain('Later tiers with ingress policies (default)');
  });

  it('a type with no rules at all drops everything in that direction', () => {
    const objs = [tier('t', 10), gnp('t.iso', { tier: 't', selector: 'role == "db"', types: ['Egress'] })];
    expect(tierFindings(lint(kvsOf(objs))).map((f) => f.resource)).toEqual(['Tier/t']);
  });

  it('names catch-all policies whose coverage it cannot prove, instead of assuming', () => {
    const objs = [
      tier('t', 10),
      gnp('t.a', { tier: 't', order: 1, selector: 'app == "a"', egress: [allowDns] }),
      gnp('t.pass-b', { tier: 't', order: 2, selector: 'team == "b"', egress: [{ action: 'Pass' }] }),
    ];
    const f = tierFindings(lint(kvsOf(objs)));
    expect(f).toHaveLength(1);
    expect(f[0]!.related).toEqual(['GlobalNetworkPolicy/t.a']);
    expect(f[0]!.message).toContain('except endpoints also selected by GlobalNetworkPolicy t.pass-b');
  });

  it('ignores the default tier, Pass-default tiers, and preDNAT/doNotTrack policies', () => {
    const objs = [
      gnp('dflt', { selector: 'all()', egress: [allowDns] }),
      tier('p', 10, 'Pass'),
      gnp('p.x', { tier: 'p', selector: 'all()', egress: [allowDns] }),
      tier('h', 20),
      gnp('h.pre', {
        tier: 'h',
        selector: 'role == "edge"',
        preDNAT: true,
        applyOnForward: true,
        types: ['Ingress'],
        ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [22] } }],
      }),
    ];
    expect(tierFindings(lint(kvsOf(objs)))).toEqual([]);
  });
});

describe('policy-tier-missing', () => {
  it('flags a policy in a tier that has no Tier resource', () => {
    const f = lint(
      kvsOf([gnp('ghost.p', { tier: 'ghost', selector: 'all()', egress: [{ action: 'Pass' }] })]),
    );
    expect(f.map((x) => [x.rule, x.resource, x.related])).toEqual([
      ['policy-tier-missing', 'GlobalNetworkPolicy/ghost.p', ['Tier/ghost']],
    ]);
  });
});

describe('selectorCovers', () => {
  const s = parseSelector;
  it('proves coverage only by AND-term inclusion', () => {
    expect(selectorCovers(s('all()'), s('app == "x"'))).toBe(true);
    expect(selectorCovers(s('app == "x"'), s('app == "x" && tier == "web"'))).toBe(true);
    expect(selectorCovers(s('app == "x" && tier == "web"'), s('app == "x"'))).toBe(false);
    expect(selectorCovers(s('app == "x" || app == "y"'), s('app == "x"'))).toBe(false); // true, but not proven
    expect(selectorCovers(s('(all()) && ns == "a"'), s('(app == "x") && ns == "a"'))).toBe(true);
  });
});

describe('seeds: lab and policy sections', () => {
  it('the lab tiers that load (security, platform) have catch-all Pass rules: no tier findings', () => {
    // As written, the application-tier policies do not load (a repeated "destination" key, numeric
    // ports without a protocol): tabby lint reports those as invalid-manifest / invalid-resource.
    const url = new URL('../fixtures/seeds/lab.yaml', import.meta.url);
    const objects = parseManifests(readFileSync(url, 'utf8'), 'lab').objects.filter((o) => {
      try {
        convertObject(o);
        return true;
      } catch {
        return false;
      }
    });
    expect(objects.filter((o) => o.kind === 'GlobalNetworkPolicy')).toHaveLength(2);
    expect(tierFindings(lint(kvsOf(objects)))).toEqual([]);
  });
});
