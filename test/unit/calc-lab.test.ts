// The seed lab (Module 5.6) through the policy calculation: every flow of its success
// criteria, plus DNS, the metadata address, a tier that denies without Pass and Kubernetes
// NetworkPolicy. Each expectation is derived from Calico's semantics (felix/rules/endpoints.go:
// tiers in order, Allow/Deny final, Pass skips to the next tier, a tier whose policies apply
// drops at its end, then profiles), not from the lab's text; where they differ, it says so.
// Destination addresses are pod IPs: the lab curls Service names, and kube-proxy DNATs the
// ClusterIP to the pod before Felix's filter chains see the packet.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { PolicyCalculator } from '../../src/agent/calc/index.js';
import { explain, type Flow } from '../../src/agent/dataplane/maps/index.js';
import { ConversionError, convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { Keys } from '../../src/model/keys.js';
import type { KV } from '../../src/model/types.js';

function load(path: string): KubeObject[] {
  const text = readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8');
  return parseAllDocuments(text, { uniqueKeys: false }).map((d) => d.toJS() as KubeObject);
}

const toKvs = (objs: readonly KubeObject[]): KV[] => objs.flatMap((o) => convertObject(o));

const IP = { frontend: '10.244.1.10', api: '10.244.2.10', db: '10.244.3.10', dns: '10.244.0.5' };
const METADATA = '169.254.169.254';
const tcp = (src: string, dst: string, dstPort: number): Flow => ({
  srcIp: src,
  dstIp: dst,
  protocol: 'tcp',
  dstPort,
});
const udp = (src: string, dst: string, dstPort: number): Flow => ({
  srcIp: src,
  dstIp: dst,
  protocol: 'udp',
  dstPort,
});

const SECURITY = Keys.policy('GlobalNetworkPolicy', '', 'security.block-metadata');
const PLATFORM = Keys.policy('GlobalNetworkPolicy', '', 'platform.allow-dns');
const FRONTEND_POL = Keys.policy('NetworkPolicy', 'frontend', 'application.frontend-policy');
const API_POL = Keys.policy('NetworkPolicy', 'backend', 'application.api-policy');
const DB_POL = Keys.policy('NetworkPolicy', 'database', 'application.db-policy');
const rule = (tier: string, policy: string, ruleIndex: number, action: 'allow' | 'deny') => ({
  kind: 'rule',
  tier,
  policy,
  ruleIndex,
  action,
});
const profileAllow = (profile: string) => ({ kind: 'profile', profile, ruleIndex: 0, action: 'allow' });

function lab(extra: readonly KubeObject[] = []): PolicyCalculator {
  const calc = new PolicyCalculator('node-a');
  const update = calc.apply(toKvs([...load('calc/lab.yaml'), ...extra]));
  expect(update.invalid).toEqual([]);
  return calc;
}

function knp(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: ns },
    spec,
  };
}

