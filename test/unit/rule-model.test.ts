// The rule model's one table of match kinds and actions: each row is a model rule and the text
// both translators must write for it. A new Term or Action kind gets its row here (the
// exhaustiveness check below fails until it has one), and its text in each translator.

import { describe, expect, it } from 'vitest';
import type { ParsedRule } from '../../src/agent/calc/index.js';
import { IPTABLES, ruleLines as iptablesLines } from '../../src/agent/dataplane/iptables/index.js';
import { NFTABLES, ruleLines as nftLines } from '../../src/agent/dataplane/nftables/index.js';
import {
  type Action,
  lowerRule,
  Marks,
  type Rule,
  type Term,
} from '../../src/agent/dataplane/rules/index.js';
import { NO_SIDE } from '../harness/rules.js';

type Row = readonly [name: string, rule: Rule, iptables: readonly string[], nft: readonly string[]];

const DROP: Action = { t: 'drop' };
const when = (...match: Term[]): Rule => ({ match, action: DROP });

const ROWS: readonly Row[] = [
  ['iif', when({ t: 'iif', name: 'cali+' }), ['-i cali+ -j DROP'], ['iifname "cali*" drop']],
  ['oif', when({ t: 'oif', name: 'eth0' }), ['-o eth0 -j DROP'], ['oifname "eth0" drop']],
  [
    'net',
    when({ t: 'net', side: 'src', nets: ['10.0.0.0/8'] }),
    ['-s 10.0.0.0/8 -j DROP'],
    ['ip saddr 10.0.0.0/8 drop'],
  ],
  [
    'net (negated)',
    when({ t: 'net', side: 'dst', nets: ['10.0.0.0/8'], not: true }),
    ['! -d 10.0.0.0/8 -j DROP'],
    ['ip daddr != 10.0.0.0/8 drop'],
  ],
  [
    'set',
    when({ t: 'set', side: 'src', set: 'tabby-s-a' }, { t: 'set', side: 'dst', set: 'tabby-s-b', not: true }),
    ['-m set --match-set tabby-s-a src -m set ! --match-set tabby-s-b dst -j DROP'],
    ['ip saddr @tabby-s-a ip daddr != @tabby-s-b drop'],
  ],
  [
    'port-set',
    when(
      { t: 'port-set', side: 'dst', set: 'tabby-s-p' },
      { t: 'port-set', side: 'src', set: 'q', not: true },
    ),
    ['-m set --match-set tabby-s-p dst,dst -m set ! --match-set q src,src -j DROP'],
    ['ip daddr . meta l4proto . th dport @tabby-s-p ip saddr . meta l4proto . th sport != @q drop'],
  ],
  [
    'proto',
    when({ t: 'proto', proto: 'udp', not: true }),
    ['! -p udp -j DROP'],
    ['meta l4proto != udp drop'],
  ],
  [
    'ports (with a proto term)',
    when({ t: 'proto', proto: 'tcp' }, { t: 'ports', side: 'dst', proto: 'tcp', ports: [80, '1000:2000'] }),
    ['-p tcp -m multiport --dports 80,1000:2000 -j DROP'],
    ['meta l4proto tcp tcp dport { 80, 1000-2000 } drop'],
  ],
  [
    'ports (alone: iptables adds the protocol)',
    when({ t: 'ports', side: 'src', proto: 'udp', ports: [53], not: true }),
    ['-p udp -m multiport ! --sports 53 -j DROP'],
    ['udp sport != 53 drop'],
  ],
  [
    'l4',
    when({ t: 'l4', proto: 'tcp', dport: 22 }),
    ['-p tcp -m tcp --dport 22 -j DROP'],
    ['tcp dport 22 drop'],
  ],
  ['l4 (no port)', when({ t: 'l4', proto: 'udp' }), ['-p udp -m udp -j DROP'], ['meta l4proto udp drop']],
  [
    'icmp',
    when({ t: 'icmp', type: 8, code: 0 }, { t: 'icmp', type: 3, code: 1, not: true }),
    ['-m icmp --icmp-type 8/0 -m icmp ! --icmp-type 3/1 -j DROP'],
    ['icmp type 8 icmp code 0 icmp type . icmp code != { 3 . 1 } drop'],
  ],
  [
    'ct',
    when({ t: 'ct', state: 'established' }),
    ['-m conntrack --ctstate RELATED,ESTABLISHED -j DROP'],
    ['ct state established,related drop'],
  ],
  [
    'not-dnat',
    when({ t: 'not-dnat' }),
    ['-m conntrack ! --ctstate DNAT -j DROP'],
    ['ct status & dnat == 0 drop'],
  ],
  [
    'mark',
    when({ t: 'mark', bits: Marks.accept }, { t: 'mark', bits: Marks.pass, clear: true }),
    ['-m mark --mark 0x10000/0x10000 -m mark --mark 0x0/0x20000 -j DROP'],
    ['meta mark & 0x10000 == 0x10000 meta mark & 0x20000 == 0x0 drop'],
  ],
  ['accept', { match: [], action: { t: 'accept' } }, ['-j ACCEPT'], ['accept']],
  [
    'drop (comment)',
    { match: [], action: DROP, comment: 'why' },
    ['-m comment --comment "why" -j DROP'],
    ['drop comment "why"'],
  ],
  ['return', { match: [], action: { t: 'return' } }, ['-j RETURN'], ['return']],
  ['notrack', { match: [], action: { t: 'notrack' } }, ['-j CT --notrack'], ['notrack']],
  ['jump', { match: [], action: { t: 'jump', chain: 'tabby-x' } }, ['-j tabby-x'], ['jump tabby-x']],
  ['goto', { match: [], action: { t: 'goto', chain: 'tabby-x' } }, ['-g tabby-x'], ['goto tabby-x']],
  [
    'set-mark',
    { match: [], action: { t: 'set-mark', bits: Marks.scratch0 } },
    ['-j MARK --set-xmark 0x40000/0x40000'],
    ['meta mark set meta mark | 0x40000'],
  ],
  [
    'clear-mark',
    { match: [], action: { t: 'clear-mark', bits: Marks.accept | Marks.pass } },
    ['-j MARK --set-xmark 0x0/0x30000'],
    ['meta mark set meta mark & 0xfffcffff'],
  ],
  [
    'mark-return',
    { match: [{ t: 'proto', proto: 'tcp' }], action: { t: 'mark-return', bits: Marks.accept } },
    ['-p tcp -j MARK --set-xmark 0x10000/0x10000', '-m mark --mark 0x10000/0x10000 -j RETURN'],
    ['meta l4proto tcp meta mark set meta mark | 0x10000 return'],
  ],
  [
    'log',
    { match: [], action: { t: 'log', prefix: 'tabby-packet: ' } },
    ['-j LOG --log-prefix "tabby-packet: " --log-level 5'],
    ['log prefix "tabby-packet: " level notice'],
  ],
  [
    'dispatch',
    {
      match: [],
      action: {
        t: 'dispatch',
        side: 'oif',
        to: [
          ['cali1', 'tabby-tw-cali1'],
          ['cali2', 'tabby-tw-cali2'],
        ],
      },
    },
    ['-o cali1 -g tabby-tw-cali1', '-o cali2 -g tabby-tw-cali2'],
    ['oifname vmap { "cali1" : goto tabby-tw-cali1, "cali2" : goto tabby-tw-cali2 }'],
  ],
  ['dispatch (empty)', { match: [], action: { t: 'dispatch', side: 'iif', to: [] } }, [], []],
];

