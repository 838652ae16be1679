// What is known about one finished request: the engine fills it, the access log writes it, the metrics count it.
// It lives here, below proxy/, so that logging and admin read it without depending on the engine that makes it.
import type { FailureCode } from '../failure.js';

/** One finished request (or a client error answered before routing). */
export interface RequestRecord {
  /** performance.now() at the request head (the access log turns it into wall-clock time with timeOrigin). */
  startedAt: number;
  durationMs: number;
  /** The client: the TCP peer, or the address a trusted proxy named in X-Forwarded-For (then `peerIp` is the proxy's). */
  clientIp: string;
  /** The TCP peer, when it is a trusted proxy that named another client (listen.trustForwardedFrom). */
  peerIp?: string;
  /** casgate's own address and port on this connection (IIS s-ip, s-port). */
  serverIp: string;
  serverPort: number;
  method: string;
  url: string;
  host: string;
  httpVersion: string;
  status: number;
  bytesSent: number;
  /** Bytes read from the client connection for this request (head and body; IIS cs-bytes). */
  bytesReceived: number;
  route?: string;
  pool?: string;
  backend?: string;
  /** host:port of the backend of the last attempt. */
  backendAddress?: string;
  /** From the request head to the backend connection being ready, and to the backend's response head, ms. */
  upstreamConnectMs?: number;
  upstreamFirstByteMs?: number;
  attempts: number;
  pinned: boolean;
  error?: FailureCode;
  errorDetail?: string;
  userAgent?: string;
  referer?: string;
  /** TLS version and SNI name of the client connection. */
  tlsVersion?: string;
  sni?: string;
  /** Also sent to the CAS as X-Request-Id, so that one request is found in both logs. */
  requestId: string;
  /** Who the request authenticates as (`DOMAIN\user` or `user`), from Basic or an NTLM AUTHENTICATE message (or the
   * OWA form's username while exchange.authProtection is on; auth-identity.ts); later requests on an
   * NTLM-authenticated connection carry the connection's user. Never a password or hash. */
  user?: string;
}
