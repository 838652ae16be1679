// The admin listener: Prometheus metrics, a status page, and a JSON API. Bound to loopback by default; every
// call that changes state needs `Authorization: Bearer <admin.token>` (and is refused when no token is set).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { closeServer, listenOn } from '../net/serve.js';

export interface AdminRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
}

export interface AdminResponse {
  status?: number;
  json?: unknown;
  text?: string;
  html?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

type Handler = (req: AdminRequest) => AdminResponse | Promise<AdminResponse>;

interface AdminRoute {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
  changesState: boolean;
}

export class AdminServer {
  readonly server: http.Server;
  private readonly routes: AdminRoute[] = [];

  constructor(
    private readonly address: string,
    private readonly port: number,
    private token: string | undefined,
    /** An exception a handler did not foresee (answered 500); the caller logs and counts it. */
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.server = http.createServer((req, res) => {
      // Whatever a request does, it cannot take the process down (an unhandled rejection would).
      this.dispatch(req, res).catch((err: unknown) => {
        this.onError(err);
        if (!res.headersSent) send(res, { status: 500, json: { error: 'internal error' } });
        else res.destroy();
      });
    });
  }

  /** admin.token after a reload: the next call needs the new one (a rotated token is in effect at once). */
  setToken(token: string | undefined): void {
    this.token = token;
  }

  /** `path` may contain `:name` segments. State-changing routes (`changesState`) require the bearer token. */
  on(method: string, path: string, handler: Handler, { changesState = method !== 'GET' } = {}): this {
    const keys: string[] = [];
    const pattern = new RegExp(
      `^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:([a-zA-Z]+)/g, (_, k: string) => (keys.push(k), '([^/]+)'))}$`,
    );
    this.routes.push({ method, pattern, keys, handler, changesState });
    return this;
  }

  private authorized(header: string | undefined): boolean {
    if (!this.token || !header?.startsWith('Bearer ')) return false;
    const given = Buffer.from(header.slice(7).trim());
    const expected = Buffer.from(this.token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    // HEAD is answered as GET (Node leaves the body out).
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const allowed: string[] = [];
    for (const route of this.routes) {
      const m = route.pattern.exec(url.pathname);
      if (!m) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      if (route.changesState && !this.authorized(req.headers.authorization)) {
        const why = this.token ? 'a valid bearer token is required' : 'set admin.token in the config to enable state changes';
        // RFC 6750 §3: the challenge names the scheme, so a client (or an admin's curl -v) sees what to send.
        const challenge = `Bearer realm="casgate admin"${req.headers.authorization ? ', error="invalid_token"' : ''}`;
        return send(res, { status: 401, json: { error: why }, headers: { 'www-authenticate': challenge } });
      }
      try {
        const params = Object.fromEntries(route.keys.map((k, i) => [k, decodePathSegment(m[i + 1]!)]));
        const body = await readJson(req);
        return send(res, await route.handler({ method, path: url.pathname, params, query: url.searchParams, body }));
      } catch (err) {
        if (err instanceof AdminError) return send(res, { status: err.status, json: { error: err.message } });
        this.onError(err);
        return send(res, { status: 500, json: { error: `internal error: ${(err as Error).message}` } });
      }
    }
    if (allowed.length === 0) return send(res, { status: 404, json: { error: 'not found' } });
    // RFC 9110 §15.5.6: a 405 lists the methods the resource has.
    const allow = [...new Set(allowed.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])))].join(', ');
    send(res, { status: 405, json: { error: `method not allowed; use ${allow}` }, headers: { allow } });
  }

  listen(): Promise<AddressInfo> {
    return listenOn(this.server, this.port, this.address);
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }
}

export class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `%E0%A4` alone is not UTF-8: decodeURIComponent throws, and that is the client's mistake. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new AdminError(400, `malformed percent-encoding in the path: ${JSON.stringify(segment)}`);
  }
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 65_536) throw new AdminError(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AdminError(400, 'request body is not valid JSON');
  }
}

function send(res: http.ServerResponse, r: AdminResponse): void {
  let body: string;
  let type: string;
  if (r.json !== undefined) [body, type] = [`${JSON.stringify(r.json, null, 2)}\n`, 'application/json'];
  else if (r.html !== undefined) [body, type] = [r.html, 'text/html; charset=utf-8'];
  else [body, type] = [r.text ?? '', r.contentType ?? 'text/plain; charset=utf-8'];
  res.writeHead(r.status ?? 200, { ...r.headers, 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
