// The bpf dataplane's pure parts: encodePolicy (compiled maps -> ops and LPM set entries, named by
// content) and planApply (the ordered map writes of one version: new sets and code, the inactive
// slot, one flip, the old slot, then garbage) — what is written, in which order, and that
// nothing is written twice.

import { describe, expect, it } from 'vitest';
import { PolicyCalculator } from '../../src/agent/calc/index.js';
import { type BpfState, EMPTY_STATE, encodePolicy, planApply } from '../../src/agent/dataplane/bpf/index.js';
import { ACT, EP_FLAG, FLAG, OP, setKeyHex } from '../../src/agent/dataplane/bpf/layout.js';
import { mapsOf } from '../../src/agent/dataplane/maps/index.js';
import { Keys } from '../../src/model/keys.js';
import type { JsonValue, KV } from '../../src/model/types.js';

const NODE = 'n1';
const ep = (pod: string, ip: string, labels: Record<string, string>): KV => ({
  key: Keys.workloadEndpoint(NODE, 'ns', pod),
  value: { name: `cali-${pod}`, ipv4Nets: [`${ip}/32`], ipv6Nets: [], labels, profileIds: ['open'] },
});
const gnp = (name: string, value: Record<string, JsonValue>): KV => ({
  key: Keys.policy('GlobalNetworkPolicy', '', name),
  value: value as JsonValue,
});

function model(dbLabel = 'db'): PolicyCalculator {
  const calc = new PolicyCalculator(NODE);
  const u = calc.apply([
    { key: Keys.tier('sec'), value: { order: 1, defaultAction: 'Deny' } },
    {
      key: Keys.profile('open'),
      value: { inboundRules: [{ action: 'allow' }], outboundRules: [{ action: 'allow' }] },
    },
    ep('a', '10.0.0.1', { role: 'web' }),
    ep('b', '10.0.0.2', { role: 'web' }),
    ep('c', '10.0.0.3', { role: dbLabel }),
    gnp('sec.web', {
      tier: 'sec',
      order: 1,
      selector: "role == 'web'",
      types: ['egress'],
      outboundRules: [
        { action: 'deny', protocol: 'tcp', dstSelector: "role == 'db'", dstPorts: [5432, '6000:6010'] },
        { action: 'next-tier', dstNets: ['192.0.2.0/24'] },
        { action: 'allow' },
      ],
    }),
  ]);
  expect(u.invalid).toEqual([]);
  return calc;
}

const IFINDEX = new Map([
  ['cali-a', 11],
  ['cali-b', 12],
  ['cali-c', 13],
]);
const path = (m: string) => `/b/maps/${m}`;
const plan = (state: BpfState, calc: PolicyCalculator, ifindex = IFINDEX) =>
  planApply(state, encodePolicy(mapsOf(calc)), ifindex, path as never);
const flipAt = (lines: readonly string[]) => lines.findIndex((l) => l.includes('tabby_active'));

describe('bpf encode', () => {
  it('endpoints with the same policy share one program; a Pass jumps past its tier-end', () => {
    const enc = encodePolicy(mapsOf(model()));
    const [a, b, c] = enc.endpoints;
    expect(a!.programs.tcIn).toBe(b!.programs.tcIn);
    expect(c!.programs.tcIn).not.toBe(a!.programs.tcIn);
    const ops = enc.programs.get(a!.programs.tcIn!)!;
    // The policy's rules are a fragment of their own: the program calls it, and its Pass goes
    // where the call says — past the tier-end.
    const call = ops.findIndex((o) => o.code === OP.call);
    const tierEnd = ops.findIndex((o) => o.code === OP.tierEnd);
    expect(ops[call]!.passTo).toBe(tierEnd + 1);
    expect(ops.at(-1)!.code).toBe(OP.drop); // final drop
    const frag = enc.programs.get(ops[call]!.call!)!;
    expect(frag.at(-1)!.code).toBe(OP.ret);
    expect(frag.some((o) => o.code === OP.action && o.flags === ACT.pass)).toBe(true);
    // The rule's ports are one OR group: begin, the port, the range, end.
    expect(frag.filter((o) => o.code === OP.portRange).map((o) => [o.a, o.b])).toEqual([
      [5432, 5432],
      [6000, 6010],
    ]);
  });

  it('a policy edit writes its fragment and the calling programs, not the other fragments', () => {
    const first = plan(EMPTY_STATE, model());
    const calc = model();
    calc.apply([
      gnp('sec.web', {
        tier: 'sec',
        order: 1,
        selector: "role == 'web'",
        types: ['egress'],
        outboundRules: [{ action: 'deny', protocol: 'udp' }, { action: 'allow' }],
      }),
    ]);
    const next = plan(first.state, calc);
    // The new fragment (2 rules) and the web endpoints' calling program; the profile's
    // fragment is already there.
    expect(next.stats.programsWritten).toBe(2);
    expect(next.stats.opsWritten).toBeLessThan(20);
  });

  it("an LPM entry's prefix covers set id, port, proto and family, then the network", () => {
    expect(setKeyHex(7, { family: 4, addr: [10, 1, 0, 0], prefix: 16, port: 80, proto: 6 })).toBe(
      '50 00 00 00 07 00 00 00 50 00 06 04 0a 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00',
    );
  });
});

