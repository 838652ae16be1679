// TLS session resumption as a client sees it: one connection with an HTTP request on it (TLS 1.3 tickets arrive
// only after the handshake; the request makes the server send them before it closes), offering a session or not.
import tls from 'node:tls';
import { testCertificates } from './gateway-harness.js';

/** Resolves with the session to resume next (the last ticket) and whether this connection resumed. */
export function handshake(port: number, version: tls.SecureVersion, session?: Buffer): Promise<{ session: Buffer; reused: boolean }> {
  return new Promise((resolve, reject) => {
    // A resumed TLS 1.2 session may get no new ticket: the one offered stays valid.
    let ticket: Buffer | undefined = session;
    let reused = false;
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'mail.contoso.lab',
      ca: testCertificates().ca.certPem,
      minVersion: version,
      maxVersion: version,
      ...(session ? { session } : {}),
    });
    socket.on('session', (s: Buffer) => (ticket = s));
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.write('GET /owa/healthcheck.htm HTTP/1.1\r\nHost: mail.contoso.lab\r\nConnection: close\r\n\r\n');
    });
    socket.on('data', () => undefined);
    socket.once('error', reject);
    socket.once('close', () => (ticket ? resolve({ session: ticket, reused }) : reject(new Error('no session ticket received'))));
  });
}
