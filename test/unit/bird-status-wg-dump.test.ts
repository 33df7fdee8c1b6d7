// The `wg show NAME dump` parser behind `tabby node status --wireguard-interface`, and the
// WireGuard part of its text output.

import { describe, expect, it } from 'vitest';
import { parseWgDump, WgDumpError } from '../../src/agent/dataplane/wireguard/status.js';
import { renderWireguard } from '../../src/cli/node-status.js';

const PRIV = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const PUB = 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=';
const PEER1 = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const PEER2 = 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=';
const PSK = 'FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=';

const DUMP = [
  [PRIV, PUB, '51820', 'off'].join('\t'),
  [PEER1, '(none)', '10.0.0.2:51820', '10.65.1.0/26,10.65.1.64/32', '1700000000', '2048', '1536', 'off'].join(
    '\t',
  ),
  [PEER2, PSK, '(none)', '(none)', '0', '0', '0', '25'].join('\t'),
  '',
].join('\n');

describe('parseWgDump', () => {
  const wg = parseWgDump(DUMP);

  it('reads the interface and its peers, never the private or preshared keys', () => {
    expect(wg).toEqual({
      publicKey: PUB,
      listenPort: 51820,
      peers: [
        {
          publicKey: PEER1,
          hasPresharedKey: false,
          endpoint: '10.0.0.2:51820',
          allowedIps: ['10.65.1.0/26', '10.65.1.64/32'],
          latestHandshakeSec: 1700000000,
          rxBytes: 2048,
          txBytes: 1536,
        },
        {
          publicKey: PEER2,
          hasPresharedKey: true,
          allowedIps: [],
          rxBytes: 0,
          txBytes: 0,
          persistentKeepaliveSec: 25,
        },
      ],
    });
    expect(JSON.stringify(wg)).not.toContain(PRIV);
    expect(JSON.stringify(wg)).not.toContain(PSK);
  });

  it('reads a hex fwmark and rejects what is not a dump', () => {
    expect(parseWgDump(`${[PRIV, PUB, '0', '0xca6c'].join('\t')}\n`).fwmark).toBe(0xca6c);
    expect(() => parseWgDump('interface: wg0\n')).toThrow(WgDumpError);
    expect(() => parseWgDump(`${[PRIV, PUB, '1', 'off'].join('\t')}\n${PEER1}\tx\n`)).toThrow(/peer line 1/);
  });

  it('renders the peers with handshake age and transfer', () => {
    const text = renderWireguard({ interface: 'wg-tabby', ...wg }, 1700000125);
    expect(text.split('\n')[0]).toBe(
      `WireGuard status (interface wg-tabby, public key ${PUB}, listening port 51820)`,
    );
    expect(text).toContain(
      `| ${PEER1} | 10.0.0.2:51820 | 10.65.1.0/26, 10.65.1.64/32 | 2 min 5 s ago    | 2.0 KiB  | 1.5 KiB |`,
    );
    expect(text).toContain(
      `| ${PEER2} | (none)         | (none)                      | never            | 0 B      | 0 B     |`,
    );
    expect(renderWireguard({ interface: 'wg0', error: 'Unable to access interface: No such device' })).toBe(
      'WireGuard status (interface wg0)\nCannot read it: Unable to access interface: No such device\n',
    );
  });
});
