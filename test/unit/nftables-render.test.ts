// The nftables renderer on the seed lab (test/fixtures/calc/lab.yaml): golden files per node
// (regenerate with UPDATE_GOLDEN=1), the iptables layout mirrored in one table, a label change
// touching only set elements, rule encodings, and the driver against a fake shim.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type ParsedRule, PolicyCalculator } from '../../src/agent/calc/index.js';
import { render as renderIptables } from '../../src/agent/dataplane/iptables/index.js';
import {
  BASE_CHAIN,
  NftablesDriver,
  nftChainName,
  parseTableHash,
  render,
  renderCleanup,
  renderReplace,
  renderRule,
  type Shim,
} from '../../src/agent/dataplane/nftables/index.js';
import { DataplaneError, snapshotOf } from '../../src/agent/dataplane/rules/index.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { NO_SIDE, parsedRule } from '../harness/rules.js';

const lab = (): KubeObject[] =>
  parseAllDocuments(readFileSync(new URL('../fixtures/calc/lab.yaml', import.meta.url), 'utf8'), {
    uniqueKeys: false,
  }).map((d) => d.toJS() as KubeObject);

function calcFor(node: string, objs: readonly KubeObject[] = lab()): PolicyCalculator {
  const calc = new PolicyCalculator(node);
  calc.apply(objs.flatMap((o) => convertObject(o)));
  return calc;
}

function golden(name: string, actual: string): void {
  const url = new URL(`../golden/nftables/${name}`, import.meta.url);
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(url)) writeFileSync(url, actual);
  expect(actual).toBe(readFileSync(url, 'utf8'));
}

