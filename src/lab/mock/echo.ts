// The default answer: a JSON description of the request as the mock saw it, so tests can check what a proxy
// forwarded (headers as raw lines, body length, which connection and which user). Plus two fixed-size bodies
// for benchmarks, precomputed so the mock is never the bottleneck.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConnInfo } from './state.js';
import type { MockContext } from './context.js';
import { send, sendJson } from './respond.js';

export interface EchoBody {
  server: string;
  method: string;
  url: string;
  httpVersion: string;
  /** Lower-cased header object as Node joins it. */
  headers: Record<string, string | string[] | undefined>;
  /** Header lines exactly as received, in order, as [name, value]. */
  rawHeaders: [string, string][];
  bodyLength: number;
  remoteAddress: string;
  remotePort: number;
  tls: boolean;
  connectionId: number;
  requestOnConnection: number;
  user: string | null;
}

export function rawHeaderPairs(raw: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i] as string, raw[i + 1] as string]);
  return pairs;
}

/** Count the body as it streams (never buffer it: bodies may be gigabytes), then describe the request. */
export interface EchoSubject {
  conn: ConnInfo;
  /** The request's number on its connection, taken when it arrived (pipelined requests answer later). */
  requestNo: number;
  user: string | null;
}

export function echo(ctx: MockContext, who: EchoSubject, req: IncomingMessage, res: ServerResponse): void {
  let bodyLength = 0;
  req.on('data', (chunk: Buffer) => {
    bodyLength += chunk.length;
  });
  req.once('error', () => undefined);
  req.once('end', () => sendEcho(ctx, who, req, res, bodyLength));
}

/** Send the echo for a request whose body was already read (and counted) by someone else. */
export function sendEcho(ctx: MockContext, who: EchoSubject, req: IncomingMessage, res: ServerResponse, bodyLength: number): void {
  const { conn, requestNo, user } = who;
  const body: EchoBody = {
    server: ctx.name,
    method: req.method ?? '',
    url: req.url ?? '',
    httpVersion: req.httpVersion,
    headers: req.headers,
    rawHeaders: rawHeaderPairs(req.rawHeaders),
    bodyLength,
    remoteAddress: conn.remoteAddress,
    remotePort: conn.remotePort,
    tls: conn.tls,
    connectionId: conn.id,
    requestOnConnection: requestNo,
    user,
  };
  sendJson(res, 200, body);
}

/** 300 bytes: the size of a small OWA resource, for requests-per-second benchmarks. */
export const STATIC_BODY = Buffer.alloc(300, 'casgate-mock-static-body.');
const CHUNK = Buffer.alloc(1 << 20, 'x');
/** Upper bound for /__mock/bytes (64 GiB): enough for any benchmark, bounded against typos. */
const MAX_BYTES = 64 * 2 ** 30;

export function sendStatic(res: ServerResponse): void {
  send(res, 200, STATIC_BODY, 'text/plain');
}

/** GET /__mock/bytes?size=N: N bytes from one precomputed 1 MiB buffer, honouring back-pressure. */
export function sendBytes(res: ServerResponse, sizeParam: string | null): void {
  const size = Number(sizeParam ?? '0');
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_BYTES) {
    send(res, 400, `size must be an integer from 0 to ${MAX_BYTES}\n`);
    return;
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', size);
  let left = size;
  const pump = (): void => {
    while (left > 0 && !res.destroyed) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      const more = res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      if (!more) {
        res.once('drain', pump);
        return;
      }
    }
    if (left === 0 && !res.writableEnded) res.end();
  };
  pump();
}
