// The sync port over mutual TLS: the server's certificate and the client CA come from files
// (cert-manager or any other issuer writes them), are re-read when they change without
// touching live connections, and every client is admitted or refused at the handshake with a
// reason that is logged and counted. A refused peer costs one handshake, nothing more.

import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { ErrorCode } from '../errors/codes.js';
import { TabbyError } from '../errors/tabby-error.js';
import { IdentityPolicy, type IdentityResult } from './peer-identity.js';

export interface ServerTlsOptions {
  certFile: string;
  keyFile: string;
  /** CA bundle that signs client certificates; clients without a certificate it verifies are refused. */
  clientCaFile: string;
  /** Admitted client certificate CNs; `{node}` or `{pod}` (once) stand for the client's name. */
  allowedClientCns: readonly string[];
  /** Admitted client URI SANs (SPIFFE IDs); placeholders as above. */
  allowedClientUriSans: readonly string[];
  /** How often the files are checked for a new version. */
  reloadIntervalMs: number;
}

export class TlsConfigError extends TabbyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.TlsConfig, message, options);
  }
}

/** `tabby_tls_failures_total{reason}` values. */
export const TlsFailure = {
  NotTls: 'not-tls',
  HandshakeTimeout: 'handshake-timeout',
  Handshake: 'handshake',
  NoCertificate: 'no-certificate',
  Expired: 'expired',
  NotYetValid: 'not-yet-valid',
  UnknownCa: 'unknown-ca',
  BadCertificate: 'bad-certificate',
  NotAllowed: 'not-allowed',
} as const;
export type TlsFailure = (typeof TlsFailure)[keyof typeof TlsFailure];

/** A failed handshake (`tlsClientError`) by cause. */
export function classifyHandshakeError(err: NodeJS.ErrnoException): TlsFailure {
  const code = err.code ?? '';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return TlsFailure.HandshakeTimeout;
  // A plain-TCP client or garbage: the first bytes are not a TLS record.
  if (
    /WRONG_VERSION_NUMBER|HTTP_REQUEST|HTTPS_PROXY_REQUEST|UNKNOWN_PROTOCOL|PACKET_LENGTH_TOO_LONG|RECORD_LENGTH_MISMATCH/.test(
      code,
    )
  )
    return TlsFailure.NotTls;
  return TlsFailure.Handshake;
}

const UNKNOWN_CA = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_SIGNATURE_FAILURE',
]);

export interface Admission {
  result: IdentityResult;
  /** Set when refused: the metric label. */
  failure?: TlsFailure;
}

/**
 * Admits a TLS socket after its handshake. The server asks for a certificate but lets the
 * handshake finish whatever it is (rejectUnauthorized: false), so that the refusal has a
 * precise reason (expired, unknown CA, not allowed) instead of a bare handshake alert.
 */
export function admit(socket: TLSSocket, policy: IdentityPolicy): Admission {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0)
    return { result: { ok: false, why: 'no client certificate' }, failure: TlsFailure.NoCertificate };
  if (!socket.authorized) {
    const code = String(socket.authorizationError ?? 'unknown');
    const failure =
      code === 'CERT_HAS_EXPIRED'
        ? TlsFailure.Expired
        : code === 'CERT_NOT_YET_VALID'
          ? TlsFailure.NotYetValid
          : UNKNOWN_CA.has(code)
            ? TlsFailure.UnknownCa
            : TlsFailure.BadCertificate;
    return { result: { ok: false, why: `client certificate rejected: ${code}` }, failure };
  }
  const result = policy.identify(cert);
  return result.ok ? { result } : { result, failure: TlsFailure.NotAllowed };
}

/** The files, as last loaded, and when the server certificate expires. */
export class TlsMaterial {
  readonly policy: IdentityPolicy;
  private digest = '';
  private opts: SecureContextOptions | undefined;
  /** Server certificate notAfter, ms since the epoch. */
  notAfterMs = 0;

  constructor(readonly o: ServerTlsOptions) {
    try {
      this.policy = new IdentityPolicy(o.allowedClientCns, o.allowedClientUriSans);
    } catch (err) {
      throw new TlsConfigError((err as Error).message, { cause: err });
    }
    this.reload();
  }

  /** Options for tls.createServer / setSecureContext. */
  get contextOptions(): SecureContextOptions {
    return this.opts!;
  }

  /**
   * Re-reads the files. Returns true when they changed and the new set is valid; throws
   * TlsConfigError when they cannot be read or do not make a context (the old set stays).
   */
  reload(): boolean {
    let cert: Buffer;
    let key: Buffer;
    let ca: Buffer;
    try {
      cert = readFileSync(this.o.certFile);
      key = readFileSync(this.o.keyFile);
      ca = readFileSync(this.o.clientCaFile);
    } catch (err) {
      throw new TlsConfigError(`cannot read TLS files: ${(err as Error).message}`, { cause: err });
    }
    const digest = createHash('sha256')
      .update(cert)
      .update('\0')
      .update(key)
      .update('\0')
      .update(ca)
      .digest('hex');
    if (digest === this.digest) return false;
    const opts: SecureContextOptions = { cert, key, ca, minVersion: 'TLSv1.2' };
    let notAfterMs: number;
    try {
      // Writers replace files one at a time: a key that does not match its certificate yet
      // fails here, and the next poll picks up the complete set.
      createSecureContext(opts);
      notAfterMs = Date.parse(new X509Certificate(cert).validTo);
    } catch (err) {
      throw new TlsConfigError(
        `TLS files ${this.o.certFile}, ${this.o.keyFile}, ${this.o.clientCaFile} do not make a valid set: ${(err as Error).message}`,
        { cause: err },
      );
    }
    this.digest = digest;
    this.opts = opts;
    this.notAfterMs = notAfterMs;
    return true;
  }
}
