// The iptables renderer on the seed lab (test/fixtures/calc/lab.yaml): golden files per node
// (regenerate with UPDATE_GOLDEN=1), stability of unaffected chains under label changes, name
// limits, rule encodings, restore diffs and the driver against a fake shim.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type ParsedRule, PolicyCalculator } from '../../src/agent/calc/index.js';
import {
  appliedState,
  digests,
  IptablesDriver,
  parseIpsetSave as parseIpsetSaveOf,
  parseIptablesSave,
  type RenderedDataplane,
  render,
  renderCleanup,
  renderIpSets,
  renderRestore,
  renderRule,
  type Shim,
} from '../../src/agent/dataplane/iptables/index.js';
import {
  DataplaneError,
  MAX_CHAIN_NAME,
  MAX_SET_NAME,
  snapshotOf,
} from '../../src/agent/dataplane/rules/index.js';
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

/** The golden text: the sets as `ipset restore` input, then the full iptables-restore input. */
function goldenText(r: RenderedDataplane): string {
  const sets = renderIpSets(r.ipSets, new Map()).update;
  return `# ipset restore\n${sets}# iptables-restore --noflush\n${renderRestore(r).text}# warnings\n${r.warnings.join('\n')}\n`;
}

function golden(name: string, actual: string): void {
  const url = new URL(`../golden/iptables/${name}`, import.meta.url);
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(url)) writeFileSync(url, actual);
  expect(actual).toBe(readFileSync(url, 'utf8'));
}

describe('iptables render: the lab', () => {
  for (const node of ['node-a', 'node-b', 'node-c']) {
    it(`matches the golden file for ${node}`, () => {
      const r = render(snapshotOf(calcFor(node)));
      golden(`lab-${node}.txt`, goldenText(r));
      expect(render(snapshotOf(calcFor(node)))).toEqual(r); // deterministic
    });
  }

  it('encodes Felix layout: conntrack first, tiers with pass guard and end-of-tier drop, profiles, final drop', () => {
    const r = render(snapshotOf(calcFor('node-a')));
    const fw = [...r.chains.entries()].find(([n, rules]) => n.startsWith('tabby-fw-') && rules.length > 10)!;
    const rules = fw[1];
    expect(rules.slice(0, 3)).toEqual([
      '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-m conntrack --ctstate INVALID -j DROP',
      '-j MARK --set-xmark 0x0/0x30000',
    ]);
    expect(rules.filter((l) => l.includes('start of tier')).map((l) => /tier (\w+)/.exec(l)![1])).toEqual([
      'security',
      'platform',
      'application',
    ]);
    expect(rules.filter((l) => l.includes('end of tier')).length).toBe(3);
    expect(rules.at(-1)).toContain('-j DROP');
    expect(rules).toContain('-j tabby-pro-kns.frontend');
    expect(r.chains.get('tabby-pro-kns.frontend')).toEqual([
      '-j MARK --set-xmark 0x10000/0x10000',
      '-m mark --mark 0x10000/0x10000 -j RETURN',
    ]);
    expect(r.hooks).toContainEqual({
      table: 'filter',
      chain: 'FORWARD',
      rule: '-m comment --comment "tabby hook" -j tabby-FORWARD',
    });
    expect(r.hooks.map((h) => `${h.table}/${h.chain}`)).toEqual([
      'raw/PREROUTING',
      'raw/OUTPUT',
      'mangle/PREROUTING',
      'filter/INPUT',
      'filter/FORWARD',
      'filter/OUTPUT',
    ]);
  });

  it('keeps every name within the kernel limits', () => {
    for (const node of ['node-a', 'node-b', 'node-c']) {
      const r = render(snapshotOf(calcFor(node)));
      for (const c of r.chains.keys()) expect(c.length).toBeLessThanOrEqual(MAX_CHAIN_NAME);
      for (const s of r.ipSets.keys()) expect(s.length).toBeLessThanOrEqual(MAX_SET_NAME);
      expect([...r.chains.keys()].every((c) => c.startsWith('tabby-'))).toBe(true);
    }
    // ksa.frontend.default does not fit after tabby-pri-: hashed.
    const r = render(snapshotOf(calcFor('node-a')));
    expect([...r.chains.keys()].filter((c) => c.startsWith('tabby-pri-_'))).toHaveLength(2);
  });

  it('a label change on another pod changes only IP set membership, not this endpoint`s chains', () => {
    const before = render(snapshotOf(calcFor('node-a')));
    // api on node-b loses app=api: frontend-policy's destination set on node-a shrinks.
    const objs = lab().map((o) =>
      o.kind === 'Pod' && o.metadata.name === 'api'
        ? { ...o, metadata: { ...o.metadata, labels: { app: 'api-v2', tier: 'backend' } } }
        : o,
    );
    const after = render(snapshotOf(calcFor('node-a', objs)));
    expect(after.chains).toEqual(before.chains);
    expect(renderRestore(after, tablesState(before)).text).toBe('');
    const changed = [...after.ipSets].filter(
      ([n, s]) => before.ipSets.get(n)?.members.join() !== s.members.join(),
    );
    expect(changed.map(([, s]) => [before.ipSets.get(changed[0]![0])!.members, s.members])).toEqual([
      [['10.244.2.10/32'], []],
    ]);
  });
});