describe('bpf plan', () => {
  it('the first version: sets and code, then the new slot, one flip, then the old slot', () => {
    const p = plan(EMPTY_STATE, model());
    const flip = flipAt(p.lines);
    expect(p.lines[flip]).toBe(
      'map update pinned /b/maps/tabby_active key hex 00 00 00 00 value hex 01 00 00 00',
    );
    const before = p.lines.slice(0, flip);
    const after = p.lines.slice(flip + 1);
    expect(
      before.filter((l) => l.includes('tabby_eps')).every((l) => l.includes('00 00 00 01 00 00 00 value')),
    ).toBe(true);
    expect(before.filter((l) => l.includes('tabby_eps'))).toHaveLength(3);
    expect(after.every((l) => l.includes('tabby_eps') && l.includes('00 00 00 00 00 00 00 value'))).toBe(
      true,
    );
    expect(after).toHaveLength(3);
    expect(p.state.active).toBe(1);
    // The web endpoints' egress, and one program for everything else: every ingress and c's
    // egress are the same ops (a call of the profile's allow, then the final drop); and the two
    // fragments they call (the policy's rules, the profile's).
    expect(p.stats.programsWritten).toBe(4);
  });

  it('the same state again writes nothing', () => {
    const first = plan(EMPTY_STATE, model());
    const again = plan(first.state, model());
    expect(again.lines).toEqual([]);
    expect(again.stats.bytes).toBe(0);
    expect(again.state).toEqual(first.state);
  });

  it('a label change writes a new set and the programs using it under new ids; the old ones go after the flip', () => {
    const first = plan(EMPTY_STATE, model());
    const next = plan(first.state, model('cache'));
    const flip = flipAt(next.lines);
    expect(flip).toBeGreaterThan(0);
    const deletes = next.lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('map delete'));
    expect(deletes.length).toBeGreaterThan(0);
    expect(deletes.every(([, i]) => i > flip)).toBe(true);
    expect(next.stats.setsWritten).toBeGreaterThan(0);
    expect(next.state.nextSetId).toBeGreaterThan(first.state.nextSetId);
    // Only the web endpoints' egress program changed (c's own programs do not test the set).
    expect(next.stats.endpointsWritten).toBe(2);
    // The freed range is reused by a later version.
    expect(next.state.free.length + Object.keys(next.state.programs).length).toBeGreaterThan(0);
    const back = plan(next.state, model());
    expect(back.state.top).toBe(next.state.top);
  });

  it('a removed endpoint is deleted from both slots; an interface not there yet is left out', () => {
    const first = plan(EMPTY_STATE, model());
    const without = plan(first.state, model(), new Map([...IFINDEX].filter(([n]) => n !== 'cali-c')));
    const deletes = without.lines.filter((l) => l.startsWith('map delete pinned /b/maps/tabby_eps'));
    expect(deletes).toEqual([
      'map delete pinned /b/maps/tabby_eps key hex 0d 00 00 00 00 00 00 00',
      'map delete pinned /b/maps/tabby_eps key hex 0d 00 00 00 01 00 00 00',
    ]);
    expect(Object.keys(without.state.endpoints)).toEqual(['cali-a', 'cali-b']);
  });

  it('strays (after a failed apply): every endpoint rewritten, unknown entries deleted', () => {
    const first = plan(EMPTY_STATE, model());
    const p = planApply(first.state, encodePolicy(mapsOf(model())), IFINDEX, path as never, [
      [11, 0],
      [99, 1],
    ]);
    expect(p.stats.endpointsWritten).toBe(3);
    expect(p.lines).toContain('map delete pinned /b/maps/tabby_eps key hex 63 00 00 00 01 00 00 00');
  });
});

