// Mutual TLS on the sync port, with a PKI made for the test: agents with per-node
// certificates sync; wrong CA, expired, missing or unlisted certificates, plain TCP and
// garbage are refused at the handshake and counted by reason; the agent checks the server's
// name; certificates rotated on disk are picked up without dropping live connections.

import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/client/sync-client.js';
import type { ClientTlsOptions } from '../../src/client/tls.js';
import { silentLogger } from '../../src/model/logger.js';
import { TlsMaterial } from '../../src/server/tls.js';
import { type Ca, issue, makeCa, type Pem, writePems } from '../harness/pki.js';
import { type Stack, startStack, waitFor } from '../harness/stack.js';

const HOUR = 3_600_000;
let ca: Ca;
let otherCa: Ca;
let serverPem: Pem;
let files: Record<string, string> & { dir: string };
let stack: Stack | undefined;
const clients: SyncClient[] = [];

beforeAll(async () => {
  ca = await makeCa('tabby-ca');
  otherCa = await makeCa('someone-else');
  serverPem = await issue(ca, {
    cn: 'tabby',
    dns: ['tabby.test'],
    uris: ['spiffe://test/ns/tabby/sa/tabby'],
  });
  files = writePems({ 'server.crt': serverPem.cert, 'server.key': serverPem.key, 'ca.crt': ca.cert });
});
afterAll(async () => {
  await rm(files.dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  await stack?.stop();
  stack = undefined;
});

function material(reloadIntervalMs = 60_000): TlsMaterial {
  return new TlsMaterial({
    certFile: files['server.crt']!,
    keyFile: files['server.key']!,
    clientCaFile: files['ca.crt']!,
    allowedClientCns: ['system:node:{node}'],
    allowedClientUriSans: ['spiffe://test/node/{node}', 'spiffe://test/ns/tabby/pod/{pod}'],
    reloadIntervalMs,
  });
}

async function agentFiles(pem: Pem, serverName = 'tabby.test'): Promise<ClientTlsOptions> {
  const f = writePems({ 'agent.crt': pem.cert, 'agent.key': pem.key, 'ca.crt': ca.cert });
  return { certFile: f['agent.crt']!, keyFile: f['agent.key']!, caFile: f['ca.crt']!, serverName };
}

function client(address: string, hostname: string, tls?: ClientTlsOptions): SyncClient {
  const c = new SyncClient({
    addresses: [address],
    syncer: 'felix',
    hostname,
    log: silentLogger,
    backoff: { initialMs: 50, maxMs: 200, multiplier: 2, jitter: 0 },
    ...(tls ? { tls } : {}),
  });
  clients.push(c);
  c.start();
  return c;
}

async function started(): Promise<Stack> {
  stack = await startStack({ tls: material() });
  stack.router.onUpdates([{ key: '/calico/v1/config/LogSeverityScreen', value: 'Info' }]);
  stack.router.onStatus('in-sync');
  return stack;
}

const failures = (s: Stack) => Object.fromEntries(s.server.stats.tlsFailures.entries());

describe('mutual TLS', () => {
  it('syncs an agent with a per-node certificate and binds the connection to its node', async () => {
    const s = await started();
    const byUri = await agentFiles(await issue(ca, { cn: 'agent', uris: ['spiffe://test/node/node-a'] }));
    const byCn = await agentFiles(await issue(ca, { cn: 'system:node:node-b' }));
    const a = client(s.address, 'node-a', byUri);
    const b = client(s.address, 'node-b', byCn);
    await waitFor(() => a.status === 'in-sync' && b.status === 'in-sync', 10_000, 'both in sync');
    expect(a.state.get('/calico/v1/config/LogSeverityScreen')).toBe('Info');
    const identities = [...s.server.connections()].map((c) => c.identity?.node).sort();
    expect(identities).toEqual(['node-a', 'node-b']);
    expect(failures(s)).toEqual({});
  });

  it('refuses bad certificates, plain TCP and garbage at the handshake, each counted by reason', async () => {
    const s = await started();
    const cases: [string, ClientTlsOptions | undefined][] = [
      ['unknown-ca', await agentFiles(await issue(otherCa, { cn: 'system:node:x' }))],
      [
        'expired',
        await agentFiles(
          await issue(ca, {
            cn: 'system:node:y',
            notBefore: new Date(Date.now() - 2 * HOUR),
            notAfter: new Date(Date.now() - HOUR),
          }),
        ),
      ],
      ['not-allowed', await agentFiles(await issue(ca, { cn: 'mallory' }))],
      ['not-tls', undefined],
    ];
    for (const [reason, tls] of cases) {
      const c = client(s.address, 'node-x', tls);
      await waitFor(() => (s.server.stats.tlsFailures.get(reason) ?? 0) > 0, 10_000, reason);
      expect(c.status).not.toBe('in-sync');
      await c.stop();
    }
    // A TLS client without any certificate.
    const bare = tlsConnect({
      host: '127.0.0.1',
      port: Number(s.address.split(':')[1]),
      ca: ca.cert,
      servername: 'tabby.test',
    });
    bare.on('error', () => {});
    await waitFor(() => s.server.stats.tlsFailures.get('no-certificate') > 0, 10_000, 'no-certificate');
    bare.destroy();
    // Garbage: an HTTP request on the sync port.
    const g = netConnect(Number(s.address.split(':')[1]), '127.0.0.1', () =>
      g.write('GET / HTTP/1.1\r\n\r\n'),
    );
    g.on('error', () => {});
    await waitFor(() => s.server.stats.tlsFailures.get('not-tls') >= 2, 10_000, 'garbage counted');
    g.destroy();
    // None of them became a sync connection.
    expect([...s.server.connections()].filter((c) => c.syncer !== undefined)).toEqual([]);
  });

  it('the agent refuses a server whose certificate does not carry the expected name', async () => {
    const s = await started();
    const pem = await issue(ca, { cn: 'system:node:node-a' });
    const wrongDns = client(s.address, 'node-a', await agentFiles(pem, 'other.test'));
    const wrongUri = client(s.address, 'node-a', await agentFiles(pem, 'spiffe://test/ns/other/sa/x'));
    const rightUri = client(s.address, 'node-a', await agentFiles(pem, 'spiffe://test/ns/tabby/sa/tabby'));
    await waitFor(() => rightUri.status === 'in-sync', 10_000, 'URI SAN match syncs');
    await new Promise((r) => setTimeout(r, 500));
    expect(wrongDns.status).not.toBe('in-sync');
    expect(wrongUri.status).not.toBe('in-sync');
  });

  it('picks up a rotated server certificate without dropping live connections', async () => {
    stack = await startStack({ tls: material(50) });
    const s = stack;
    s.router.onStatus('in-sync');
    const agent = client(
      s.address,
      'node-a',
      await agentFiles(await issue(ca, { cn: 'system:node:node-a' })),
    );
    await waitFor(() => agent.status === 'in-sync', 10_000, 'in sync');
    const liveSocket = [...s.server.connections()][0]!.socket;
    const port = Number(s.address.split(':')[1]);
    const serial = () =>
      new Promise<string>((resolve, reject) => {
        const sock = tlsConnect({ host: '127.0.0.1', port, ca: ca.cert, servername: 'tabby.test' }, () => {
          resolve(sock.getPeerCertificate().serialNumber);
          sock.destroy();
        });
        sock.on('error', reject);
      });
    const before = await serial();
    const next = await issue(ca, { cn: 'tabby', dns: ['tabby.test'] });
    // A half-written set (new certificate, old key) is not loaded...
    writeFileSync(files['server.crt']!, next.cert);
    await waitFor(() => s.server.stats.tlsReloads.get('failed') > 0, 10_000, 'failed reload counted');
    expect(await serial()).toBe(before);
    // ...the complete one is.
    writeFileSync(files['server.key']!, next.key);
    await waitFor(() => s.server.stats.tlsReloads.get('ok') > 0, 10_000, 'reload');
    expect(await serial()).not.toBe(before);
    expect(liveSocket.destroyed).toBe(false);
    expect(agent.connected).toBe(true);
    // Put the original files back for the other tests.
    writeFileSync(files['server.crt']!, serverPem.cert);
    writeFileSync(files['server.key']!, serverPem.key);
  });

  it('uses an agent certificate rotated on disk from its next connection on', async () => {
    const s = await started();
    const first = await issue(ca, { cn: 'system:node:node-a' });
    const tls = await agentFiles(first);
    const agent = client(s.address, 'node-a', tls);
    await waitFor(() => agent.status === 'in-sync', 10_000, 'in sync');
    const peerSerial = () => {
      const c = [...s.server.connections()].find((x) => x.syncer !== undefined);
      return c ? (c.socket as TLSSocket).getPeerCertificate().serialNumber : undefined;
    };
    const before = peerSerial();
    const next = await issue(ca, { cn: 'system:node:node-a' });
    writeFileSync(tls.certFile, next.cert);
    writeFileSync(tls.keyFile, next.key);
    agent.dropConnection();
    await waitFor(
      () => {
        const now = peerSerial();
        return now !== undefined && now !== before && agent.status === 'in-sync';
      },
      10_000,
      'reconnected with the new certificate',
    );
  });
});
