// BGPFilter: conversion (Calico's API checks), the per-session model (filters in BGPPeer
// order, missing names skipped with a warning, IPv6-only filters not applied to IPv4
// sessions) and the BIRD 2 text, which `bird -p` must accept, with confd's statement forms.

import { describe, expect, it } from 'vitest';
import { type BgpModel, computeBgp } from '../../src/agent/calc/routing/bgp.js';
import type { RoutingState } from '../../src/agent/calc/routing/state.js';
import { renderBirdConfig } from '../../src/agent/dataplane/bird/render.js';
import { filterFunctionName } from '../../src/agent/dataplane/bird/render-filters.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import { Keys } from '../../src/model/keys.js';
import { bgpConfig, bgpPeer, birdMissing, birdParse, crd, node, stateOf } from './bgp-fixtures.js';

const filter = (name: string, spec: Record<string, unknown>) => crd('BGPFilter', name, spec);

function model(state: RoutingState, name: string): BgpModel {
  const m = computeBgp(state, name);
  if (!m.available) throw new Error(m.message);
  return m;
}

const reasonOf = (spec: Record<string, unknown>): string => {
  try {
    convertObject(filter('f', spec));
  } catch (err) {
    return (err as { reason: string }).reason;
  }
  return 'accepted';
};

describe('BGPFilter conversion', () => {
  it('passes as a v3 resource under its own key, AS numbers as numbers', () => {
    const [kv] = convertObject(
      filter('f', {
        exportV4: [{ action: 'Accept', matchOperator: 'In', cidr: '10.0.0.0/8', prefixLength: { min: 16 } }],
        importV4: [
          { action: 'Accept', asPathPrefix: ['65000'], operations: [{ prependASPath: { prefix: [65001] } }] },
        ],
      }),
    );
    expect(kv!.key).toBe(Keys.bgpFilter('f'));
    expect((kv!.value as { spec: { importV4: unknown[] } }).spec.importV4[0]).toMatchObject({
      asPathPrefix: [65000],
      operations: [{ prependASPath: { prefix: [65001] } }],
    });
  });

  it('rejects a name that is not a DNS-1123 subdomain (it becomes BIRD symbols and comments)', () => {
    for (const name of ["x'; protocol static evil {", 'a\nb', 'Upper', ''])
      expect(() => convertObject(crd('BGPFilter', name, {}))).toThrow(/metadata.name|name/);
    expect(() => convertObject(crd('BGPFilter', 'ok-name.v2', {}))).not.toThrow();
  });

  it('rejects what Calico (or BIRD) would refuse, naming the field', () => {
    expect(reasonOf({ exportV4: [{ cidr: '10.0.0.0/8', matchOperator: 'In' }] })).toBe(
      'spec.exportV4[0].action: expected Accept or Reject, got undefined',
    );
    expect(reasonOf({ exportV4: [{ action: 'Accept', cidr: '10.0.0.0/8' }] })).toBe(
      'spec.exportV4[0]: cidr and matchOperator must be set together',
    );
    expect(reasonOf({ importV4: [{ action: 'Accept', matchOperator: 'In', cidr: 'fd00::/8' }] })).toBe(
      'spec.importV4[0].cidr: invalid IPv4 CIDR "fd00::/8"',
    );
    expect(reasonOf({ importV6: [{ action: 'Accept', matchOperator: 'Like', cidr: 'fd00::/8' }] })).toContain(
      'spec.importV6[0].matchOperator: expected Equal, NotEqual, In or NotIn',
    );
    expect(
      reasonOf({
        importV4: [{ action: 'Accept', matchOperator: 'In', cidr: '10.0.0.0/16', prefixLength: { max: 8 } }],
      }),
    ).toBe('spec.importV4[0].prefixLength: no prefix length from 16 to 8');
    expect(reasonOf({ importV4: [{ action: 'Reject', interface: 'eth0"; accept; "' }] })).toContain(
      'spec.importV4[0].interface: invalid interface pattern',
    );
    expect(reasonOf({ importV4: [{ action: 'Reject', source: 'Elsewhere' }] })).toContain(
      'spec.importV4[0].source',
    );
    expect(
      reasonOf({ exportV4: [{ action: 'Accept', operations: [{ addCommunity: { value: 'x' } }] }] }),
    ).toBe('spec.exportV4[0].operations[0].addCommunity.value: invalid community "x"');
    expect(() => convertObject(bgpPeer('p', { peerIP: '10.0.0.9', asNumber: 65000, filters: 'f' }))).toThrow(
      'spec.filters: expected a list',
    );
  });
});

