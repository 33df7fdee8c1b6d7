// The agent's side of mutual TLS: its own certificate, the CA that signs the servers', and
// the name the server must prove. Files are read at every dial, so a certificate rotated on
// disk is used from the next connection on without a restart.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { type ConnectionOptions, checkServerIdentity, type PeerCertificate } from 'node:tls';
import { ErrorCode } from '../errors/codes.js';
import { TabbyError } from '../errors/tabby-error.js';

export interface ClientTlsOptions {
  certFile: string;
  keyFile: string;
  /** CA bundle that signs the servers' certificates. */
  caFile: string;
  /**
   * The identity the server must prove: a DNS name (checked against its DNS SANs, as HTTPS
   * does) or a URI (`spiffe://…`, checked against its URI SANs). Default: the dialled host.
   */
  serverName?: string;
}

export class ClientTlsError extends TabbyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.ClientTls, message, options);
  }
}

function uriSans(cert: PeerCertificate): string[] {
  return (cert.subjectaltname ?? '')
    .split(', ')
    .filter((e) => e.startsWith('URI:'))
    .map((e) => e.slice(4));
}

/** Options for tls.connect to `host`; throws ClientTlsError when the files cannot be read. */
export function tlsConnectOptions(o: ClientTlsOptions, host: string): ConnectionOptions {
  let cert: Buffer;
  let key: Buffer;
  let ca: Buffer;
  try {
    cert = readFileSync(o.certFile);
    key = readFileSync(o.keyFile);
    ca = readFileSync(o.caFile);
  } catch (err) {
    throw new ClientTlsError(`cannot read TLS files: ${(err as Error).message}`, { cause: err });
  }
  const expected = o.serverName ?? host;
  const byUri = expected.includes('://');
  return {
    cert,
    key,
    ca,
    minVersion: 'TLSv1.2',
    // SNI carries DNS names only (RFC 6066): not IP literals, not URIs.
    ...(!byUri && isIP(expected) === 0 ? { servername: expected } : {}),
    checkServerIdentity: (_host, peer) => {
      if (!byUri) return checkServerIdentity(expected, peer);
      if (uriSans(peer).includes(expected)) return undefined;
      return new Error(`server certificate does not carry URI SAN ${expected}`);
    },
  };
}
