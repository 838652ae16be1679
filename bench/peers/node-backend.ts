// Fallback backend when nginx is not installed: node:http serving the same two URLs as nginx-backend.conf (300 bytes
// at /__mock/static, 1 MiB at /__mock/bytes) on 18080, and over TLS on 18081 (RSA) / 18082 (ECDSA).
// It will be the bottleneck for the faster proxies; the runner says so in RESULTS.md when it is used.
//   node bench/dist/bench/peers/node-backend.js <out-dir>
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: node-backend.js <out-dir>\n');
  process.exit(2);
}
const small = Buffer.alloc(300, 'x');
const big = Buffer.alloc(1 << 20, 'y');
const handler: http.RequestListener = (req, res) => {
  const body = req.url?.startsWith('/__mock/bytes') ? big : req.url?.startsWith('/__mock/static') ? small : undefined;
  if (!body) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
};
const servers: (http.Server | https.Server)[] = [http.createServer(handler).listen(18080, '127.0.0.1')];
for (const [port, cert] of [
  [18081, 'rsa'],
  [18082, 'ecdsa'],
] as const) {
  servers.push(https.createServer({ cert: readFileSync(`${out}/${cert}.crt`), key: readFileSync(`${out}/${cert}.key`) }, handler).listen(port, '127.0.0.1'));
}
for (const s of servers) s.keepAliveTimeout = 600_000;
process.on('SIGTERM', () => process.exit(0));
