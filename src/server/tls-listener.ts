// The TLS front of the sync port: a tls.Server that admits each client after its handshake
// (or refuses it with a reason, counted and logged at a bounded rate), hands admitted sockets
// to the server with their identity, and swaps in changed certificate files as they appear.

import type { Server } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from '../model/logger.js';
import type { RateLimitedLog } from '../model/rate-limited-log.js';
import { encodeMessage } from '../protocol/codec.js';
import { CloseCode } from '../protocol/errors.js';
import { MsgType } from '../protocol/messages.js';
import type { ConnectionIdentity } from './connection.js';
import type { ServerStats } from './stats.js';
import { admit, classifyHandshakeError, TlsConfigError, type TlsMaterial } from './tls.js';

export interface TlsListenerDeps {
  handshakeTimeoutMs: number;
  /** Sockets the listener holds at most, TLS handshakes in progress included. */
  maxSockets: number;
  closeLingerMs: number;
  stats: ServerStats;
  log: Logger;
  limitedLog: RateLimitedLog;
  attach(socket: TLSSocket, identity: ConnectionIdentity): void;
}

/** The listener, and a stop() for its reload timer. */
export function createTlsListener(tls: TlsMaterial, d: TlsListenerDeps): { server: Server; stop(): void } {
  const srv = createTlsServer(
    {
      ...tls.contextOptions,
      requestCert: true,
      // Verified by admit() after the handshake, so a refusal carries its precise reason.
      rejectUnauthorized: false,
      handshakeTimeout: d.handshakeTimeoutMs,
      noDelay: true,
    },
    (socket: TLSSocket) => {
      const { result, failure } = admit(socket, tls.policy);
      if (result.ok) {
        d.attach(socket, result.identity);
        return;
      }
      d.stats.tlsFailures.inc(failure!);
      d.limitedLog.warn(
        `tls:${failure}`,
        { remote: `${socket.remoteAddress}:${socket.remotePort}`, reason: failure, err: result.why },
        'TLS client refused',
      );
      // The handshake is done, so the peer can be told why before the connection ends.
      socket.on('error', () => {});
      socket.end(
        encodeMessage({
          type: MsgType.Goodbye,
          body: { code: CloseCode.Unauthenticated, message: result.why },
        }),
      );
      setTimeout(() => socket.destroy(), d.closeLingerMs).unref();
    },
  );
  // Handshakes in progress are not yet the server's connections: bound them here (a socket
  // beyond this is closed by Node at accept).
  srv.maxConnections = d.maxSockets;
  srv.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    const reason = classifyHandshakeError(err);
    d.stats.tlsFailures.inc(reason);
    d.limitedLog.warn(
      `tls:${reason}`,
      { remote: `${socket.remoteAddress}:${socket.remotePort}`, reason, err: err.message },
      'TLS handshake failed',
    );
  });
  d.stats.tlsCertNotAfterMs = tls.notAfterMs;
  const reloader = setInterval(() => {
    try {
      if (!tls.reload()) return;
      srv.setSecureContext(tls.contextOptions);
      d.stats.tlsCertNotAfterMs = tls.notAfterMs;
      d.stats.tlsReloads.inc('ok');
      d.log.info(
        { notAfter: new Date(tls.notAfterMs).toISOString() },
        'TLS files changed: new connections use the new certificate',
      );
    } catch (err) {
      if (!(err instanceof TlsConfigError)) throw err;
      d.stats.tlsReloads.inc('failed');
      d.log.warn({ err: err.message }, 'TLS files changed but cannot be used: keeping the previous set');
    }
  }, tls.o.reloadIntervalMs);
  reloader.unref();
  return { server: srv as unknown as Server, stop: () => clearInterval(reloader) };
}