describe('the lab, repaired, under Calico semantics', () => {
  const calc = lab();

  it('plans: frontend egress walks security, platform, application; its ingress has only profiles', () => {
    const plan = calc.planFor(Keys.workloadEndpoint('node-a', 'frontend', 'frontend'))!;
    expect(plan.egress.tiers.map((t) => [t.name, t.policies.map((p) => p.id)])).toEqual([
      ['security', [SECURITY]],
      ['platform', [PLATFORM]],
      ['application', [FRONTEND_POL]],
    ]);
    expect(plan.ingress).toEqual({ tiers: [], profiles: ['kns.frontend', 'ksa.frontend.default'] });
    // Only node-a's endpoints have cached plans.
    expect([...calc.plans().keys()].sort()).toEqual([
      Keys.workloadEndpoint('node-a', 'frontend', 'frontend'),
      Keys.workloadEndpoint('node-a', 'kube-system', 'coredns'),
    ]);
  });

  it('criterion: frontend CAN reach api on port 80', () => {
    // Egress: security's Deny is for 169.254.169.254 only, its Pass goes on; platform's DNS
    // rules do not match port 80, its Pass goes on; frontend-policy rule 0 allows TCP 80 to
    // app=api in namespace backend. Ingress: no policy selects api for ingress (api-policy is
    // egress-only), so no tier applies and the kns.backend profile allows.
    const e = explain(calc, tcp(IP.frontend, IP.api, 80));
    expect(e.verdict).toBe('allow');
    expect(e.egress.decidedBy).toEqual(rule('application', FRONTEND_POL, 0, 'allow'));
    expect(e.ingress.decidedBy).toEqual(profileAllow('kns.backend'));
  });

  it('criterion: frontend CANNOT reach db (application tier)', () => {
    // frontend-policy rule 0 needs app=api in backend; rule 1 denies everything else.
    const e = explain(calc, tcp(IP.frontend, IP.db, 80));
    expect(e.verdict).toBe('deny');
    expect(e.egress.decidedBy).toEqual(rule('application', FRONTEND_POL, 1, 'deny'));
  });

  it('criterion: api CAN reach db on port 80', () => {
    // Egress: api-policy rule 0 (TCP 80 to app=db in database). Ingress: db-policy rule 0
    // (TCP 80 from app=api in backend).
    const e = explain(calc, tcp(IP.api, IP.db, 80));
    expect(e.verdict).toBe('allow');
    expect(e.egress.decidedBy).toEqual(rule('application', API_POL, 0, 'allow'));
    expect(e.ingress.decidedBy).toEqual(rule('application', DB_POL, 0, 'allow'));
  });

  it('criterion "db CANNOT initiate connections to frontend" does NOT hold', () => {
    // No policy governs db's egress in the application tier (db-policy is Ingress only), so
    // after security and platform Pass, the application tier does not apply to db egress and
    // the kns.database profile allows. Nothing selects frontend for ingress either: kns.frontend
    // allows. The lab's Test 4 would print "FAIL (should be blocked)".
    const e = explain(calc, tcp(IP.db, IP.frontend, 80));
    expect(e.verdict).toBe('allow');
    expect(e.egress.decidedBy).toEqual(profileAllow('kns.database'));
    expect(e.ingress.decidedBy).toEqual(profileAllow('kns.frontend'));
  });

  it('DNS to CoreDNS on port 53, UDP and TCP, is allowed by the platform tier', () => {
    // Security passes (not the metadata address); platform rule 0 (UDP 53) / rule 1 (TCP 53)
    // allow, so the application tier's final Deny is never reached. CoreDNS has no ingress
    // policy: the kns.kube-system profile allows.
    for (const src of [IP.frontend, IP.api, IP.db]) {
      const u = explain(calc, udp(src, IP.dns, 53));
      expect(u.verdict).toBe('allow');
      expect(u.egress.decidedBy).toEqual(rule('platform', PLATFORM, 0, 'allow'));
      expect(u.ingress.decidedBy).toEqual(profileAllow('kns.kube-system'));
      expect(explain(calc, tcp(src, IP.dns, 53)).egress.decidedBy).toEqual(
        rule('platform', PLATFORM, 1, 'allow'),
      );
    }
    // Port 53 anywhere, even outside the cluster: the destination is not an endpoint.
    const ext = explain(calc, udp(IP.frontend, '8.8.8.8', 53));
    expect(ext.verdict).toBe('allow');
    expect(ext.ingress.decidedBy).toEqual({ kind: 'unmanaged' });
  });

  it('the metadata address is denied first, for every pod, even on port 53', () => {
    // security (order 100) runs before platform (200): its rule 0 denies 169.254.169.254/32.
    for (const src of [IP.frontend, IP.api, IP.db, IP.dns]) {
      const e = explain(calc, tcp(src, METADATA, 80));
      expect(e.verdict).toBe('deny');
      expect(e.egress.decidedBy).toEqual(rule('security', SECURITY, 0, 'deny'));
      expect(explain(calc, udp(src, METADATA, 53)).egress.decidedBy).toEqual(
        rule('security', SECURITY, 0, 'deny'),
      );
    }
  });

  it('everything else the application policies do not allow is denied', () => {
    // api -> frontend: api-policy rule 1 denies; frontend -> api on 8080: rule 0 needs 80;
    // api -> db over UDP 80: rule 0 needs TCP. frontend -> internet: rule 1.
    expect(explain(calc, tcp(IP.api, IP.frontend, 80)).egress.decidedBy).toEqual(
      rule('application', API_POL, 1, 'deny'),
    );
    expect(explain(calc, tcp(IP.frontend, IP.api, 8080)).egress.decidedBy).toEqual(
      rule('application', FRONTEND_POL, 1, 'deny'),
    );
    expect(explain(calc, udp(IP.api, IP.db, 80)).egress.decidedBy).toEqual(
      rule('application', API_POL, 1, 'deny'),
    );
    expect(explain(calc, tcp(IP.frontend, '1.1.1.1', 443)).verdict).toBe('deny');
    // db's own egress to the internet is open (see the criterion that does not hold).
    expect(explain(calc, tcp(IP.db, '1.1.1.1', 443)).verdict).toBe('allow');
  });
});

describe('the lab as written (test/fixtures/seeds/lab.yaml)', () => {
  it('its application policies are rejected, so frontend -> db is NOT blocked', () => {
    // The repeated `destination:` keeps only `ports: [80]`, with no protocol: Calico's
    // validation rejects all three application-tier policies. With only security and
    // platform, every non-DNS, non-metadata flow passes both tiers and reaches the profiles.
    const objs = load('seeds/lab.yaml').filter((o) => o.kind !== 'FelixConfiguration');
    const kvs: KV[] = [];
    let rejected = 0;
    for (const o of objs) {
      try {
        kvs.push(...convertObject(o));
      } catch (err) {
        expect(err).toBeInstanceOf(ConversionError);
        rejected++;
      }
    }
    expect(rejected).toBe(3);
    const world = load('calc/lab.yaml').filter((o) => !/Policy|Tier/.test(o.kind));
    const calc = new PolicyCalculator('node-a');
    calc.apply([...toKvs(world), ...kvs]);
    expect(explain(calc, tcp(IP.frontend, IP.db, 80)).verdict).toBe('allow');
    expect(explain(calc, tcp(IP.db, IP.frontend, 80)).verdict).toBe('allow');
    expect(explain(calc, tcp(IP.frontend, METADATA, 80)).verdict).toBe('deny');
  });
});

