// Rule matching in explain(): protocols, port ranges, notPorts, nets/notNets, ICMP, and the
// two notSelector cases of felix/calc/rule_scanner.go (folded into a positive selector it only
// narrows known endpoints; alone it also matches addresses that are no endpoint at all).

import { describe, expect, it } from 'vitest';
import { PolicyCalculator } from '../../src/agent/calc/index.js';
import { explain, type Flow } from '../../src/agent/dataplane/maps/index.js';
import { Keys } from '../../src/model/keys.js';
import type { JsonValue, KV } from '../../src/model/types.js';

const SRC = Keys.workloadEndpoint('n1', 'ns', 'src');
const ep = (pod: string, ip: string, labels: Record<string, string>, ports: JsonValue[] = []): KV => ({
  key: Keys.workloadEndpoint('n1', 'ns', pod),
  value: { name: `cali-${pod}`, ipv4Nets: [`${ip}/32`], labels, profileIds: [], ports },
});

function withEgress(rules: JsonValue[]): PolicyCalculator {
  const calc = new PolicyCalculator('n1');
  calc.apply([
    { key: Keys.tier('t'), value: { order: 1, defaultAction: 'Deny' } },
    ep('src', '10.0.0.1', { role: 'client' }),
    ep('web', '10.0.0.2', { role: 'web' }, [{ name: 'http', protocol: 'tcp', port: 8080 }]),
    ep('db', '10.0.0.3', { role: 'db' }),
    {
      key: Keys.policy('GlobalNetworkPolicy', '', 'p'),
      value: { tier: 't', selector: "role == 'client'", outboundRules: rules, types: ['egress'] },
    },
  ]);
  return calc;
}

/** The index of the rule that decided egress, or 'end' for the end of the tier. */
function decided(calc: PolicyCalculator, flow: Partial<Flow>): number | 'end' {
  const d = explain(calc, {
    srcIp: '10.0.0.1',
    dstIp: '10.0.0.2',
    protocol: 'tcp',
    dstPort: 80,
    ...flow,
  }).egress;
  expect(d.endpoint).toBe(SRC);
  return d.decidedBy.kind === 'rule' ? d.decidedBy.ruleIndex : 'end';
}

describe('explain rule matching', () => {
  it('protocol, notProtocol, port ranges and notPorts', () => {
    const calc = withEgress([
      { action: 'allow', protocol: 'udp', dstPorts: ['1000:2000'] },
      { action: 'allow', protocol: 6, dstPorts: [80, '443:444'], notDstPorts: [444] },
      { action: 'allow', notProtocol: 'tcp' },
    ]);
    expect(decided(calc, { protocol: 'udp', dstPort: 1500 })).toBe(0);
    expect(decided(calc, { protocol: 'udp', dstPort: 2001 })).toBe(2);
    expect(decided(calc, { dstPort: 443 })).toBe(1);
    expect(decided(calc, { dstPort: 444 })).toBe('end');
    expect(decided(calc, { protocol: 'TCP', dstPort: 22 })).toBe('end');
  });

  it('nets and notNets; ICMP type and code', () => {
    const calc = withEgress([
      { action: 'deny', dstNets: ['10.0.0.0/24'], notDstNets: ['10.0.0.2/32'] },
      { action: 'allow', protocol: 'icmp', icmpType: 8, icmpCode: 0 },
      { action: 'allow', dstNets: ['10.0.0.0/8'] },
    ]);
    expect(decided(calc, { dstIp: '10.0.0.3' })).toBe(0);
    expect(decided(calc, { dstIp: '10.0.0.2' })).toBe(2);
    expect(decided(calc, { dstIp: '192.168.1.1', protocol: 'icmp', icmpType: 8, icmpCode: 0 })).toBe(1);
    expect(decided(calc, { dstIp: '192.168.1.1', protocol: 'icmp', icmpType: 0 })).toBe('end');
  });

  it('named ports resolve against the destination endpoint (and its selector)', () => {
    const calc = withEgress([
      { action: 'allow', protocol: 'tcp', dstSelector: "role == 'web'", dstPorts: ['http'] },
    ]);
    expect(decided(calc, { dstPort: 8080 })).toBe(0);
    expect(decided(calc, { dstPort: 80 })).toBe('end');
    expect(decided(calc, { dstIp: '10.0.0.3', dstPort: 8080 })).toBe('end');
  });

  it('notSelector alone matches non-endpoints; folded, only selected endpoints', () => {
    const alone = withEgress([{ action: 'allow', notDstSelector: "role == 'db'" }]);
    expect(decided(alone, { dstIp: '8.8.8.8' })).toBe(0);
    expect(decided(alone, { dstIp: '10.0.0.2' })).toBe(0);
    expect(decided(alone, { dstIp: '10.0.0.3' })).toBe('end');
    const folded = withEgress([
      { action: 'allow', dstSelector: 'has(role)', notDstSelector: "role == 'db'" },
    ]);
    expect(decided(folded, { dstIp: '8.8.8.8' })).toBe('end');
    expect(decided(folded, { dstIp: '10.0.0.2' })).toBe(0);
    expect(decided(folded, { dstIp: '10.0.0.3' })).toBe('end');
  });

  it('log continues, pass skips the tier, and no profile means the final drop', () => {
    const calc = withEgress([{ action: 'log' }, { action: 'next-tier' }, { action: 'allow' }]);
    const e = explain(calc, { srcIp: '10.0.0.1', dstIp: '10.0.0.2', protocol: 'tcp', dstPort: 80 });
    expect(e.egress.logged).toEqual([
      { tier: 't', policy: Keys.policy('GlobalNetworkPolicy', '', 'p'), ruleIndex: 0 },
    ]);
    expect(e.egress.decidedBy).toEqual({ kind: 'default' });
    // web has neither policy nor profile for ingress: denied.
    expect(e.ingress.decidedBy).toEqual({ kind: 'default' });
    expect(e.verdict).toBe('deny');
  });
});
