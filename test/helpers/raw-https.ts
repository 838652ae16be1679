// A client that writes bytes exactly as given over TLS (curl and undici normalise paths, refuse duplicate Host lines
// and absolute-form targets) and reads back the first response.
import tls from 'node:tls';
import net from 'node:net';
import { testCertificates } from './gateway-harness.js';

export interface RawResponse {
  /** 0 when nothing parseable came back. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything read, as latin1. */
  raw: string;
  /** The server closed the connection (within the wait). */
  closed: boolean;
}

function parse(raw: string, closed: boolean): RawResponse | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return closed ? { status: 0, headers: {}, body: '', raw, closed } : undefined;
  const lines = raw.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
  const body = raw.slice(end + 4);
  if (length !== undefined && body.length >= length) return { status, headers, body: body.slice(0, length), raw, closed };
  // 1xx / 204 / 304 carry no body; anything else without a length runs to the close.
  if (length === undefined && (status < 200 || status === 204 || status === 304)) return { status, headers, body: '', raw, closed };
  return closed ? { status, headers, body, raw, closed } : undefined;
}

function exchange(socket: net.Socket, bytes: string | Buffer, waitMs: number, readyEvent: string): Promise<RawResponse> {
  return new Promise((resolve) => {
    let raw = '';
    let done = false;
    const finish = (result: RawResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // Give a close that follows the response a moment to arrive, so that `closed` is meaningful.
      if (result.closed || socket.destroyed) return resolve(result);
      const onClose = () => resolve({ ...result, closed: true });
      socket.once('close', onClose);
      setTimeout(() => {
        socket.off('close', onClose);
        socket.destroy();
        resolve(result);
      }, 200);
    };
    const timer = setTimeout(() => finish(parse(raw, false) ?? { status: 0, headers: {}, body: '', raw, closed: false }), waitMs);
    socket.on(readyEvent, () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.toString('latin1');
      const parsed = parse(raw, false);
      if (parsed) finish(parsed);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(parse(raw, true) ?? { status: 0, headers: {}, body: '', raw, closed: true }));
  });
}

/** Writes `bytes` on a new TLS connection (SNI mail.contoso.lab) and resolves with the first response. */
export function rawHttps(port: number, bytes: string | Buffer, waitMs = 3_000): Promise<RawResponse> {
  const socket = tls.connect({ host: '127.0.0.1', port, servername: 'mail.contoso.lab', ca: testCertificates().ca.certPem });
  return exchange(socket, typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes, waitMs, 'secureConnect');
}

/** The same over plain TCP (the HTTP → HTTPS redirect listener). */
export function rawHttp(port: number, bytes: string | Buffer, waitMs = 3_000): Promise<RawResponse> {
  const socket = net.connect({ host: '127.0.0.1', port });
  return exchange(socket, typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes, waitMs, 'connect');
}

/** A GET as IIS clients send it, with `Connection: close`; extra header lines as given. */
export function getRequest(target: string, headerLines: string[] = ['Host: mail.contoso.lab'], method = 'GET', version = 'HTTP/1.1'): string {
  return `${method} ${target} ${version}\r\n${[...headerLines, 'Authorization: Basic YWxpY2U6UGFzc3cwcmQ=', 'Connection: close'].join('\r\n')}\r\n\r\n`;
}
