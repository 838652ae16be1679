// A TLS client that writes raw bytes and records what comes back and when the server closed: for tests of what the
// proxy does with malformed, slow or oversized requests, and for Outlook Anywhere channels (binary both ways).
import { connect, type ConnectionOptions } from 'node:tls';
import { testCertificates } from './gateway-harness.js';

export interface RawTls {
  write(data: string | Buffer): boolean;
  /** What arrived (since the last clear()), as bytes and as latin1 text. */
  received(): Buffer;
  text(): string;
  /** Forgets what arrived so far (the next answer on the connection is read from its start). */
  clear(): void;
  /** The server ended or reset the connection. */
  closed(): boolean;
  /** ms since the connection was established when the server ended or reset it; undefined while open. */
  closedAfter(): number | undefined;
  /** The connection ended with a reset (or a write into a closed connection failed). */
  reset(): boolean;
  destroy(): void;
}

/** `localAddress`: the client's source address (any 127.x.y.z on loopback), for per-address rules. */
export function openTls(port: number, { localAddress }: { localAddress?: string } = {}): Promise<RawTls> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    let closedAt: number | undefined;
    let wasReset = false;
    let openedAt = 0;
    // tls.connect passes net's localAddress on to the TCP socket (its type leaves it out).
    const options = { port, host: '127.0.0.1', localAddress, ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' } as ConnectionOptions;
    const socket = connect(options, () => {
      openedAt = Date.now();
      resolve({
        write: (d) => (socket.destroyed ? false : socket.write(d)),
        received: () => data,
        text: () => data.toString('latin1'),
        clear: () => (data = Buffer.alloc(0)),
        closed: () => closedAt !== undefined,
        closedAfter: () => (closedAt === undefined ? undefined : closedAt - openedAt),
        reset: () => wasReset,
        destroy: () => socket.destroy(),
      });
    });
    socket.on('data', (c: Buffer) => (data = Buffer.concat([data, c])));
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
