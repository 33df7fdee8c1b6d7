// One table of address and CIDR texts and what each reading makes of them, pinned from the three
// parsers src/model/net replaced: the converters' Go syntax (datastore/convert/net.ts), the
// agent's lenient wire reading (agent/calc/cidr.ts) and the simulated IPAM (testing/sim/ipv4.ts).
// CHANGED lists the rows where the shared library decides otherwise, and why.

import { describe, expect, it } from 'vitest';
import { formatCidr, parseCidr, parseNet } from '../../src/model/net/cidr.js';
import { formatIp, parseIp } from '../../src/model/net/ip.js';
import { formatRange, ipToInt, parseRange } from '../../src/testing/sim/ipv4.js';

/** [text, Go address, Go CIDR, Go CIDR or bare address, agent net (masked), sim range]; null = rejected. */
type Row = readonly [string, string | null, string | null, string | null, string | null, string | null];

const ROWS: readonly Row[] = [
  ['10.0.0.1', '10.0.0.1', null, '10.0.0.1/32', '10.0.0.1/32', null],
  ['0.0.0.0', '0.0.0.0', null, '0.0.0.0/32', '0.0.0.0/32', null],
  ['255.255.255.255', '255.255.255.255', null, '255.255.255.255/32', '255.255.255.255/32', null],
  ['256.0.0.1', null, null, null, null, null],
  ['010.0.0.1', null, null, null, '10.0.0.1/32', null],
  ['1.2.3.04', null, null, null, '1.2.3.4/32', null],
  ['1.2.3', null, null, null, null, null],
  ['1.2.3.4.5', null, null, null, null, null],
  ['1.2.3.-4', null, null, null, null, null],
  ['1.2.3.4 ', null, null, null, null, null],
  [' 1.2.3.4', null, null, null, null, null],
  ['', null, null, null, null, null],
  ['a.b.c.d', null, null, null, null, null],
  ['1..2.3', null, null, null, null, null],
  ['0x1.2.3.4', null, null, null, null, null],
  ['1e1.0.0.1', null, null, null, null, null],
  ['1.2.3.1000', null, null, null, null, null],
  ['10.0.0.0/8', null, '10.0.0.0/8', '10.0.0.0/8', '10.0.0.0/8', '10.0.0.0/8'],
  ['10.1.2.3/8', null, '10.1.2.3/8', '10.1.2.3/8', '10.0.0.0/8', null],
  ['192.168.1.5/24', null, '192.168.1.5/24', '192.168.1.5/24', '192.168.1.0/24', null],
  ['10.0.0.0/08', null, null, null, '10.0.0.0/8', '10.0.0.0/8'],
  ['10.0.0.0/32', null, '10.0.0.0/32', '10.0.0.0/32', '10.0.0.0/32', '10.0.0.0/32'],
  ['10.0.0.0/33', null, null, null, null, null],
  ['10.0.0.0/', null, null, null, null, null],
  ['0.0.0.0/', null, null, null, null, '0.0.0.0/0'],
  ['10.0.0.0/8/9', null, null, null, null, '10.0.0.0/8'],
  ['10.0.0.0/-1', null, null, null, null, null],
  ['10.0.0.0/ 8', null, null, null, null, '10.0.0.0/8'],
  ['0.0.0.0/0', null, '0.0.0.0/0', '0.0.0.0/0', '0.0.0.0/0', '0.0.0.0/0'],
  ['10.0.0.0/0x8', null, null, null, null, '10.0.0.0/8'],
  ['010.0.0.0/8', null, null, null, '10.0.0.0/8', '10.0.0.0/8'],
  ['10.0.0.0/1e1', null, null, null, null, '10.0.0.0/10'],
  ['10.0.0.0/8.0', null, null, null, null, '10.0.0.0/8'],
  ['/8', null, null, null, null, null],
  ['10.0.0.1/0032', null, null, null, null, '10.0.0.1/32'],
  ['::', '::', null, '::/128', '::/128', null],
  ['::1', '::1', null, '::1/128', '::1/128', null],
  ['1::', '1::', null, '1::/128', '1::/128', null],
  ['fe80::1', 'fe80::1', null, 'fe80::1/128', 'fe80::1/128', null],
  ['FE80::1', 'fe80::1', null, 'fe80::1/128', 'fe80::1/128', null],
  ['2001:db8::', '2001:db8::', null, '2001:db8::/128', '2001:db8::/128', null],
  [
    '2001:0db8:0000:0000:0000:0000:0000:0001',
    '2001:db8::1',
    null,
    '2001:db8::1/128',
    '2001:db8::1/128',
    null,
  ],
  ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8', null, '1:2:3:4:5:6:7:8/128', '1:2:3:4:5:6:7:8/128', null],
  ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0', null, '1:2:3:4:5:6:7:0/128', '1:2:3:4:5:6:7:0/128', null],
  ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8', null, '0:2:3:4:5:6:7:8/128', '0:2:3:4:5:6:7:8/128', null],
  ['1:2:3:4:5:6:7:8:9', null, null, null, null, null],
  ['1:2:3:4:5:6:7:8::', null, null, null, null, null],
  ['1::2::3', null, null, null, null, null],
  ['00001::', null, null, null, null, null],
  ['0001::', '1::', null, '1::/128', '1::/128', null],
  ['::ffff:1.2.3.4', '::ffff:102:304', null, '::ffff:102:304/128', '::ffff:102:304/128', null],
  ['::1.2.3.4', '::102:304', null, '::102:304/128', '::102:304/128', null],
  ['::ffff:01.2.3.4', null, null, null, '::ffff:102:304/128', null],
  ['::ffff:0x1.2.3.4', null, null, null, null, null],
  ['1.2.3.4::', null, null, null, '102:304::/128', null],
  ['1.2.3.4::5', null, null, null, '102:304::5/128', null],
  ['1::2:3.4.5.6:7', null, null, null, null, null],
  ['fe80::1%eth0', null, null, null, null, null],
  [':1::', null, null, null, null, null],
  ['::1:', null, null, null, null, null],
  ['1:::2', null, null, null, null, null],
  [':::', null, null, null, null, null],
  ['1:0:0:1:0:0:0:1', '1:0:0:1::1', null, '1:0:0:1::1/128', '1:0:0:1::1/128', null],
  ['1:0:0:0:1:0:0:1', '1::1:0:0:1', null, '1::1:0:0:1/128', '1::1:0:0:1/128', null],
  ['g::1', null, null, null, null, null],
  [
    '1:2:3:4:5:6:1.2.3.4',
    '1:2:3:4:5:6:102:304',
    null,
    '1:2:3:4:5:6:102:304/128',
    '1:2:3:4:5:6:102:304/128',
    null,
  ],
  ['1:2:3:4:5:6:7:1.2.3.4', null, null, null, null, null],
  ['::1.2.3', null, null, null, null, null],
  ['[::1]', null, null, null, null, null],
  [':', null, null, null, null, null],
  ['::ffff:1.2.3.4:5', null, null, null, null, null],
  ['fd00::/64', null, 'fd00::/64', 'fd00::/64', 'fd00::/64', null],
  ['fd00::1/64', null, 'fd00::1/64', 'fd00::1/64', 'fd00::/64', null],
  ['fd00::/128', null, 'fd00::/128', 'fd00::/128', 'fd00::/128', null],
  ['fd00::/129', null, null, null, null, null],
  ['fd00::/064', null, null, null, 'fd00::/64', null],
  ['::/0', null, '::/0', '::/0', '::/0', null],
  ['2001:db8::/32', null, '2001:db8::/32', '2001:db8::/32', '2001:db8::/32', null],
  ['::ffff:1.2.3.4/96', null, '::ffff:102:304/96', '::ffff:102:304/96', '::ffff:0:0/96', null],
  ['fe80::/10', null, 'fe80::/10', 'fe80::/10', 'fe80::/10', null],
  ['fd00::/', null, null, null, null, null],
  ['::1/128/1', null, null, null, null, null],
];

