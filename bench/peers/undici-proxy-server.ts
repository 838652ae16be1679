// The reference for casgate's own engine: the smallest proxy that node:https and an undici Pool make, with no
// routing, no metrics and no access log. casgate's small-GET figure is judged against this one in the same run
// (issue 5's design brief measured it at ~23,700 req/s per core on this kind of machine):
//   node bench/dist/bench/peers/undici-proxy-server.js <backend-url> <rsa-port> <ecdsa-port> <out-dir>
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';

const [backend, rsaPort, ecdsaPort, out] = process.argv.slice(2);
if (!backend || !rsaPort || !ecdsaPort || !out) {
  process.stderr.write('usage: undici-proxy-server.js <backend-url> <rsa-port> <ecdsa-port> <out-dir>\n');
  process.exit(2);
}
const pool = new Pool(backend, { connections: 256, pipelining: 1, keepAliveTimeout: 60_000 });

class Handler implements Dispatcher.DispatchHandler {
  private resume: (() => void) | undefined;
  constructor(private readonly res: ServerResponse) {}
  onConnect(): void {}
  onHeaders(status: number, raw: Buffer[], resume: () => void, text: string): boolean {
    this.resume = resume;
    const headers: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1');
      if (name.length === 10 && name.toLowerCase() === 'connection') continue;
      if (name.length === 10 && name.toLowerCase() === 'keep-alive') continue;
      headers.push(name, raw[i + 1]!.toString('latin1'));
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

function handle(req: IncomingMessage, res: ServerResponse): void {
  // The client's Connection/Keep-Alive lines are hop-by-hop: forwarded, `Connection: close` (every request of the
  // handshake measurement) made the backend close its keep-alive connection after each response, and undici then
  // failed an assertion (Parser.finish: assert(!this.paused)) and the process died.
  const raw = req.rawHeaders;
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 10 && (name.toLowerCase() === 'connection' || name.toLowerCase() === 'keep-alive')) continue;
    headers.push(name, raw[i + 1]!);
  }
  headers.push('x-forwarded-for', req.socket.remoteAddress ?? '');
  pool.dispatch({ path: req.url!, method: req.method as Dispatcher.HttpMethod, headers, body: req.method === 'GET' ? null : req }, new Handler(res));
}

for (const [port, cert] of [
  [rsaPort, 'rsa'],
  [ecdsaPort, 'ecdsa'],
] as const) {
  const server = https.createServer(
    { cert: readFileSync(`${out}/${cert}.crt`), key: readFileSync(`${out}/${cert}.key`), ALPNProtocols: ['http/1.1'], keepAlive: true, noDelay: true },
    handle,
  );
  server.keepAliveTimeout = 600_000;
  server.headersTimeout = 610_000;
  server.requestTimeout = 0;
  server.listen(Number(port), '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
