// The smallest Node proxy that holds ActiveSync Pings, as the floor casgate's memory per held Ping is judged against
// (`npm run bench:pings -- --reference`): node:https in front of one undici Pool per CAS, with no connection cap and
// no timeouts (a Ping waits up to an hour), no routing, metrics, log or deadlines; requests go round robin.
//   node bench/dist/bench/pings/reference-proxy.js <port> <cert> <key> <backend-url>...
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { ReferenceHandler, referenceRequestHeaders } from '../peers/reference-handler.js';

const [port, cert, key, ...backends] = process.argv.slice(2);
if (!port || !cert || !key || backends.length === 0) {
  process.stderr.write('usage: reference-proxy.js <port> <cert> <key> <backend-url>...\n');
  process.exit(2);
}
const pools = backends.map((url) => new Pool(url, { connections: null, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 0, bodyTimeout: 0 }));
let next = 0;

function handle(req: IncomingMessage, res: ServerResponse): void {
  const pool = pools[next++ % pools.length]!;
  const body = req.method === 'GET' || req.method === 'HEAD' ? null : req;
  pool.dispatch({ path: req.url!, method: req.method as Dispatcher.HttpMethod, headers: referenceRequestHeaders(req), body }, new ReferenceHandler(res));
}

const server = https.createServer({ cert: readFileSync(cert), key: readFileSync(key), ALPNProtocols: ['http/1.1'], keepAlive: true, noDelay: true }, handle);
server.keepAliveTimeout = 600_000;
server.headersTimeout = 610_000;
server.requestTimeout = 0;
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
