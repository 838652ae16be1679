// What the reference proxies (undici-proxy-server.ts for bench peers, pings/reference-proxy.ts for bench pings) do
// per request, and nothing more: the client's head minus its hop-by-hop Connection/Keep-Alive lines plus
// X-Forwarded-For, and an undici dispatch handler that streams the response back with backpressure.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';

function isConnectionLine(name: string): boolean {
  return name.length === 10 && (name.toLowerCase() === 'connection' || name.toLowerCase() === 'keep-alive');
}

/**
 * The request head for the backend. The client's Connection/Keep-Alive lines are hop-by-hop: forwarded,
 * `Connection: close` (every request of the handshake measurement) made the backend close its keep-alive connection
 * after each response, and undici then failed an assertion (Parser.finish: assert(!this.paused)) and the process died.
 */
export function referenceRequestHeaders(req: IncomingMessage): string[] {
  const raw = req.rawHeaders;
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!isConnectionLine(raw[i]!)) headers.push(raw[i]!, raw[i + 1]!);
  headers.push('x-forwarded-for', req.socket.remoteAddress ?? '');
  return headers;
}

export class ReferenceHandler implements Dispatcher.DispatchHandler {
  private resume: (() => void) | undefined;
  constructor(private readonly res: ServerResponse) {}
  onConnect(): void {}
  onHeaders(status: number, raw: Buffer[], resume: () => void, text: string): boolean {
    this.resume = resume;
    const headers: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1');
      if (!isConnectionLine(name)) headers.push(name, raw[i + 1]!.toString('latin1'));
    }
    this.res.writeHead(status, text, headers);
    return true;
  }
  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', () => this.resume?.());
    return false;
  }
  onComplete(): void {
    this.res.end();
  }
  onError(): void {
    if (!this.res.headersSent) this.res.writeHead(502);
    this.res.end();
  }
}
