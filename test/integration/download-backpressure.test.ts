// A large download to a client that stops reading (a phone on a bad network, an Outlook OAB download paused): casgate
// must stop reading from the CAS too, not buffer the file in memory. The engine's stream buffers were raised for
// speed (src/net/stream-buffers.ts); this holds them to what backpressure promises. Real sockets end to end: a CAS
// that writes only as fast as its socket takes, the real proxy in between, and a TLS client that pauses.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestGateway, testCertificates, type TestGateway } from '../helpers/gateway-harness.js';
import { eventually } from '../helpers/eventually.js';

const BODY = 128 * 1024 * 1024;
const CHUNK = 64 * 1024;
/** Kernel socket buffers on loopback hold some MB on each of the two connections; casgate's own share is < 1 MB. */
const MAX_IN_FLIGHT = 48 * 1024 * 1024;

/** Chunk i of the file: bytes that differ per chunk, so a reordered or lost chunk changes the digest. */
function chunk(i: number): Buffer {
  return Buffer.alloc(CHUNK, i % 251);
}
const expectedDigest = (() => {
  const h = createHash('sha256');
  for (let i = 0; i < BODY / CHUNK; i++) h.update(chunk(i));
  return h.digest('hex');
})();

let cas: http.Server;
let written = 0;
let gw: TestGateway;

beforeAll(async () => {
  cas = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY });
    let i = 0;
    const pump = (): void => {
      while (i < BODY / CHUNK) {
        const more = res.write(chunk(i++));
        written += CHUNK;
        if (!more) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => cas.listen(0, '127.0.0.1', resolve));
  const port = (cas.address() as AddressInfo).port;
  gw = await startTestGateway([{ name: 'cas1', httpPort: port, httpsPort: port }], { pools: { cas: { health: { enabled: false } } } });
});
afterAll(async () => {
  await gw?.stop();
  cas?.closeAllConnections();
  await new Promise((resolve) => cas?.close(resolve));
});

test('a client that stops reading a 128 MiB download stops the CAS too (bounded in flight); resumed, it gets every byte in order', async () => {
  const socket = tlsConnect({ port: gw.port, host: '127.0.0.1', servername: 'mail.contoso.lab', ca: testCertificates().ca.certPem });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  socket.write('GET /OAB/big.lzx HTTP/1.1\r\nHost: mail.contoso.lab\r\n\r\n');
  socket.pause();
  // Wait until the CAS is blocked: what it has written stops growing.
  let last = -1;
  await eventually(async () => {
    await new Promise((r) => setTimeout(r, 300));
    const settled = written > 0 && written === last;
    last = written;
    return settled;
  }, { timeoutMs: 20_000, what: 'the CAS blocked by backpressure' });
  expect(written).toBeLessThan(MAX_IN_FLIGHT);

  // Resume: the head, then exactly the body, unchanged.
  const hash = createHash('sha256');
  let head = '';
  let bodyBytes = 0;
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (data: Buffer) => {
      let body = data;
      if (!head.endsWith('\r\n\r\n')) {
        const text = data.toString('latin1');
        const end = (head + text).indexOf('\r\n\r\n');
        if (end < 0) return void (head += text);
        const headPart = end + 4 - head.length;
        head += text.slice(0, headPart);
        body = data.subarray(headPart);
      }
      hash.update(body);
      bodyBytes += body.length;
      if (bodyBytes >= BODY) resolve();
    });
    socket.once('error', reject);
    socket.once('close', () => (bodyBytes >= BODY ? resolve() : reject(new Error(`closed after ${bodyBytes} bytes`))));
    socket.resume();
  });
  socket.destroy();
  expect(head).toMatch(/^HTTP\/1\.1 200 /);
  expect(head.toLowerCase()).toContain(`content-length: ${BODY}`);
  expect(bodyBytes).toBe(BODY);
  expect(hash.digest('hex')).toBe(expectedDigest);
}, 60_000);
