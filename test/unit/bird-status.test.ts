// The BIRD reply parser and the status model on output captured from real bird 2.0.12 daemons
// (test/fixtures/bird, written by test/fv/bird-driver.test.ts with TABBY_UPDATE_FIXTURES=1):
// node a with an Established mesh peer and a wrong-ASN node-specific peer, node c on the other
// side of that wrong-ASN session.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BirdProtocolError,
  BirdReplyParser,
  parseReplies,
  replyText,
} from '../../src/agent/dataplane/bird/birdc.js';
import {
  addressFromName,
  type BirdProtocol,
  parseProtocols,
  parseStatus,
  peerRows,
} from '../../src/agent/dataplane/bird/status.js';
import { renderBird } from '../../src/cli/node-status.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/bird/${name}`, import.meta.url), 'utf8');

function onlyReply(text: string) {
  const replies = parseReplies(text);
  expect(replies).toHaveLength(1);
  return replies[0]!;
}

describe('BirdReplyParser', () => {
  it('splits a transcript into replies whatever the chunking', () => {
    const text = `0001 BIRD 2.0.12 ready.\n${fixture('show-protocols-all-a.txt')}${fixture('show-status.txt')}`;
    const whole = new BirdReplyParser().push(text);
    const parser = new BirdReplyParser();
    const bytewise = [...text].flatMap((ch) => parser.push(ch));
    expect(bytewise).toEqual(whole);
    expect(whole.map((r) => r.code)).toEqual([1, 0, 13]);
    expect(parser.midReply).toBe(false);
  });

  it('gives continuation lines the code of the line they continue, and drops the marker', () => {
    const reply = onlyReply(fixture('show-status.txt'));
    expect(reply.lines.slice(0, 3)).toEqual([
      { code: 1000, text: 'BIRD 2.0.12' },
      { code: 1011, text: 'Router ID is 10.212.0.1' },
      { code: 1011, text: 'Hostname is vm' },
    ]);
    expect(replyText(reply).split('\n').at(-1)).toBe('Daemon is up and running');
  });

  it('keeps spontaneous (+) lines aside and rejects lines that are not the protocol', () => {
    const parser = new BirdReplyParser();
    expect(parser.push('+async note\n0003 Reconfigured\n')).toEqual([
      { code: 3, lines: [{ code: 3, text: 'Reconfigured' }] },
    ]);
    expect(parser.asyncLines).toEqual(['async note']);
    expect(() => new BirdReplyParser().push('hello\n')).toThrow(BirdProtocolError);
    expect(() => new BirdReplyParser().push(' orphan\n')).toThrow(BirdProtocolError);
  });

  it('reads error replies (8002 after 0002) as one reply ending in the error code', () => {
    const reply = onlyReply(
      "0002-Reading configuration from /x/bad.conf\n8002 /x/bad.conf:1:46 syntax error, unexpected ';'\n",
    );
    expect(reply.code).toBe(8002);
    expect(reply.lines[1]!.text).toBe("/x/bad.conf:1:46 syntax error, unexpected ';'");
  });
});

describe('parseProtocols on captured `show protocols all`', () => {
  const a = parseProtocols(onlyReply(fixture('show-protocols-all-a.txt')));
  const byName = (ps: readonly BirdProtocol[], n: string): BirdProtocol => ps.find((p) => p.name === n)!;

  it('reads every protocol with its summary columns', () => {
    expect(a.map((p) => [p.name, p.proto, p.table, p.state])).toEqual([
      ['device1', 'Device', '---', 'up'],
      ['kernel1', 'Kernel', 'master4', 'up'],
      ['st', 'Static', 'master4', 'up'],
      ['Mesh_10_212_0_2', 'BGP', '---', 'up'],
      ['Node_10_212_0_3', 'BGP', '---', 'start'],
    ]);
    for (const p of a) expect(p.since).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);
    expect(byName(a, 'device1')).toMatchObject({ info: '', channels: [] });
  });

  it('reads an Established BGP session: neighbour, ASNs, routes', () => {
    const mesh = byName(a, 'Mesh_10_212_0_2');
    expect(mesh.info).toBe('Established');
    expect(mesh.bgp).toEqual({
      state: 'Established',
      neighborAddress: '10.212.0.2',
      neighborAs: 65002,
      localAs: 65001,
      neighborId: '10.212.0.2',
      sourceAddress: '10.212.0.1',
    });
    expect(mesh.channels).toEqual([
      {
        name: 'ipv4',
        state: 'UP',
        table: 'master4',
        routes: { imported: 1, filtered: 0, exported: 2, preferred: 1 },
      },
    ]);
    expect(mesh.routes).toEqual({ imported: 1, filtered: 0, exported: 2, preferred: 1 });
  });

  it('reads the last error of a wrong-ASN session on both sides', () => {
    const bad = byName(a, 'Node_10_212_0_3');
    expect(bad.info).toBe('Idle BGP Error: Bad peer AS');
    expect(bad.bgp).toMatchObject({ state: 'Idle', neighborAs: 65003, lastError: 'BGP Error: Bad peer AS' });
    expect(bad.channels[0]).toMatchObject({ name: 'ipv4', state: 'DOWN' });
    expect(bad.routes).toBeUndefined();
    const c = parseProtocols(onlyReply(fixture('show-protocols-all-c.txt')));
    expect(byName(c, 'Node_10_212_0_1').bgp).toMatchObject({
      localAs: 65099,
      lastError: 'Received: Bad peer AS',
    });
  });

  it('reads kernel and static channels', () => {
    expect(byName(a, 'kernel1').channels[0]!.routes).toMatchObject({ imported: 0, exported: 3 });
    expect(byName(a, 'st').routes).toMatchObject({ imported: 2, preferred: 2 });
  });

  it('accepts `show protocols` without details, and a date-and-time since column', () => {
    const ps = parseProtocols(
      onlyReply(
        '2002-Name       Proto      Table      State  Since         Info\n' +
          '1002-device1    Device     ---        up     2026-11-20  \n' +
          ' Global_10_0_0_9 BGP      ---        start  2026-11-20 10:00:01  Active        Socket: Connection refused\n' +
          '0000 \n',
      ),
    );
    expect(ps.map((p) => [p.name, p.since, p.info])).toEqual([
      ['device1', '2026-11-20', ''],
      ['Global_10_0_0_9', '2026-11-20 10:00:01', 'Active Socket: Connection refused'],
    ]);
  });
});

