// A TLS client that writes raw bytes and records what comes back and when the server closed: for tests of what the
// proxy does with malformed, slow or oversized requests.
import { connect } from 'node:tls';
import { testCertificates } from './gateway-harness.js';

export interface RawTls {
  write(data: string | Buffer): boolean;
  text(): string;
  /** ms since the connection was established when the server ended or reset it; undefined while open. */
  closedAfter(): number | undefined;
  /** The connection ended with a reset (or a write into a closed connection failed). */
  reset(): boolean;
  destroy(): void;
}

export function openTls(port: number): Promise<RawTls> {
  return new Promise((resolve, reject) => {
    let data = '';
    let closedAt: number | undefined;
    let wasReset = false;
    let openedAt = 0;
    const socket = connect({ port, host: '127.0.0.1', ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' }, () => {
      openedAt = Date.now();
      resolve({
        write: (d) => (socket.destroyed ? false : socket.write(d)),
        text: () => data,
        closedAfter: () => (closedAt === undefined ? undefined : closedAt - openedAt),
        reset: () => wasReset,
        destroy: () => socket.destroy(),
      });
    });
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
    socket.on('end', () => (closedAt ??= Date.now()));
    socket.on('close', () => (closedAt ??= Date.now()));
    socket.on('error', (err) => {
      wasReset = true;
      closedAt ??= Date.now();
      if (!openedAt) reject(err);
    });
  });
}

/** Writes `parts` one by one, `gapMs` apart, while the connection is open. */
export async function dribble(c: RawTls, parts: string[], gapMs: number): Promise<void> {
  for (const part of parts) {
    if (c.closedAfter() !== undefined) return;
    c.write(part);
    await new Promise((r) => setTimeout(r, gapMs));
  }
}
