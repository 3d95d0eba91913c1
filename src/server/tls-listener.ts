// DNS over TLS listeners (tls:// server keys, RFC 7858): a TLS server whose
// decrypted sockets go to the same TCP connection handler as plain TCP, so
// framing, limits and pipelining are the same.

import type net from 'node:net';
import tls from 'node:tls';
import { log } from '../log.js';

/** CoreDNS's client_auth values (Go's tls.ClientAuthType). */
export const CLIENT_AUTH = ['nocert', 'request', 'require', 'verify_if_given', 'require_and_verify'] as const;
export type ClientAuth = (typeof CLIENT_AUTH)[number];

/** What the tls plugin gives a tls:// block. */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  /** Client certificates are verified against it; absent: the system roots. */
  ca?: Buffer;
  clientAuth: ClientAuth;
}

const secureOptions = (t: ServerTls): tls.SecureContextOptions => ({ cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca } : {}) });

/**
 * A TLS server handing every socket that passes the handshake and the
 * client_auth policy to `onSocket`. `current()` is read per connection, so
 * a reload's new policy applies to the next connection.
 */
export function createTlsServer(current: () => ServerTls, handshakeTimeoutMs: number, onSocket: (sock: net.Socket) => void): tls.Server {
  const t = current();
  // Node verifies during the handshake only when rejectUnauthorized; the
  // softer policies are checked once the handshake is done.
  const srv = tls.createServer({
    ...secureOptions(t),
    requestCert: t.clientAuth !== 'nocert',
    rejectUnauthorized: t.clientAuth === 'require_and_verify',
    handshakeTimeout: handshakeTimeoutMs,
    allowHalfOpen: true,
    noDelay: true,
  });
  srv.on('secureConnection', (sock) => {
    const why = refusal(sock, current().clientAuth);
    if (why !== null) {
      log('debug', 'server', 'tls client refused', { client: sock.remoteAddress ?? '', why });
      sock.destroy();
      return;
    }
    onSocket(sock);
  });
  // A client that does not speak TLS, or fails our certificate checks: its connection ends, nothing else.
  srv.on('tlsClientError', (err, sock) => {
    log('debug', 'server', 'tls handshake failed', { client: sock.remoteAddress ?? '', err: err.message });
    sock.destroy();
  });
  return srv;
}

/** Why a handshaken client is refused under `mode`, or null. */
function refusal(sock: tls.TLSSocket, mode: ClientAuth): string | null {
  if (mode === 'nocert' || mode === 'request') return null;
  const given = Object.keys(sock.getPeerCertificate()).length > 0;
  if (!given) return mode === 'verify_if_given' ? null : 'no client certificate';
  if (mode === 'require') return null;
  return sock.authorized ? null : `client certificate not verified: ${String(sock.authorizationError)}`;
}

/** A reload's new certificates: connections from now on use them. */
export function refreshTlsServer(srv: net.Server, t: ServerTls): void {
  if (srv instanceof tls.Server) srv.setSecureContext(secureOptions(t));
}