const nodes = [node('n1', '10.0.0.1'), node('n2', '10.0.0.2'), node('n3', '10.0.0.3')];
const noMesh = bgpConfig('default', { nodeToNodeMeshEnabled: false });

describe('BGPFilter on sessions', () => {
  const objects = [
    ...nodes,
    noMesh,
    filter('a', {
      importV4: [{ action: 'Reject', matchOperator: 'In', cidr: '44.1.0.0/16' }],
      exportV4: [{ action: 'Accept', matchOperator: 'Equal', cidr: '77.2.0.0/16' }],
    }),
    filter('b', { exportV4: [{ action: 'Reject', source: 'RemotePeers' }] }),
    filter('v6only', { importV6: [{ action: 'Reject', matchOperator: 'In', cidr: 'fd00::/8' }] }),
    bgpPeer('tor', { peerIP: '10.0.0.254', asNumber: 65001, filters: ['b', 'gone', 'a', 'v6only'] }),
    bgpPeer('mesh-ish', { peerSelector: 'all()' }),
  ];

  it('a session gets its BGPPeer’s filters in order; missing ones are skipped and reported', () => {
    const m = model(stateOf(objects), 'n1');
    const tor = m.peers.find((p) => p.ip === '10.0.0.254')!;
    expect(tor.importFilters).toEqual(['a']);
    expect(tor.exportFilters).toEqual(['b', 'a']);
    expect(m.peers.filter((p) => p.ip !== '10.0.0.254').every((p) => p.importFilters === undefined)).toBe(
      true,
    );
    expect(m.filters.map((f) => f.name)).toEqual(['a', 'b']);
    expect(m.warnings).toContainEqual(
      expect.objectContaining({ code: 'bgp-filter-missing', resource: 'BGPPeer/tor' }),
    );
  });

  it('renders confd’s statements, per-session filters calling them in order, and bird -p accepts it', () => {
    const text = renderBirdConfig(model(stateOf(objects), 'n1'));
    expect(text).toContain(
      "function 'bgp_a_importFilterV4'() {\n  if ((net ~ 44.1.0.0/16)) then { reject; }\n}",
    );
    expect(text).toContain('  if ((net = 77.2.0.0/16)) then { accept; }');
    expect(text).toContain('  if (((defined(source))&&(source ~ [ RTS_BGP ]))) then { reject; }');
    expect(text).not.toContain('v6only');
    expect(text).toMatch(
      /filter Global_10_0_0_254_export\n\{[\s\S]*?bgp_local_pref = 2147483647 - krt_metric;\n {2}\}\n {2}'bgp_b_exportFilterV4'\(\);\n {2}'bgp_a_exportFilterV4'\(\);\n {2}calico_export_to_bgp_peers\(false\);\n {2}reject;\n\}/,
    );
    expect(text).toMatch(
      /filter Global_10_0_0_254_import\n\{\n {2}'bgp_a_importFilterV4'\(\);\n {2}if \( defined\(bgp_local_pref\)/,
    );
    expect(text).toContain(
      'ipv4 { gateway recursive; add paths on; import filter Global_10_0_0_254_import; export filter Global_10_0_0_254_export; };',
    );
    // Sessions without filters keep the shared filters.
    expect(text).toContain('import filter calico_import; export filter calico_export_ibgp;');
    const missing = birdMissing();
    if (missing === undefined) expect(birdParse(text)).toMatchObject({ ok: true });
    else if (process.env['CI'] === 'true') throw new Error(missing);
  });

  it('every rule form: prefix lengths, interface, peer type, communities, AS path, priority, operations', () => {
    const rich = filter('rich', {
      importV4: [
        { action: 'Accept', matchOperator: 'In', cidr: '10.0.0.0/8', prefixLength: { min: 16, max: 24 } },
        {
          action: 'Reject',
          matchOperator: 'NotIn',
          cidr: '44.1.0.0/16',
          interface: 'eth*',
          source: 'RemotePeers',
        },
        {
          action: 'Accept',
          peerType: 'iBGP',
          communities: { values: ['65000:100'] },
          operations: [{ setPriority: { value: 100 } }],
        },
        { action: 'Accept', asPathPrefix: [65000, 65001] },
        {
          action: 'Accept',
          communities: { values: ['65000:100:200'] },
          operations: [{ addCommunity: { value: '65001:300:400' } }],
        },
      ],
      exportV4: [
        {
          action: 'Accept',
          peerType: 'eBGP',
          priority: 200,
          operations: [
            { addCommunity: { value: '65000:200' } },
            { prependASPath: { prefix: [65000, 65001] } },
          ],
        },
        { action: 'Reject', matchOperator: 'NotEqual', cidr: '77.3.0.0/16' },
      ],
    });
    const s = stateOf([
      ...nodes,
      noMesh,
      rich,
      bgpPeer('tor', { peerIP: '10.0.0.254', asNumber: 64512, filters: ['rich'] }),
    ]);
    const text = renderBirdConfig(model(s, 'n1'));
    for (const line of [
      "function 'bgp_rich_importFilterV4'(bool is_same_as) {",
      '  if ((net ~ [ 10.0.0.0/8{16,24} ])) then { accept; }',
      '  if ((net !~ 44.1.0.0/16)&&((defined(source))&&(source ~ [ RTS_BGP ]))&&((defined(ifname))&&(ifname ~ "eth*"))) then { reject; }',
      '  if (is_same_as) then { if (((65000, 100) ~ bgp_community)) then { bgp_local_pref = 2147483547; accept; } }',
      '  if ((bgp_path ~ [= 65000 65001 * =])) then { accept; }',
      '  if (((65000, 100, 200) ~ bgp_large_community)) then { bgp_large_community.add((65001, 300, 400)); accept; }',
      '  if (!is_same_as) then { if ((defined(bgp_local_pref)&&(bgp_local_pref = 2147483447))) then { bgp_community.add((65000, 200)); bgp_path.prepend(65001); bgp_path.prepend(65000); accept; } }',
      '  if ((net != 77.3.0.0/16)) then { reject; }',
      // The session is iBGP (same AS): the functions are told so.
      "  'bgp_rich_importFilterV4'(true);",
      "  'bgp_rich_exportFilterV4'(true);",
    ])
      expect(text).toContain(line);
    const missing = birdMissing();
    if (missing === undefined) expect(birdParse(text)).toMatchObject({ ok: true });
    else if (process.env['CI'] === 'true') throw new Error(missing);
  });

  it('function names follow confd: names past 45 characters are truncated with a hash', () => {
    expect(filterFunctionName('45characters.exactly.so.should.not.truncate-1', 'import')).toBe(
      "'bgp_45characters.exactly.so.should.not.truncate-1_importFilterV4'",
    );
    expect(filterFunctionName('46characters.exactly.so.should.truncate-123456', 'export')).toBe(
      "'bgp_46characters.exactly.so.shou_9615CBDC00BAC628_exportFilterV4'",
    );
    const long = filterFunctionName(
      'greater-than-64-characters.so.this.should.definitely.truncate-1234567890',
      'import',
    );
    expect(long).toBe("'bgp_greater-than-64-characters.s_4C5DB3273E544641_importFilterV4'");
    expect(long.length - 2).toBe(64);
  });
});