describe('bpf host endpoints', () => {
  const hep = (name: string, iface: string): KV => ({
    key: Keys.hostEndpoint(NODE, name),
    value: { name: iface, expectedIPv4Addrs: ['10.9.0.1'], labels: { role: 'node' }, profileIds: [] },
  });
  const hostModel = (extra: KV[] = []) => {
    const calc = model();
    expect(calc.apply([{ key: Keys.tier('default'), value: { order: 1000000 } }, ...extra]).invalid).toEqual(
      [],
    );
    return calc;
  };
  const hostPolicy = (name: string, value: Record<string, JsonValue>) =>
    gnp(name, { tier: 'default', selector: "role == 'node'", ...value });

  it('a host endpoint gets failsafe rules in front of its policy, and only the stages it has', () => {
    const enc = encodePolicy(mapsOf(hostModel([hep('n1-eth0', 'eth0')])));
    expect(enc.warnings).toEqual([]);
    const h = enc.endpoints.find((e) => e.interfaceName === 'eth0')!;
    expect(h.flags).toBe(EP_FLAG.host);
    expect(Object.keys(h.programs).sort()).toEqual(['tcIn', 'tcOut']);
    const calls = enc.programs.get(h.programs.tcIn!)!;
    const ops = calls.flatMap((o) => (o.call === undefined ? [o] : enc.programs.get(o.call)!));
    // Default failsafe inbound ports: tcp 22 is among them, as a rule ending in an allow.
    const ports = ops.filter((o) => o.code === OP.portRange && (o.flags & FLAG.dst) !== 0).map((o) => o.a);
    expect(ports).toContain(22);
    expect(ops.filter((o) => o.code === OP.action).every((o) => o.flags === ACT.allow)).toBe(true);
    expect(ops.at(-1)!.code).toBe(OP.drop); // no policy, no profile: nothing else passes
    // Workloads carry DefaultEndpointToHostAction (Drop by default).
    expect(enc.endpoints.find((e) => e.interfaceName === 'cali-a')!.flags).toBe(EP_FLAG.toHostDrop);
  });

  it('doNotTrack, preDNAT and applyOnForward policies become their own stages', () => {
    const enc = encodePolicy(
      mapsOf(
        hostModel([
          hep('n1-eth0', 'eth0'),
          hostPolicy('untracked', {
            doNotTrack: true,
            applyOnForward: true,
            inboundRules: [{ action: 'allow' }],
            types: ['ingress'],
          }),
          hostPolicy('pre', {
            preDNAT: true,
            applyOnForward: true,
            inboundRules: [{ action: 'deny' }],
            types: ['ingress'],
          }),
          hostPolicy('fwd', { applyOnForward: true, outboundRules: [{ action: 'deny' }], types: ['egress'] }),
        ]),
      ),
    );
    const h = enc.endpoints.find((e) => e.interfaceName === 'eth0')!;
    expect(Object.keys(h.programs).sort()).toEqual(['fwdOut', 'preIn', 'rawIn', 'tcIn', 'tcOut']);
    // raw: a failsafe flow skips doNotTrack policy with a Pass to the stage's end.
    const raw = enc.programs.get(h.programs.rawIn!)!;
    const end = raw.length - 1;
    expect(raw[end]!.code).toBe(OP.end);
    const failsafes = raw.filter((o) => o.call !== undefined && o.passTo !== undefined);
    expect(failsafes.length).toBeGreaterThan(0);
    expect(failsafes.every((o) => o.passTo === end)).toBe(true);
  });

  it("'*' takes every interface no endpoint names, except lo and workloads'; a named one wins", () => {
    const ifindex = new Map([...IFINDEX, ['lo', 1], ['eth0', 2], ['eth1', 3], ['cali-x', 4]]);
    const p = plan(EMPTY_STATE, hostModel([hep('a-all', '*'), hep('b-eth1', 'eth1')]), ifindex);
    const eps = p.state.endpoints;
    expect(Object.keys(eps).sort()).toEqual(['cali-a', 'cali-b', 'cali-c', 'eth0', 'eth1']);
    expect(eps['eth0']!.programs).not.toEqual(eps['cali-a']!.programs);
    // The flags and program starts are in the entry: eight u32s.
    const line = p.lines.find((l) => l.includes('tabby_eps key hex 02 00 00 00'))!;
    expect(line.split('value hex ')[1]!.split(' ')).toHaveLength(32);
  });
});