/** The filter table as if `r` had been applied, through iptables-save's text. */
function parseState(r: RenderedDataplane) {
  const hooks = r.hooks.filter((h) => h.table === 'filter').map((h) => `-A ${h.chain} ${h.rule}\n`);
  return parseIptablesSave(
    `*filter\n:FORWARD ACCEPT [0:0]\n${[...r.chains.keys()].map((c) => `:${c} - [0:0]`).join('\n')}\n` +
      `${hooks.join('')}${restoreRules(r)}COMMIT\n`,
  );
}
/** Every table as if `r` had been applied, with the filter table parsed back from text. */
const tablesState = (r: RenderedDataplane, filter = parseState(r)) =>
  new Map([...appliedState(r), ['filter', filter] as const]);
const restoreRules = (r: RenderedDataplane): string =>
  renderRestore({ ...r, tables: new Map(), hooks: [] })
    .text.split('\n')
    .filter((l) => l.startsWith('-A tabby-'))
    .map((l) => `${l}\n`)
    .join('');

const ctx = { setName: (id: string) => `set-${id}` };
const rule = parsedRule;
const lines = (r: ParsedRule): string[] => {
  const out = renderRule(r, ctx);
  if ('skipped' in out) throw new Error(out.skipped);
  return out.lines;
};

describe('iptables render: rule encodings', () => {
  it('actions: Allow/Pass set a mark and RETURN, Deny DROPs, Log LOGs', () => {
    expect(lines(rule({ action: 'deny', protocol: 'TCP' }))).toEqual(['-p tcp -j DROP']);
    expect(lines(rule({ action: 'next-tier' }))).toEqual([
      '-j MARK --set-xmark 0x20000/0x20000',
      '-m mark --mark 0x20000/0x20000 -j RETURN',
    ]);
    expect(lines(rule({ action: 'log', protocol: 17 }))).toEqual([
      '-p udp -j LOG --log-prefix "tabby-packet: " --log-level 5',
    ]);
  });

  it('matches: protocol, nets, sets, ports, ranges, ICMP', () => {
    const r = rule({
      action: 'deny',
      notProtocol: 'udp',
      src: { ...NO_SIDE, nets: ['10.0.0.0/8'], ipSets: ['a'], notIpSets: ['b'] },
      dst: { ...NO_SIDE, notNets: ['10.1.0.0/16'] },
    });
    expect(lines(r)).toEqual([
      '! -p udp -s 10.0.0.0/8 -m set --match-set set-a src -m set ! --match-set set-b src ! -d 10.1.0.0/16 -j DROP',
    ]);
    expect(
      lines(
        rule({
          action: 'deny',
          protocol: 'tcp',
          dst: { ...NO_SIDE, ports: [80, '1000:2000'], notPorts: [1500] },
        }),
      ),
    ).toEqual(['-p tcp -m multiport --dports 80,1000:2000 -m multiport ! --dports 1500 -j DROP']);
    expect(
      lines(rule({ action: 'deny', protocol: 'icmp', icmpType: 8, icmpCode: 0, notIcmpType: 3 })),
    ).toEqual(['-p icmp -m icmp --icmp-type 8/0 -m icmp ! --icmp-type 3 -j DROP']);
  });

  it('ORs several nets and >15 port slots with scratch marks; negated lists clear the running bit', () => {
    const ports = Array.from({ length: 16 }, (_, i) => 100 + i);
    const out = lines(
      rule({
        action: 'deny',
        protocol: 'tcp',
        src: { ...NO_SIDE, nets: ['10.0.0.0/8', '192.168.0.0/16'], notNets: ['10.1.0.0/16', '10.2.0.0/16'] },
        dst: { ...NO_SIDE, ports },
      }),
    );
    expect(out).toEqual([
      '-j MARK --set-xmark 0x0/0xc0000',
      '-s 10.0.0.0/8 -j MARK --set-xmark 0x40000/0x40000',
      '-s 192.168.0.0/16 -j MARK --set-xmark 0x40000/0x40000',
      '-j MARK --set-xmark 0x0/0x80000',
      `-m mark --mark 0x40000/0x40000 -p tcp -m multiport --dports ${ports.slice(0, 15).join(',')} -j MARK --set-xmark 0x80000/0x80000`,
      '-m mark --mark 0x40000/0x40000 -p tcp -m multiport --dports 115 -j MARK --set-xmark 0x80000/0x80000',
      '-m mark --mark 0x80000/0x80000 -s 10.1.0.0/16 -j MARK --set-xmark 0x0/0x80000',
      '-m mark --mark 0x80000/0x80000 -s 10.2.0.0/16 -j MARK --set-xmark 0x0/0x80000',
      '-p tcp -m mark --mark 0x80000/0x80000 -j DROP',
    ]);
  });

  it('skips what it cannot express, and says why', () => {
    expect(renderRule(rule({ ipVersion: 6 }), ctx)).toEqual({ skipped: 'IPv6 rule (IPv4 table)' });
    expect(renderRule(rule({ dst: { ...NO_SIDE, ports: [80] } }), ctx)).toHaveProperty('skipped');
    expect(renderRule(rule({ src: { ...NO_SIDE, notNets: ['0.0.0.0/0'] } }), ctx)).toHaveProperty('skipped');
  });
});

