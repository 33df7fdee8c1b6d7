import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { IdentityPolicy } from '../../src/server/peer-identity.js';

const cert = (cn: string | undefined, uris: string[] = []): PeerCertificate =>
  ({
    subject: cn === undefined ? {} : { CN: cn },
    subjectaltname: ['DNS:x.test', ...uris.map((u) => `URI:${u}`)].join(', '),
  }) as unknown as PeerCertificate;

describe('IdentityPolicy', () => {
  const policy = new IdentityPolicy(
    ['tabby-operator', 'system:node:{node}'],
    ['spiffe://td/node/{node}', 'spiffe://td/ns/tabby-system/pod/{pod}'],
  );

  it('binds {node} and {pod} matches; an exact match is a shared identity', () => {
    expect(policy.identify(cert('system:node:n1'))).toEqual({
      ok: true,
      identity: { subject: 'CN=system:node:n1', node: 'n1' },
    });
    expect(policy.identify(cert('agent', ['spiffe://td/ns/tabby-system/pod/tabby-agent-x7k2p']))).toEqual({
      ok: true,
      identity: { subject: 'spiffe://td/ns/tabby-system/pod/tabby-agent-x7k2p', pod: 'tabby-agent-x7k2p' },
    });
    expect(policy.identify(cert('tabby-operator'))).toEqual({
      ok: true,
      identity: { subject: 'CN=tabby-operator' },
    });
    // The named identity wins over a shared one in the same certificate.
    expect(policy.identify(cert('tabby-operator', ['spiffe://td/node/n2']))).toMatchObject({
      identity: { node: 'n2' },
    });
  });

  it('refuses what matches nothing, names that are not node names, and certificates naming two identities', () => {
    expect(policy.identify(cert('mallory')).ok).toBe(false);
    expect(policy.identify(cert(undefined, ['spiffe://td/node/'])).ok).toBe(false);
    expect(policy.identify(cert('system:node:Bad_Name')).ok).toBe(false);
    expect(policy.identify(cert('system:node:a/../b')).ok).toBe(false);
    expect(policy.identify(cert('system:node:n1', ['spiffe://td/node/n2']))).toMatchObject({
      ok: false,
      why: expect.stringContaining('more than one'),
    });
    expect(policy.identify(cert('x', ['spiffe://td/node/n1/extra'])).ok).toBe(false);
  });

  it('admits any verified certificate without allow-lists, with no node identity', () => {
    expect(new IdentityPolicy([], []).identify(cert('whoever'))).toEqual({
      ok: true,
      identity: { subject: 'CN=whoever' },
    });
  });

  it('rejects malformed entries at construction', () => {
    expect(() => new IdentityPolicy(['a{node}b{pod}'], [])).toThrow(/more than one placeholder/);
    expect(() => new IdentityPolicy(['system:node:*'], [])).toThrow(/placeholders are \{node\} and \{pod\}/);
    expect(() => new IdentityPolicy([''], [])).toThrow(/empty/);
  });
});
