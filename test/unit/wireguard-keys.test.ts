import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deviceMatches, parseDump, renderConf } from '../../src/agent/dataplane/wireguard/conf.js';
import { generatePrivateKey, KeyStore, publicKeyOf } from '../../src/agent/dataplane/wireguard/keys.js';
import type { Logger } from '../../src/model/logger.js';

/** A logger that keeps every argument, to prove no private key is ever logged. */
function recordingLogger(): Logger & { text(): string } {
  const lines: unknown[] = [];
  const log: Logger & { text(): string } = {
    debug: (...a) => lines.push(a),
    info: (...a) => lines.push(a),
    warn: (...a) => lines.push(a),
    error: (...a) => lines.push(a),
    child: () => log,
    text: () => JSON.stringify(lines),
  };
  return log;
}

const dirs: string[] = [];
const tmp = async () => {
  const d = await mkdtemp(path.join(os.tmpdir(), 'twg-keys-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const hasWg = (() => {
  try {
    execFileSync('wg', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

describe('WireGuard keys', () => {
  it('derives X25519 public keys (RFC 7748 §6.1 vector)', () => {
    const alice = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
    expect(Buffer.from(publicKeyOf(alice), 'base64').toString('hex')).toBe(
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    );
  });

  it('agrees with `wg pubkey` on generated keys', () => {
    if (!hasWg) {
      console.warn('*** wg not installed: comparing with `wg pubkey` SKIPPED (RFC vector still checked) ***');
      return;
    }
    for (let i = 0; i < 3; i++) {
      const k = generatePrivateKey();
      const wg = execFileSync('wg', ['pubkey'], { input: `${k.toString('base64')}\n` })
        .toString()
        .trim();
      expect(publicKeyOf(k)).toBe(wg);
    }
  });

  it('creates the key file with mode 0600 in a 0700 directory, reuses it, never logs it', async () => {
    const dir = path.join(await tmp(), 'sub');
    const file = path.join(dir, 'wireguard.key');
    const log = recordingLogger();
    const a = await new KeyStore(file, log).load();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const b = await new KeyStore(file, log).load();
    expect(b.publicKey).toBe(a.publicKey);
    const priv = (await readFile(file, 'utf8')).trim();
    expect(publicKeyOf(Buffer.from(priv, 'base64'))).toBe(a.publicKey);
    expect(log.text()).not.toContain(priv);
  });

  it('regenerates a malformed key and says so; tightens a readable file to 0600', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'k');
    await writeFile(file, 'not a key\n', { mode: 0o600 });
    const log = recordingLogger();
    const k = await new KeyStore(file, log).load();
    expect(log.text()).toMatch(/malformed; generated a new one/);
    await writeFile(file, `${generatePrivateKey().toString('base64')}\n`);
    await chmod(file, 0o644);
    const log2 = recordingLogger();
    const k2 = await new KeyStore(file, log2).load();
    expect(k2.publicKey).not.toBe(k.publicKey);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(log2.text()).toMatch(/readable by others/);
  });

  it('rotates through a pending key that becomes active on commit', async () => {
    const file = path.join(await tmp(), 'k');
    const store = new KeyStore(file, recordingLogger());
    const old = await store.load();
    const next = await store.prepareRotation();
    expect(next.publicKey).not.toBe(old.publicKey);
    expect((await stat(next.file)).mode & 0o777).toBe(0o600);
    expect(store.active?.publicKey).toBe(old.publicKey);
    await store.commitRotation();
    expect(store.active?.publicKey).toBe(next.publicKey);
    expect(store.pending).toBeUndefined();
    expect((await new KeyStore(file, recordingLogger()).load()).publicKey).toBe(next.publicKey);
  });
});

describe('wg conf and dump', () => {
  const k1 = publicKeyOf(Buffer.alloc(32, 1));
  const k2 = publicKeyOf(Buffer.alloc(32, 2));
  const dump = [
    ['PRIVATE', k1, '51820', '0x100000'].join('\t'),
    [k2, '(none)', '10.0.0.2:51820', '10.65.2.0/26,10.65.3.5/32', '1700000000', '1234', '5678', 'off'].join(
      '\t',
    ),
    '',
  ].join('\n');

  it('parses the dump and drops the private key', () => {
    const d = parseDump(dump);
    expect(JSON.stringify(d)).not.toContain('PRIVATE');
    expect(d).toEqual({
      publicKey: k1,
      listenPort: 51820,
      firewallMark: 0x100000,
      peers: [
        {
          publicKey: k2,
          hasPresharedKey: false,
          endpoint: '10.0.0.2:51820',
          allowedIps: ['10.65.2.0/26', '10.65.3.5/32'],
          latestHandshake: 1700000000,
          rxBytes: 1234,
          txBytes: 5678,
          persistentKeepaliveSeconds: 0,
        },
      ],
    });
  });

  it('matches only the exact desired device (order of allowed IPs aside)', () => {
    const desired = {
      publicKey: k1,
      listenPort: 51820,
      firewallMark: 0x100000,
      peers: [
        {
          publicKey: k2,
          endpoint: '10.0.0.2:51820',
          allowedIps: ['10.65.3.5/32', '10.65.2.0/26'],
          persistentKeepaliveSeconds: 0,
        },
      ],
    };
    const d = parseDump(dump);
    expect(deviceMatches(desired, d)).toBe(true);
    expect(deviceMatches({ ...desired, listenPort: 51821 }, d)).toBe(false);
    expect(deviceMatches({ ...desired, peers: [] }, d)).toBe(false);
    expect(deviceMatches({ ...desired, publicKey: k2 }, d)).toBe(false);
    expect(
      deviceMatches({ ...desired, peers: [{ ...desired.peers[0]!, allowedIps: ['10.65.2.0/26'] }] }, d),
    ).toBe(false);
    const conf = renderConf(desired, 'PRIV');
    expect(conf).toContain('PrivateKey = PRIV\nListenPort = 51820\nFwMark = 0x100000\n');
    expect(conf).toContain(
      `[Peer]\nPublicKey = ${k2}\nEndpoint = 10.0.0.2:51820\nAllowedIPs = 10.65.3.5/32, 10.65.2.0/26\n`,
    );
  });
});
