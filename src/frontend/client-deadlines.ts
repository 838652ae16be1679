// Deadlines for every state of a client connection (issue 15): TLS handshake, request head, request body, idle
// keep-alive. What fires is counted by kind for /metrics, and the client is answered 408 where HTTP allows it
// (a head or body that did not arrive in time), otherwise the connection is closed (handshake, idle).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export const TIMEOUT_KINDS = ['handshake', 'head', 'body', 'idle'] as const;
export type TimeoutKind = (typeof TIMEOUT_KINDS)[number];

/** Plain counters, read by the metrics at scrape time (nothing allocated when a deadline fires). */
export class ClientTimeoutCounts {
  readonly timeouts: Record<TimeoutKind, number> = { handshake: 0, head: 0, body: 0, idle: 0 };
  /** New connections answered `503 GATEWAY_EXHAUSTED` (shed) or closed at accept (refused) for want of descriptors. */
  readonly exhausted = { shed: 0, refused: 0 };
  /** New connections reset by a per-address limit (address-limits.ts), by limit. */
  readonly limited = { connections: 0, rate: 0 };

  fired(kind: TimeoutKind): void {
    this.timeouts[kind]++;
  }
}

/** How long a connection answered with an error and closed keeps being read, at most, before it is destroyed. */
const LINGER_MS = 3_000;

/**
 * Answers with `status` and closes: the response, then FIN, then what the client still sends is read and thrown away
 * until it closes too or LINGER_MS pass (nginx's lingering close). Closing with unread bytes in the kernel's buffer
 * makes it send a reset, which destroys the response in flight: a 1 MiB head would never see its 431.
 */
export function answerAndClose(socket: Socket, status: string, reason: string, errorCode?: string, extraHeaders?: Record<string, string>): void {
  if (socket.destroyed || lingering.has(socket)) return;
  lingering.add(socket);
  if (!socket.writable) return void socket.destroy();
  const body = `${status}: ${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `${errorCode ? `X-Casgate-Error: ${errorCode}\r\n` : ''}` +
      `${Object.entries(extraHeaders ?? {})
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('')}Connection: close\r\n\r\n${body}`,
  );
  socket.on('data', discard);
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(timer));
}

function discard(): void {}

/** Sockets answered and closing. Node's parser, once in error, reports every later chunk again: one answer only. */
const lingering = new WeakSet<Socket>();

export function isLingering(socket: Socket): boolean {
  return lingering.has(socket);
}

interface BodyWatch {
  req: IncomingMessage;
  res: ServerResponse;
  socket: Socket;
  windowStart: number;
  /** socket.bytesRead at the start of the window (plaintext bytes, counted by Node whoever consumes the stream). */
  mark: number;
}

/**
 * The minimum request-body rate: a body is judged every `windowMs` (listen.https.bodyGrace), the first time that long
 * after its head; each window must have brought `minRate` bytes per second, else 408 (or a close once the response has
 * started), and the request's CAS connection is released with it. One check per window, by the listener's sweep
 * timer; a request is watched only while its body is incomplete.
 */
export class BodyRateRule {
  private readonly watched = new Set<BodyWatch>();

  constructor(
    private readonly windowMs: number,
    private readonly minRate: number,
    private readonly onFire: () => void,
  ) {}

  get enabled(): boolean {
    return this.minRate > 0 && this.windowMs > 0;
  }

  /** Called for every request; only those with a body still to come are watched. */
  watch(req: IncomingMessage, res: ServerResponse): void {
    const length = req.headers['content-length'];
    if (req.complete || length === '0' || (length === undefined && req.headers['transfer-encoding'] === undefined)) return;
    this.watched.add({ req, res, socket: req.socket, windowStart: Date.now(), mark: req.socket.bytesRead });
  }

  sweep(now: number): void {
    for (const w of this.watched) {
      if (w.req.complete || w.socket.destroyed) {
        this.watched.delete(w);
        continue;
      }
      const elapsed = now - w.windowStart;
      if (elapsed < this.windowMs) continue;
      if ((w.socket.bytesRead - w.mark) * 1000 < this.minRate * elapsed) {
        this.watched.delete(w);
        this.onFire();
        cutSlowBody(w);
        continue;
      }
      w.windowStart = now;
      w.mark = w.socket.bytesRead;
    }
  }
}

function cutSlowBody({ res, socket }: BodyWatch): void {
  if (res.headersSent || res.destroyed) return void socket.destroy();
  const body = '408 Request Timeout: the request body arrived too slowly\n';
  // The request body is abandoned: the connection closes after the answer (the proxy engine sees the response close
  // and aborts the CAS request).
  res.writeHead(408, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-casgate-error': 'CLIENT_TIMEOUT',
    connection: 'close',
  });
  res.end(body);
}
