// Small response helpers shared by the HTTP handlers.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MockContext } from './context.js';

/** Headers Exchange's front end puts on every response; the tests read X-FEServer to see which CAS answered. */
export function exchangeHeaders(ctx: MockContext): [string, string][] {
  return [
    ['X-FEServer', ctx.name],
    ['X-CalculatedBETarget', ctx.fqdn],
    ['request-id', randomUUID()],
  ];
}

export function send(res: ServerResponse, status: number, body: string | Buffer, contentType = 'text/plain; charset=utf-8'): void {
  if (res.headersSent || res.destroyed) return;
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', buf.length);
  res.end(buf);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');
}

/**
 * Discard the request body so the connection can carry the next request. NTLM 401s must keep the connection:
 * the type 3 arrives on it.
 */
export function drain(req: IncomingMessage): void {
  if (!req.readableEnded) req.resume();
}

/** Read a small body (control JSON, SOAP requests) up to `limit` bytes; the rest is counted, not kept. */
export function readBody(req: IncomingMessage, limit: number): Promise<{ text: string; length: number }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (kept < limit) {
        const part = chunk.subarray(0, limit - kept);
        chunks.push(part);
        kept += part.length;
      }
    });
    const done = (): void => resolve({ text: Buffer.concat(chunks).toString('utf8'), length });
    req.once('end', done);
    // An aborted request resolves with what arrived; the handler then finds the response destroyed.
    req.once('close', done);
    req.once('error', () => undefined);
  });
}

/** setTimeout that is cleared when the response closes, so abandoned long polls leave no timers behind. */
export function timerFor(res: ServerResponse, ms: number, fn: () => void): void {
  const t = setTimeout(fn, ms);
  res.once('close', () => clearTimeout(t));
}

/** A positive duration from a test header (X-Test-Hold-Ms and friends), or undefined. */
export function headerMs(req: IncomingMessage, name: string): number | undefined {
  const v = Number(req.headers[name]);
  return Number.isFinite(v) && v >= 1 ? Math.floor(v) : undefined;
}