describe('iptables restore and driver', () => {
  const desired = render(snapshotOf(calcFor('node-a')));

  it('rewrites only changed chains and deletes stale ones; the hook only when not first', () => {
    const state = parseState(desired);
    expect(renderRestore(desired, tablesState(desired, state)).text).toBe('');
    const chains = new Map(desired.chains);
    const victim = [...chains.keys()].find((c) => c.startsWith('tabby-tw-'))!;
    chains.set(victim, ['-j DROP']);
    chains.set('tabby-old', ['-j DROP']);
    const stale = parseState({ ...desired, chains });
    const plan = renderRestore(desired, tablesState(desired, stale));
    expect(plan.written).toEqual([victim]);
    expect(plan.deleted).toEqual(['tabby-old']);
    expect(plan.hookRewritten).toBe(false);
    expect(plan.text).toContain(`:${victim} - [0:0]`);
    expect(plan.text).toContain('-X tabby-old');
    const noHook = { ...state, hookRules: [], builtinRules: new Map() };
    expect(renderRestore(desired, tablesState(desired, noHook)).text).toContain(
      '-I FORWARD 1 -m comment --comment "tabby hook" -j tabby-FORWARD',
    );
    expect(renderCleanup(tablesState(desired, state))).toContain(
      '-D FORWARD -m comment --comment "tabby hook" -j tabby-FORWARD',
    );
    expect(digests(desired.chains).size).toBe(desired.chains.size);
  });

  it('sets: new filled in place, changed rebuilt and swapped, unused destroyed', () => {
    const [name, spec] = [...desired.ipSets][0]!;
    const plan = renderIpSets(
      new Map([[name, spec]]),
      new Map([
        [name, ['1.2.3.4/32']],
        ['tabby-s-gone', []],
      ]),
    );
    expect(plan.update).toContain(`swap tabby-t-${name.slice(8)} ${name}`);
    expect(plan.destroy).toBe('destroy tabby-s-gone\n');
    expect(renderIpSets(new Map([[name, spec]]), new Map([[name, [...spec.members]]])).update).toBe('');
  });

  it('driver: applies sets, then rules, then destroys; a failed restore keeps the old rules and reports', async () => {
    const calls: string[] = [];
    let failRestore = false;
    const shim: Shim = {
      async run(cmd, args) {
        calls.push([cmd, ...args].join(' '));
        if (cmd === 'iptables-restore' && failRestore) throw new Error('iptables-restore: line 3 failed');
        if (cmd === 'ipset' && args[0] === 'save')
          return { stdout: 'create tabby-s-gone hash:net family inet\n', stderr: '' };
        return { stdout: '', stderr: '' };
      },
    };
    const driver = new IptablesDriver(shim);
    const res = await driver.apply(desired);
    expect(calls).toEqual([
      'ipset save',
      'iptables-save -t raw',
      'iptables-save -t mangle',
      'iptables-save -t filter',
      'ipset restore',
      'iptables-restore -w 5 --noflush',
      'ipset restore',
    ]);
    expect(res.chainsWritten.length).toBe(
      [...desired.tables.values()].reduce((n, chains) => n + chains.size, 0),
    );
    expect(res.setsDestroyed).toEqual(['tabby-s-gone']);
    failRestore = true;
    await expect(driver.apply(desired)).rejects.toBeInstanceOf(DataplaneError);
    expect(driver.lastError?.code).toBe('TABBY_ERR_DATAPLANE_APPLY');
    expect(driver.lastApplied).toBe(desired);
  });
});

