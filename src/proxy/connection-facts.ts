// What a request's record needs from its client connection that is the same for every request on it: the addresses,
// the TLS version and the SNI name. Each is a call into the socket's native handle (getpeername, getsockname,
// SSL_get_version...), so they are read once per connection and kept on the socket: Exchange clients send many
// requests per connection, and on a new connection every call runs on cold caches (bench/peers handshake profile).
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { unmappedIp } from './address-check.js';

export interface ConnectionFacts {
  /** The client's address as Node reports it, `::ffff:` stripped from IPv4-mapped addresses. */
  readonly clientIp: string;
  /** casgate's own address and port on this connection (IIS s-ip, s-port). */
  readonly serverIp: string;
  readonly serverPort: number;
  readonly tlsVersion: string | undefined;
  readonly sni: string | undefined;
  /**
   * socket.bytesRead and bytesWritten at the end of the connection's previous request (keep-alive connections carry
   * many): a request's bytes are the difference at its end.
   */
  bytesRead: number;
  bytesWritten: number;
}

const kFacts = Symbol('casgate.connectionFacts');

export function connectionFacts(socket: Socket): ConnectionFacts {
  const held = socket as Socket & { [kFacts]?: ConnectionFacts };
  let facts = held[kFacts];
  if (!facts) {
    const tls = socket as TLSSocket;
    facts = {
      clientIp: unmappedIp(socket.remoteAddress),
      serverIp: unmappedIp(socket.localAddress),
      serverPort: socket.localPort ?? 0,
      tlsVersion: tls.encrypted ? (tls.getProtocol() ?? undefined) : undefined,
      sni: tls.encrypted && typeof tls.servername === 'string' ? tls.servername : undefined,
      bytesRead: 0,
      bytesWritten: 0,
    };
    held[kFacts] = facts;
  }
  return facts;
}