describe('a tier that denies without Pass', () => {
  it('drops at the end of the tier: later tiers are never reached, DNS included', () => {
    // block-metadata without its final Pass: the policy still selects every pod for egress,
    // so the security tier applies; a flow no rule matches reaches the end of the tier, whose
    // default action is Deny. platform's DNS allow and the application tier never run.
    const noPass: KubeObject = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'security.block-metadata' },
      spec: {
        tier: 'security',
        order: 10,
        selector: 'all()',
        types: ['Egress'],
        egress: [{ action: 'Deny', destination: { nets: ['169.254.169.254/32'] } }],
      },
    };
    const calc = lab([noPass]);
    for (const f of [
      tcp(IP.frontend, IP.api, 80),
      udp(IP.frontend, IP.dns, 53),
      tcp(IP.db, IP.frontend, 80),
    ]) {
      const e = explain(calc, f);
      expect(e.verdict).toBe('deny');
      expect(e.egress.decidedBy).toEqual({ kind: 'tier-end', tier: 'security' });
    }
  });

  it('a Pass tier default lets unmatched flows through to the next tier', () => {
    const passTier: KubeObject = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'Tier',
      metadata: { name: 'security' },
      spec: { order: 100, defaultAction: 'Pass' },
    };
    const noPass: KubeObject = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'security.block-metadata' },
      spec: {
        tier: 'security',
        order: 10,
        selector: 'all()',
        types: ['Egress'],
        egress: [{ action: 'Deny', destination: { nets: ['169.254.169.254/32'] } }],
      },
    };
    const calc = lab([passTier, noPass]);
    expect(explain(calc, tcp(IP.frontend, IP.api, 80)).verdict).toBe('allow');
    expect(explain(calc, tcp(IP.frontend, METADATA, 80)).verdict).toBe('deny');
  });
});

describe('Kubernetes NetworkPolicy (tier default, order 1000)', () => {
  it('closes the gap the lab leaves: ingress to frontend only from db on the named port http', () => {
    // The KNP selects frontend for ingress, so the default tier applies to frontend ingress:
    // its one Allow rule (from app=db pods in namespaces labelled database, port "http",
    // which resolves to frontend's containerPort 80) allows port 80; any other flow into
    // frontend ends the default tier, whose action is Deny.
    const calc = lab([
      knp('frontend', 'frontend-ingress', {
        podSelector: { matchLabels: { app: 'frontend' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'database' } },
                podSelector: { matchLabels: { app: 'db' } },
              },
            ],
            ports: [{ port: 'http' }],
          },
        ],
      }),
    ]);
    const KNP = Keys.policy('KubernetesNetworkPolicy', 'frontend', 'frontend-ingress');
    const ok = explain(calc, tcp(IP.db, IP.frontend, 80));
    expect(ok.verdict).toBe('allow');
    expect(ok.ingress.decidedBy).toEqual(rule('default', KNP, 0, 'allow'));
    const wrongPort = explain(calc, tcp(IP.db, IP.frontend, 8080));
    expect(wrongPort.verdict).toBe('deny');
    expect(wrongPort.ingress.decidedBy).toEqual({ kind: 'tier-end', tier: 'default' });
    // api's own egress is already denied by api-policy before frontend's ingress matters.
    expect(explain(calc, tcp(IP.api, IP.frontend, 80)).egress.decidedBy).toEqual(
      rule('application', API_POL, 1, 'deny'),
    );
  });

  it('an earlier tier Allow is final: a default-deny KNP in database never sees api -> db', () => {
    // db-policy (application tier, order 300) allows api -> db:80 on ingress; Allow ends
    // evaluation, so the default tier's deny-all KNP is not reached for that flow. A flow
    // db-policy denies (frontend -> db ingress) is decided in the application tier as well.
    const calc = lab([knp('database', 'default-deny', { podSelector: {}, policyTypes: ['Ingress'] })]);
    const e = explain(calc, tcp(IP.api, IP.db, 80));
    expect(e.verdict).toBe('allow');
    expect(e.ingress.decidedBy).toEqual(rule('application', DB_POL, 0, 'allow'));
    const plan = calc.planFor(Keys.workloadEndpoint('node-c', 'database', 'db'))!;
    expect(plan.ingress.tiers.map((t) => t.name)).toEqual(['application', 'default']);
  });
});