describe('iptables render: named ports', () => {
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

  it('a KNP allowing port `http` renders a hash:ip,port set of the pods declaring it', () => {
    const r = render(snapshotOf(calcFor('node-b', [...lab(), knp])));
    const sets = [...r.ipSets.entries()].filter(([, s]) => s.type === 'hash:ip,port');
    expect(sets).toHaveLength(1);
    const [name, spec] = sets[0]!;
    expect(name.length).toBeLessThanOrEqual(MAX_SET_NAME);
    // all() selector (KNP ingress ports): every endpoint with a TCP port named http.
    expect(spec.members).toEqual(['10.244.1.10,tcp:80', '10.244.2.10,tcp:80', '10.244.3.10,tcp:80']);
    expect([...r.chains.values()].flat()).toContain(
      `-p tcp -m set --match-set ${name} dst,dst -j MARK --set-xmark 0x10000/0x10000`,
    );
    expect(r.warnings.filter((w) => w.includes('named port'))).toEqual([]);
    expect(renderIpSets(r.ipSets, new Map()).update).toContain(
      `create ${name} hash:ip,port family inet maxelem 1048576 -exist\nflush ${name}\nadd ${name} 10.244.1.10,tcp:80\n`,
    );
    // ipset save output of the same set reads back equal: nothing to rewrite.
    const saved = `create ${name} hash:ip,port family inet hashsize 1024 maxelem 1048576\n${spec.members.map((m) => `add ${name} ${m}`).join('\n')}\n`;
    const current = new Map([...r.ipSets].map(([n, s]) => [n, [...s.members]]));
    current.set(name, parseIpsetSaveOf(saved).get(name)!);
    expect(renderIpSets(r.ipSets, current).written).toEqual([]);
  });

  const http = { name: 'http', protocol: 'tcp' as const, selector: 'app == "api"' };
  const npCtx = { ...ctx, namedPortSetName: (id: string) => `np-${id}` };
  const npLines = (r: ParsedRule): string[] => {
    const out = renderRule(r, npCtx);
    if ('skipped' in out) throw new Error(out.skipped);
    return out.lines;
  };

  it('a Deny with a named port is rendered, not skipped (fails closed)', () => {
    expect(
      npLines(rule({ action: 'deny', protocol: 'TCP', dst: { ...NO_SIDE, namedPorts: [http] } })),
    ).toEqual(['-p tcp -m set --match-set np-tcp/http/app == "api" dst,dst -j DROP']);
    expect(npLines(rule({ action: 'deny', src: { ...NO_SIDE, notNamedPorts: [http] } }))).toEqual([
      '-m set ! --match-set np-tcp/http/app == "api" src,src -j DROP',
    ]);
  });

  it('numeric ports OR named ports: one scratch-mark OR group', () => {
    expect(
      npLines(
        rule({ action: 'deny', protocol: 'TCP', dst: { ...NO_SIDE, ports: [8081], namedPorts: [http] } }),
      ),
    ).toEqual([
      '-j MARK --set-xmark 0x0/0xc0000',
      '-p tcp -m multiport --dports 8081 -j MARK --set-xmark 0x40000/0x40000',
      '-m set --match-set np-tcp/http/app == "api" dst,dst -j MARK --set-xmark 0x40000/0x40000',
      '-p tcp -m mark --mark 0x40000/0x40000 -j DROP',
    ]);
  });
});
