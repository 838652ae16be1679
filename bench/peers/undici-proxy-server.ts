// The reference for casgate's own engine: the smallest proxy that node:https and an undici Pool make, with no
// routing, no metrics and no access log. casgate's small-GET figure is judged against this one in the same run
// (issue 5's design brief measured it at ~23,700 req/s per core on this kind of machine):
//   node bench/dist/bench/peers/undici-proxy-server.js <backend-url> <rsa-port> <ecdsa-port> <out-dir>
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { ReferenceHandler, referenceRequestHeaders } from './reference-handler.js';

const [backend, rsaPort, ecdsaPort, out] = process.argv.slice(2);
if (!backend || !rsaPort || !ecdsaPort || !out) {
  process.stderr.write('usage: undici-proxy-server.js <backend-url> <rsa-port> <ecdsa-port> <out-dir>\n');
  process.exit(2);
}
const pool = new Pool(backend, { connections: 256, pipelining: 1, keepAliveTimeout: 60_000 });

function handle(req: IncomingMessage, res: ServerResponse): void {
  pool.dispatch({ path: req.url!, method: req.method as Dispatcher.HttpMethod, headers: referenceRequestHeaders(req), body: req.method === 'GET' ? null : req }, new ReferenceHandler(res));
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