describe('peer rows (calicoctl node status)', () => {
  it('maps name prefixes to peer types and keeps only our peers', () => {
    const a = parseProtocols(onlyReply(fixture('show-protocols-all-a.txt')));
    expect(
      peerRows(a).map((r) => [r.peerAddress, r.peerType, r.state, r.info, r.ipVersion, r.lastError]),
    ).toEqual([
      ['10.212.0.2', 'node-to-node mesh', 'up', 'Established', 4, undefined],
      ['10.212.0.3', 'node specific', 'start', 'Idle BGP Error: Bad peer AS', 4, 'BGP Error: Bad peer AS'],
    ]);
    const summary = { table: '---', state: 'up', since: '', info: '', channels: [] };
    const rows = peerRows([
      { ...summary, name: 'Global_fd00_1__2', proto: 'BGP' },
      { ...summary, name: 'Local_Workload_10_65_0_7', proto: 'BGP' },
      { ...summary, name: 'Node_10_0_0_1_port_1790', proto: 'BGP' },
      { ...summary, name: 'upstream', proto: 'BGP' },
      { ...summary, name: 'Mesh_not_bgp', proto: 'Static' },
    ]);
    expect(rows.map((r) => [r.peerAddress, r.peerType, r.ipVersion])).toEqual([
      ['fd00:1::2', 'global', 6],
      ['10.65.0.7', 'local workload', 4],
      ['10.0.0.1', 'node specific', 4],
    ]);
  });

  it('decodes addresses from protocol names', () => {
    expect(addressFromName('192_168_56_101')).toBe('192.168.56.101');
    expect(addressFromName('fd80_24e2_f998_72d7__2')).toBe('fd80:24e2:f998:72d7::2');
  });
});

describe('show status and the node status text', () => {
  const status = parseStatus(onlyReply(fixture('show-status.txt')));

  it('parses show status', () => {
    expect(status).toMatchObject({
      version: 'BIRD 2.0.12',
      routerId: '10.212.0.1',
      hostname: 'vm',
      message: 'Daemon is up and running',
    });
    expect(status.lastReconfiguration).toMatch(/^2026-11-23 /);
  });

  it('renders the calicoctl-style tables', () => {
    const a = parseProtocols(onlyReply(fixture('show-protocols-all-a.txt')));
    const text = renderBird({ ...status, lastReconfiguration: '2026-11-23 09:00:00.000' }, peerRows(a));
    const since = (n: string) => a.find((p) => p.name === n)!.since;
    expect(text).toBe(
      [
        'BIRD is running (BIRD 2.0.12, router ID 10.212.0.1): daemon is up and running.',
        'Last reconfiguration on 2026-11-23 09:00:00.000.',
        '',
        'IPv4 BGP status',
        '+--------------+-------------------+-------+--------------+-----------------------------+',
        '| PEER ADDRESS |     PEER TYPE     | STATE |    SINCE     |            INFO             |',
        '+--------------+-------------------+-------+--------------+-----------------------------+',
        `| 10.212.0.2   | node-to-node mesh | up    | ${since('Mesh_10_212_0_2')} | Established                 |`,
        `| 10.212.0.3   | node specific     | start | ${since('Node_10_212_0_3')} | Idle BGP Error: Bad peer AS |`,
        '+--------------+-------------------+-------+--------------+-----------------------------+',
        '',
        'IPv6 BGP status',
        'No IPv6 peers found.',
        '',
      ].join('\n'),
    );
  });
});
