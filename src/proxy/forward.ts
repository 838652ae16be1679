// One attempt to forward a request to one backend: an undici dispatch handler that streams the response to the
// client as it arrives. Backpressure both ways (undici pauses the backend socket while the client's buffer is
// full), nothing buffered, each chunk flushed as it comes (MAPI PENDING chunks, EWS notifications).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Route } from '../config/route.js';
import type { Backend } from '../upstream/backend.js';
import { clientResponseHeaders } from './headers.js';

export interface AttemptOutcome {
  /** Set when the attempt failed; `connected` says whether any byte of the request may have been sent. */
  error?: unknown;
  connected: boolean;
  /** Response headers had been sent to the client when the error happened: nothing can be retried. */
  headersSent: boolean;
}

export interface AttemptHooks {
  /** Called once with the response head, before it is written; may inspect (e.g. to pin NTLM). */
  onResponseHead(status: number, headers: string[]): void;
  /** Called exactly once when the attempt ends, successfully or not. */
  onEnd(outcome: AttemptOutcome): void;
}

export class ForwardAttempt implements Dispatcher.DispatchHandler {
  private abortUpstream: ((err?: Error) => void) | undefined;
  private connected = false;
  private headersSent = false;
  private ended = false;
  private resumeUpstream: (() => void) | undefined;
  /** Set while the client's buffer is full; 'drain' is listened for only then (most responses never fill it). */
  private onDrain: (() => void) | undefined;
  /** performance.now() when the backend connection was ready and when its response head arrived (access log). */
  connectedAt: number | undefined;
  headersAt: number | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly backend: Backend,
    private readonly hooks: AttemptHooks,
  ) {}

  /** `body`: the client's request stream, or (OWA form logon) the bytes read ahead plus the rest. */
  start(dispatcher: Dispatcher, route: Route, headers: string[], body: IncomingMessage | Readable | Buffer | undefined): void {
    // `Expect: 100-continue`: the listener leaves it unanswered until now, so that a request the proxy answers itself
    // (404, 403, 503...) never has its body sent. undici cannot send Expect on HTTP/1.1, so the CAS never sees it:
    // the 100 comes from here, once, when the request leaves for a server (nginx answers it the same way).
    if (body) continueOnce(this.req, this.res);
    dispatcher.dispatch(
      {
        origin: this.backend.origin.url,
        path: this.req.url!,
        method: this.req.method as Dispatcher.HttpMethod,
        headers,
        body: body ?? null,
        headersTimeout: route.firstByteTimeoutMs,
        bodyTimeout: route.idleTimeoutMs,
        // The proxy answers `Expect: 100-continue` itself (above).
        expectContinue: false,
        reset: false,
        blocking: false,
      },
      this,
    );
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    this.connected = true;
    this.connectedAt = performance.now();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    this.headersAt = performance.now();
    const headers = clientResponseHeaders(rawHeaders);
    this.hooks.onResponseHead(statusCode, headers);
    if (this.res.destroyed || this.res.headersSent) {
      // The client is gone, or was answered by the listener meanwhile (408 for a body too slow): stop the CAS request.
      this.abortUpstream?.(new Error('client connection answered or closed'));
      return false;
    }
    this.resumeUpstream = resume;
    this.res.writeHead(statusCode, statusText || undefined, headers);
    // A streamed response (no Content-Length: EWS streaming, MAPI NotificationWait) may wait long for its first
    // body byte; its head goes out now. Sized responses send head and body together, in one write.
    if (!hasContentLength(headers)) this.res.flushHeaders();
    this.headersSent = true;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    if (!this.onDrain) {
      this.onDrain = () => {
        this.onDrain = undefined;
        this.resumeUpstream?.();
      };
      this.res.once('drain', this.onDrain);
    }
    return false;
  }

  /** The client went away (or its connection was closed by us): stop the backend request too. */
  clientClosed(): void {
    if (!this.ended) this.abortUpstream?.(new Error('client closed the connection'));
  }

  onComplete(): void {
    this.finish(undefined);
    this.res.end();
  }

  onError(err: Error): void {
    if (this.headersSent) this.res.destroy();
    this.finish(err);
  }

  private finish(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (this.onDrain) this.res.off('drain', this.onDrain);
    this.hooks.onEnd({ error, connected: this.connected, headersSent: this.headersSent });
  }
}

/** Responses that already had their `100 Continue` (a retried request must not get a second one). */
const continued = new WeakSet<ServerResponse>();

/**
 * Sends `100 Continue` once per response when the client asked for it; also before casgate itself reads a body
 * (the OWA form's user name, exchange.authProtection), which the client would otherwise never send.
 */
export function continueOnce(req: IncomingMessage, res: ServerResponse): void {
  if (!continued.has(res) && expectsContinue(req)) {
    continued.add(res);
    res.writeContinue();
  }
}

function expectsContinue(req: IncomingMessage): boolean {
  const expect = req.headers.expect;
  return expect !== undefined && expect.length === 12 && expect.toLowerCase() === '100-continue' && req.httpVersionMinor >= 1;
}

function hasContentLength(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.length === 14 && headers[i]!.toLowerCase() === 'content-length') return true;
  return false;
}
