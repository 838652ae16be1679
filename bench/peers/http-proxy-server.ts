// The Node baseline peer: the http-proxy package behind node:https, with a keep-alive agent to the backend and
// X-Forwarded-For added (xfwd). Run by bench/peers as its own process:
//   node bench/dist/bench/peers/http-proxy-server.js <backend-url> <rsa-port> <ecdsa-port> <out-dir>
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import httpProxy from 'http-proxy';

const [backend, rsaPort, ecdsaPort, out] = process.argv.slice(2);
if (!backend || !rsaPort || !ecdsaPort || !out) {
  process.stderr.write('usage: http-proxy-server.js <backend-url> <rsa-port> <ecdsa-port> <out-dir>\n');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
const proxy = httpProxy.createProxyServer({ target: backend, agent, xfwd: true });
proxy.on('error', (_err, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502);
  res.end();
});
for (const [port, cert] of [
  [rsaPort, 'rsa'],
  [ecdsaPort, 'ecdsa'],
] as const) {
  const server = https.createServer(
    { cert: readFileSync(`${out}/${cert}.crt`), key: readFileSync(`${out}/${cert}.key`), ALPNProtocols: ['http/1.1'] },
    (req, res) => proxy.web(req, res),
  );
  server.keepAliveTimeout = 600_000;
  server.headersTimeout = 610_000;
  server.requestTimeout = 0;
  server.listen(Number(port), '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
