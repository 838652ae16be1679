// Small clients for the mock CAS tests: node:http(s) requests with an optional shared agent (to pin a connection),
// and raw sockets with a byte collector for the RPC methods no HTTP client sends.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface CallOptions {
  port: number;
  path: string;
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string | Buffer;
  agent?: http.Agent;
  tls?: boolean;
}

export function call(o: CallOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const mod = o.tls ? https : http;
    const req = mod.request(
      {
        host: '127.0.0.1',
        port: o.port,
        path: o.path,
        method: o.method ?? 'GET',
        headers: o.headers,
        agent: o.agent ?? false,
        rejectUnauthorized: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const text = body.toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body,
            text,
            json: <T>() => JSON.parse(text) as T,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Values of every raw header line called `name` (case-insensitive), in order. */
export function headerLines(rawHeaders: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === name.toLowerCase()) out.push(rawHeaders[i + 1] as string);
  }
  return out;
}

export async function control(port: number, action: string, body?: unknown): Promise<Reply> {
  return call({
    port,
    path: `/__mock/${action}`,
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** A raw client connection that collects everything it receives. */
export interface RawConn {
  socket: net.Socket;
  received(): Buffer;
  text(): string;
  closed(): boolean;
  write(data: string | Buffer): void;
  /** Drop what was received so far. */
  clear(): void;
}

export function rawConnect(port: number, useTls = false): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const socket: net.Socket = useTls
      ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
      : net.connect({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    let isClosed = false;
    socket.on('data', (c: Buffer) => {
      data = Buffer.concat([data, c]);
    });
    socket.on('close', () => {
      isClosed = true;
    });
    socket.on('error', () => undefined);
    socket.once(useTls ? 'secureConnect' : 'connect', () =>
      resolve({
        socket,
        received: () => data,
        text: () => data.toString('latin1'),
        closed: () => isClosed,
        write: (d) => socket.write(d),
        clear: () => {
          data = Buffer.alloc(0);
        },
      }),
    );
    socket.once('error', reject);
  });
}

/** A request whose response is watched while it streams (long polls). */
export interface Watched {
  /** Set when the response head arrived. */
  status(): number | null;
  headers(): http.IncomingHttpHeaders | null;
  rawHeaders(): string[];
  text(): string;
  ended(): boolean;
  abort(): void;
}

export function watch(o: CallOptions): Watched {
  let status: number | null = null;
  let headers: http.IncomingHttpHeaders | null = null;
  let raw: string[] = [];
  let text = '';
  let ended = false;
  const mod = o.tls ? https : http;
  const req = mod.request(
    { host: '127.0.0.1', port: o.port, path: o.path, method: o.method ?? 'GET', headers: o.headers, agent: o.agent ?? false, rejectUnauthorized: false },
    (res) => {
      status = res.statusCode ?? 0;
      headers = res.headers;
      raw = res.rawHeaders;
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => (ended = true));
      res.on('error', () => undefined);
    },
  );
  req.on('error', () => undefined);
  req.end(o.body);
  return {
    status: () => status,
    headers: () => headers,
    rawHeaders: () => raw,
    text: () => text,
    ended: () => ended,
    abort: () => req.destroy(),
  };
}