const NET = 4;
const SIM = 5;
/**
 * Old decisions not kept. The agent read an IPv4 tail anywhere before "::" ("1.2.3.4::5"), which no
 * IPv6 grammar allows (the embedded address is the last 32 bits). The sim read the prefix length
 * with Number(), so "/", "0x8", "1e1", "8.0", " 8", "0032" and "/8/9" passed; it now reads CIDRs as
 * the agent does. The sim only ever parses its own pool definitions.
 */
const CHANGED: ReadonlyMap<string, readonly [column: number, now: string | null]> = new Map([
  ['1.2.3.4::', [NET, null]],
  ['1.2.3.4::5', [NET, null]],
  ['0.0.0.0/', [SIM, null]],
  ['10.0.0.0/8/9', [SIM, null]],
  ['10.0.0.0/ 8', [SIM, null]],
  ['10.0.0.0/0x8', [SIM, null]],
  ['10.0.0.0/1e1', [SIM, null]],
  ['10.0.0.0/8.0', [SIM, null]],
  ['10.0.0.1/0032', [SIM, null]],
]);

const text = (c: { version: 4 | 6; addr: bigint; prefix: number } | undefined) => (c ? formatCidr(c) : null);
const orNull = (f: () => string): string | null => {
  try {
    return f();
  } catch (err) {
    expect(err).toBeInstanceOf(RangeError);
    return null;
  }
};

describe('address and CIDR table', () => {
  it.each(ROWS)('%j', (...row) => {
    const want = [...row];
    const change = CHANGED.get(row[0]);
    if (change !== undefined) want[change[0]] = change[1];
    const [t] = row;
    const ip = parseIp(t);
    const got = [
      t,
      ip ? formatIp(ip) : null,
      text(parseCidr(t)),
      text(parseCidr(t, { bare: true })),
      text(parseNet(t)),
      orNull(() => formatRange(parseRange(t))),
    ];
    expect(got).toEqual(want);
    // The sim's bare addresses are the agent's IPv4 ones.
    const netIp = !t.includes('/') && parseNet(t)?.version === 4 ? parseNet(t)!.addr : null;
    expect(orNull(() => String(ipToInt(t)))).toBe(netIp === null ? null : String(netIp));
  });

  it('lists only rows that exist and that it changes', () => {
    for (const [t, [col, now]] of CHANGED) {
      const row = ROWS.find((r) => r[0] === t);
      expect(row, t).toBeDefined();
      expect(row![col], t).not.toBe(now);
    }
  });

  it('Go syntax accepts a subset of the lenient one, with the same value', () => {
    for (const [t] of ROWS) {
      const go = parseCidr(t, { bare: true });
      if (go !== undefined) expect(parseCidr(t, { bare: true, syntax: 'lenient' })).toEqual(go);
    }
  });
});