describe('nftables render: the lab', () => {
  for (const node of ['node-a', 'node-b', 'node-c']) {
    it(`matches the golden file for ${node}`, () => {
      const r = render(snapshotOf(calcFor(node)));
      golden(
        `lab-${node}.nft`,
        `${renderReplace(r)}# warnings\n${r.warnings.map((w) => `# ${w}\n`).join('')}`,
      );
      expect(render(snapshotOf(calcFor(node)))).toEqual(r); // deterministic
    });
  }

  it('mirrors the iptables layout: same chains, same sets, same warnings', () => {
    for (const node of ['node-a', 'node-b', 'node-c']) {
      const snap = snapshotOf(calcFor(node));
      const [nft, ipt] = [render(snap), renderIptables(snap)];
      // One nft table holds raw, mangle and filter: prefixed names, shared policy chains.
      const iptChains = [...ipt.tables].flatMap(([table, chains]) =>
        [...chains.keys()].map((c) => nftChainName(table, c)),
      );
      expect([...nft.chains.keys()].sort()).toEqual([...new Set(iptChains)].sort());
      expect(nft.chains.has(BASE_CHAIN)).toBe(true);
      expect([...nft.sets.keys()]).toEqual([...ipt.ipSets.keys()]);
      expect(nft.warnings).toEqual(ipt.warnings);
    }
  });

  it('encodes the Felix layout: conntrack first, tiers with pass guard and end-of-tier drop, profiles, final drop', () => {
    const r = render(snapshotOf(calcFor('node-a')));
    const fw = [...r.chains.entries()].find(([n, rules]) => n.startsWith('tabby-fw-') && rules.length > 10)!;
    const rules = fw[1];
    expect(rules.slice(0, 3)).toEqual([
      'ct state established,related accept',
      'ct state invalid drop',
      'meta mark set meta mark & 0xfffcffff',
    ]);
    expect(rules.filter((l) => l.includes('start of tier')).map((l) => /tier (\w+)/.exec(l)![1])).toEqual([
      'security',
      'platform',
      'application',
    ]);
    expect(rules.filter((l) => l.includes('end of tier'))).toHaveLength(3);
    expect(rules.at(-1)).toBe('drop comment "no policy or profile allowed"');
    expect(rules).toContain('jump tabby-pro-kns.frontend');
    expect(r.chains.get('tabby-pro-kns.frontend')).toEqual(['meta mark set meta mark | 0x10000 return']);
    expect(r.chains.get('tabby-from-wl-dispatch')![0]).toMatch(/^iifname vmap \{ "cali\w+" : goto tabby-fw-/);
    expect(r.text).toContain('type filter hook forward priority filter; policy accept;');
    expect(parseTableHash(r.text)).toBe(r.hash);
  });

  it('a label change on another pod changes only set elements', () => {
    const before = render(snapshotOf(calcFor('node-a')));
    const objs = lab().map((o) =>
      o.kind === 'Pod' && o.metadata.name === 'api'
        ? { ...o, metadata: { ...o.metadata, labels: { app: 'api-v2', tier: 'backend' } } }
        : o,
    );
    const after = render(snapshotOf(calcFor('node-a', objs)));
    expect(after.chains).toEqual(before.chains);
    expect(after.hash).not.toBe(before.hash);
    const [a, b] = [before.text.split('\n'), after.text.split('\n')];
    const changed = a.filter((l) => !b.includes(l)).concat(b.filter((l) => !a.includes(l)));
    // The table comment (hash) and the one set's elements line: nothing else.
    expect(changed.filter((l) => !l.includes('comment "tabby:'))).toEqual([
      '\t\telements = { 10.244.2.10/32 }',
    ]);
  });
});

const ctx = { setName: (id: string) => `set-${id}` };
const rule = parsedRule;
const line = (r: ParsedRule): string => {
  const out = renderRule(r, ctx);
  if ('skipped' in out) throw new Error(out.skipped);
  return out.lines.join('\n');
};

describe('nftables render: rule encodings', () => {
  it('actions: Allow/Pass set a mark and return in one rule, Deny drops, Log logs', () => {
    expect(line(rule({ action: 'deny', protocol: 'TCP' }))).toBe('meta l4proto tcp drop');
    expect(line(rule({ action: 'next-tier' }))).toBe('meta mark set meta mark | 0x20000 return');
    expect(line(rule({ action: 'log', protocol: 17 }))).toBe(
      'meta l4proto udp log prefix "tabby-packet: " level notice',
    );
  });

  it('matches: protocol, nets, sets, ports, ranges, ICMP; lists are anonymous sets (no scratch marks)', () => {
    expect(
      line(
        rule({
          action: 'deny',
          notProtocol: 'udp',
          src: { ...NO_SIDE, nets: ['10.0.0.0/8'], ipSets: ['a'], notIpSets: ['b'] },
          dst: { ...NO_SIDE, notNets: ['10.1.0.0/16'] },
        }),
      ),
    ).toBe(
      'meta l4proto != udp ip saddr 10.0.0.0/8 ip saddr @set-a ip saddr != @set-b ip daddr != 10.1.0.0/16 drop',
    );
    const ports = Array.from({ length: 16 }, (_, i) => 100 + i);
    expect(
      line(
        rule({
          action: 'deny',
          protocol: 'tcp',
          src: {
            ...NO_SIDE,
            nets: ['10.0.0.0/8', '192.168.0.0/16'],
            notNets: ['10.1.0.0/16', '10.2.0.0/16'],
          },
          dst: { ...NO_SIDE, ports: [...ports, '1000:2000'], notPorts: [1500] },
        }),
      ),
    ).toBe(
      'meta l4proto tcp ip saddr { 10.0.0.0/8, 192.168.0.0/16 } ip saddr != { 10.1.0.0/16, 10.2.0.0/16 } ' +
        `tcp dport { ${ports.join(', ')}, 1000-2000 } tcp dport != 1500 drop`,
    );
    expect(line(rule({ action: 'deny', protocol: 'icmp', icmpType: 8, icmpCode: 0, notIcmpType: 3 }))).toBe(
      'meta l4proto icmp icmp type 8 icmp code 0 icmp type != 3 drop',
    );
    expect(line(rule({ action: 'deny', protocol: 'icmp', notIcmpType: 3, notIcmpCode: 1 }))).toBe(
      'meta l4proto icmp icmp type . icmp code != { 3 . 1 } drop',
    );
  });

  it('skips what it cannot express, and says why', () => {
    expect(renderRule(rule({ ipVersion: 6 }), ctx)).toEqual({ skipped: 'IPv6 rule (IPv4 table)' });
    expect(renderRule(rule({ dst: { ...NO_SIDE, ports: [80] } }), ctx)).toHaveProperty('skipped');
    expect(renderRule(rule({ src: { ...NO_SIDE, notNets: ['0.0.0.0/0'] } }), ctx)).toHaveProperty('skipped');
  });
});

describe('nftables driver (fake shim)', () => {
  const desired = render(snapshotOf(calcFor('node-a')));

  it('replaces the table in one transaction, skips when the live hash matches, reports failures', async () => {
    const calls: { args: string; stdin?: string }[] = [];
    let live: string | undefined;
    let fail = false;
    const shim: Shim = {
      async run(cmd, args, stdin) {
        calls.push({ args: [cmd, ...args].join(' '), ...(stdin === undefined ? {} : { stdin }) });
        if (args[0] === 'list') {
          if (live === undefined)
            throw new Error('nft list table ip tabby: Error: No such file or directory');
          return { stdout: live, stderr: '' };
        }
        if (fail) throw new Error('nft -f -: Error: syntax error');
        live = stdin?.includes('{') ? stdin : undefined;
        return { stdout: '', stderr: '' };
      },
    };
    const driver = new NftablesDriver(shim);
    const first = await driver.apply(desired);
    expect(calls.map((c) => c.args)).toEqual(['nft list table ip tabby', 'nft -f -']);
    expect(calls[1]!.stdin).toBe(renderReplace(desired));
    expect(calls[1]!.stdin!.split('\n').slice(0, 2)).toEqual(['table ip tabby', 'delete table ip tabby']);
    expect(first).toMatchObject({ applied: true });
    expect(first.chainsChanged).toHaveLength(desired.chains.size);
    expect(await driver.apply(desired)).toEqual({ applied: false, chainsChanged: [], setsChanged: [] });
    expect(calls).toHaveLength(3);
    fail = true;
    live = 'table ip tabby {\n\tcomment "tabby:other"\n}\n';
    await expect(driver.apply(desired)).rejects.toBeInstanceOf(DataplaneError);
    expect(driver.lastError?.code).toBe('TABBY_ERR_DATAPLANE_APPLY');
    expect(driver.lastApplied).toBe(desired);
    fail = false;
    await driver.cleanup();
    expect(calls.at(-1)!.stdin).toBe(renderCleanup());
    expect(driver.lastApplied).toBeUndefined();
  });
});

describe('nftables render: named ports', () => {
  const knp = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'api-http', namespace: 'backend' },
    spec: {
      podSelector: { matchLabels: { app: 'api' } },
      policyTypes: ['Ingress'],
      ingress: [{ ports: [{ port: 'http' }] }],
    },
  } as unknown as KubeObject;

  it('a KNP allowing port `http` renders an addr . proto . port set of the pods declaring it', () => {
    const r = render(snapshotOf(calcFor('node-b', [...lab(), knp])));
    const sets = [...r.sets.entries()].filter(([, s]) => s.type !== 'ipv4_addr');
    expect(sets).toHaveLength(1);
    const [name, spec] = sets[0]!;
    expect(spec.type).toBe('ipv4_addr . inet_proto . inet_service');
    expect(spec.members).toEqual([
      '10.244.1.10 . tcp . 80',
      '10.244.2.10 . tcp . 80',
      '10.244.3.10 . tcp . 80',
    ]);
    expect([...r.chains.values()].flat()).toContain(
      `meta l4proto tcp ip daddr . meta l4proto . th dport @${name} meta mark set meta mark | 0x10000 return`,
    );
    expect(r.text).toContain(
      `\tset ${name} {\n\t\ttype ipv4_addr . inet_proto . inet_service\n\t\tflags interval\n`,
    );
    expect(r.warnings.filter((w) => w.includes('named port'))).toEqual([]);
  });

  const http = { name: 'http', protocol: 'tcp' as const, selector: 'app == "api"' };
  const npCtx = { ...ctx, namedPortSetName: (id: string) => `np-${id.length}` };
  const npLines = (r: ParsedRule): readonly string[] => {
    const out = renderRule(r, npCtx);
    if ('skipped' in out) throw new Error(out.skipped);
    return out.lines;
  };

  it('a Deny with a named port is rendered, not skipped (fails closed)', () => {
    expect(
      npLines(rule({ action: 'deny', protocol: 'TCP', dst: { ...NO_SIDE, namedPorts: [http] } })),
    ).toEqual(['meta l4proto tcp ip daddr . meta l4proto . th dport @np-21 drop']);
    expect(npLines(rule({ action: 'deny', src: { ...NO_SIDE, notNamedPorts: [http] } }))).toEqual([
      'ip saddr . meta l4proto . th sport != @np-21 drop',
    ]);
  });

  it('numeric ports OR named ports: one scratch-mark OR group', () => {
    expect(
      npLines(
        rule({ action: 'deny', protocol: 'TCP', dst: { ...NO_SIDE, ports: [8081], namedPorts: [http] } }),
      ),
    ).toEqual([
      'meta mark set meta mark & 0xfff3ffff',
      'tcp dport 8081 meta mark set meta mark | 0x40000',
      'ip daddr . meta l4proto . th dport @np-21 meta mark set meta mark | 0x40000',
      'meta l4proto tcp meta mark & 0x40000 == 0x40000 drop',
    ]);
  });
});
