// Backend TLS for SSL bridging (MRSProxy always; any pool with `mode: bridge`). Verification is on by default:
// against a CA file, or against a pinned SHA-256 fingerprint (Exchange's self-signed back-end certificate).
// Turning it off takes `insecure: true`, which the gateway logs as a warning at start.
import type { TLSSocket } from 'node:tls';
import { buildConnector } from 'undici';
import type { UpstreamTlsConfig } from '../config/schema.js';

export class PinMismatchError extends Error {
  readonly code = 'CASGATE_PIN_MISMATCH';
  constructor(readonly host: string, readonly expected: string, readonly actual: string) {
    super(`certificate of ${host} has SHA-256 fingerprint ${actual}, pinned ${expected}`);
  }
}

/** `AB:CD:...` → `ABCD...`, upper case. */
export function normalizeFingerprint(fp: string): string {
  return fp.replace(/[:\s]/g, '').toUpperCase();
}

/**
 * An undici connector for one backend. `caPem` is the content of `tls.ca`, read once when the config was
 * provisioned (a file read here would fail on a connection, long after `casgate check` said yes). With a pin, the chain is not checked (the certificate is usually
 * self-signed); the connection is accepted only if the leaf's fingerprint equals the pin. Node calls
 * checkServerIdentity only after a chain verified, so the pin is checked here, on the connected socket.
 */
export function upstreamConnector(tls: UpstreamTlsConfig, host: string, caPem?: string): buildConnector.connector {
  const servername = tls.servername ?? (isIpLiteral(host) ? undefined : host);
  const pin = tls.fingerprint256 ? normalizeFingerprint(tls.fingerprint256) : undefined;
  const base = buildConnector({
    ca: caPem,
    servername,
    rejectUnauthorized: !tls.insecure && !pin,
    minVersion: 'TLSv1.2',
    ALPNProtocols: ['http/1.1'],
    timeout: 10_000,
    // A resumed TLS session carries no peer certificate, so a pin could not be checked on it: with a pin, every
    // connection does a full handshake (otherwise each reconnect failed with an empty fingerprint).
    ...(pin ? { maxCachedSessions: 0 } : {}),
  });
  if (!pin) return base;
  return (opts, callback) =>
    base(opts, (err, socket) => {
      if (err || !socket) return callback(err ?? new Error('connect failed'), null);
      const actual = normalizeFingerprint((socket as TLSSocket).getPeerCertificate().fingerprint256 ?? '');
      if (actual !== pin) {
        socket.destroy();
        return callback(new PinMismatchError(`${host}:${opts.port}`, pin, actual), null);
      }
      callback(null, socket);
    });
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