describe('rule model: one table of match kinds and actions, both translators', () => {
  it.each(ROWS.map((r) => [r[0], r] as const))('%s', (_name, [, rule, iptables, nft]) => {
    expect(iptablesLines(rule)).toEqual(iptables);
    expect(nftLines(rule)).toEqual(nft);
  });

  it('has a row for every match kind and every action kind', () => {
    const terms = new Set(ROWS.flatMap(([, r]) => r.match.map((m) => m.t)));
    const actions = new Set(ROWS.map(([, r]) => r.action.t));
    const allTerms: Record<Term['t'], true> = {
      iif: true,
      oif: true,
      net: true,
      set: true,
      'port-set': true,
      proto: true,
      ports: true,
      l4: true,
      icmp: true,
      ct: true,
      'not-dnat': true,
      mark: true,
    };
    const allActions: Record<Action['t'], true> = {
      accept: true,
      drop: true,
      return: true,
      notrack: true,
      jump: true,
      goto: true,
      'set-mark': true,
      'clear-mark': true,
      'mark-return': true,
      log: true,
      dispatch: true,
    };
    expect([...terms].sort()).toEqual(Object.keys(allTerms).sort());
    expect([...actions].sort()).toEqual(Object.keys(allActions).sort());
  });

  it('nft names a raw or mangle chain by its table; iptables does not', () => {
    const rule: Rule = { match: [], action: { t: 'jump', chain: 'tabby-failsafe-in' } };
    expect(nftLines(rule, 'raw')).toEqual(['jump raw-tabby-failsafe-in']);
    expect(iptablesLines(rule)).toEqual(['-j tabby-failsafe-in']);
  });
});

const names = { setName: (id: string) => `s-${id}`, portSetName: (id: string) => `p-${id}` };

describe('rule model: a policy rule is split by what the syntax can say in one rule', () => {
  const rule: ParsedRule = {
    action: 'deny',
    protocol: 'tcp',
    src: { ...NO_SIDE, nets: ['10.0.0.0/8', '11.0.0.0/8'] },
    dst: { ...NO_SIDE, ports: Array.from({ length: 16 }, (_, i) => 100 + i) },
  };
  const lowered = (caps: typeof IPTABLES) => {
    const r = lowerRule(rule, caps, names);
    if ('skipped' in r) throw new Error(r.skipped);
    return r.rules;
  };

  it('nftables: anonymous sets hold any number of nets and ports, one rule', () => {
    expect(lowered(NFTABLES)).toHaveLength(1);
  });

  it('iptables: one net per -s and 15 multiport slots, OR groups over scratch marks', () => {
    const rules = lowered(IPTABLES);
    // clear, 2 nets, clear the next bit, 2 port chunks, the verdict
    expect(rules.map((r) => r.action.t)).toEqual([
      'clear-mark',
      'set-mark',
      'set-mark',
      'clear-mark',
      'set-mark',
      'set-mark',
      'drop',
    ]);
    expect(rules.at(-1)!.match).toEqual([
      { t: 'proto', proto: 'tcp' },
      { t: 'mark', bits: Marks.scratch1 },
    ]);
  });

  it('skips what an IPv4 table cannot express, and says why, for both', () => {
    for (const caps of [IPTABLES, NFTABLES])
      expect(lowerRule({ ...rule, ipVersion: 6 }, caps, names)).toEqual({
        skipped: 'IPv6 rule (IPv4 table)',
      });
  });
});
