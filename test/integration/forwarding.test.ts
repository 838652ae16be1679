// What the CAS receives and what the client gets back: forwarded headers, hop-by-hop stripping, repeated
// WWW-Authenticate lines, Expect: 100-continue, large (Kerberos-sized) heads, streamed bodies.
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { startTestGateway, testCertificates, type TestGateway } from '../helpers/gateway-harness.js';

let cas1: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  rawHeaders: Array<[string, string]>;
  bodyLength: number;
}

beforeAll(async () => {
  env = await startCasAndGateway(1);
  cas1 = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

const basic = { authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=' };

/** One raw request over TLS, for headers undici would refuse to send (Connection tokens, Expect). */
function rawExchange(port: number, head: string, body = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' }, () => {
      socket.write(head);
      if (body) setImmediate(() => socket.write(body));
    });
    let out = '';
    socket.on('data', (d) => {
      out += d.toString('latin1');
      const end = out.indexOf('\r\n\r\n');
      const m = /content-length: (\d+)/i.exec(out);
      if (end > 0 && m && out.length >= end + 4 + Number(m[1]) && !out.startsWith('HTTP/1.1 100')) socket.end();
      else if (end > 0 && m && out.startsWith('HTTP/1.1 100')) {
        const second = out.indexOf('\r\n\r\n', end + 4);
        const m2 = /content-length: (\d+)/i.exec(out.slice(end + 4));
        if (second > 0 && m2 && out.length >= second + 4 + Number(m2[1])) socket.end();
      }
    });
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

describe('forwarded headers', () => {
  test('X-Forwarded-For/-Proto/-Host/-Port are set and the client Host is kept', async () => {
    const echo = (await gw.get('/EWS/Exchange.asmx', { headers: { host: 'mail.contoso.lab', ...basic } })).json<Echo>();
    expect(echo.headers.host).toBe('mail.contoso.lab');
    expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(echo.headers['x-forwarded-proto']).toBe('https');
    expect(echo.headers['x-forwarded-host']).toBe('mail.contoso.lab');
    expect(echo.headers['x-forwarded-port']).toBe(String(gw.port));
  });

  test('an untrusted client cannot forge X-Forwarded-For; a trusted peer is appended to', async () => {
    const forged = (await gw.get('/EWS/x', { headers: { host: 'mail.contoso.lab', 'x-forwarded-for': '6.6.6.6', ...basic } })).json<Echo>();
    expect(forged.headers['x-forwarded-for']).toBe('127.0.0.1');
    const trusting = await startTestGateway([cas1], { listen: { trustForwardedFrom: ['127.0.0.1'] } });
    try {
      const kept = (await trusting.get('/EWS/x', { headers: { host: 'mail.contoso.lab', 'x-forwarded-for': '203.0.113.9', ...basic } })).json<Echo>();
      expect(kept.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    } finally {
      await trusting.stop();
    }
  });

  test('hop-by-hop headers and the tokens named in Connection are stripped', async () => {
    const out = await rawExchange(
      gw.port,
      'GET /EWS/x HTTP/1.1\r\nHost: mail.contoso.lab\r\nAuthorization: Basic YWxpY2U6UGFzc3cwcmQ=\r\nConnection: keep-alive, X-Secret-Hop\r\n' +
        'X-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic eA==\r\nTE: trailers\r\nX-Kept: yes\r\nContent-Length: 0\r\n\r\n',
    );
    const echo = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4)) as Echo;
    const names = Object.keys(echo.headers);
    for (const hop of ['x-secret-hop', 'keep-alive', 'proxy-authorization', 'te']) expect(names).not.toContain(hop);
    expect(echo.headers['x-kept']).toBe('yes');
  });

  test('repeated WWW-Authenticate lines from the CAS reach the client as separate lines', async () => {
    const out = await rawExchange(gw.port, 'GET /EWS/Exchange.asmx HTTP/1.1\r\nHost: mail.contoso.lab\r\nContent-Length: 0\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 401/);
    const lines = out.split('\r\n').filter((l) => /^www-authenticate:/i.test(l));
    expect(lines.map((l) => l.split(':')[1]!.trim())).toEqual(['Negotiate', 'NTLM']);
  });

  test('Expect: 100-continue is answered by the proxy and not passed on', async () => {
    const out = await rawExchange(
      gw.port,
      'POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: mail.contoso.lab\r\nAuthorization: Basic YWxpY2U6UGFzc3cwcmQ=\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n',
      'hello world',
    );
    expect(out).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200/);
    const echo = JSON.parse(out.slice(out.lastIndexOf('\r\n\r\n') + 4)) as Echo;
    expect(echo.bodyLength).toBe(11);
    expect(echo.headers.expect).toBeUndefined();
  });

  test('a 48 KB request head (a Kerberos-sized token) passes', async () => {
    const token = 'A'.repeat(48 * 1024);
    const res = await gw.get('/EWS/x', { headers: { host: 'mail.contoso.lab', ...basic, 'x-big-token': token } });
    expect(res.status).toBe(200);
    expect(res.json<Echo>().headers['x-big-token']).toHaveLength(token.length);
  });

  test('a large upload streams through and arrives whole', async () => {
    const size = 8 * 1024 * 1024;
    const res = await gw.get('/EWS/upload', { method: 'POST', body: Buffer.alloc(size, 7), headers: { host: 'mail.contoso.lab', ...basic } });
    expect(res.json<Echo>().bodyLength).toBe(size);
  });
});
