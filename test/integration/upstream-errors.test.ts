// A broken backend becomes a clear 502/503/504 from the error catalog, and nothing a client or a backend does
// takes the proxy down.
import { createServer, type AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { eventually } from '../helpers/eventually.js';
import { startTestGateway, testCertificates, type TestServer } from '../helpers/gateway-harness.js';
import { mockControl } from '../helpers/mock-control.js';

let cas1: MockCas;
const basic = { host: 'mail.contoso.lab', authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=' };

/** A port that refuses connections: bound, then closed. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

beforeAll(async () => {
  cas1 = await startMockCas({ name: 'cas1' });
});
afterAll(async () => {
  await cas1?.close();
});

const noProbes = { pools: { cas: { health: { enabled: false }, outlier: { enabled: false } } } };

describe('backend failures', () => {
  test('a backend that refuses connections gives 502 UPSTREAM_CONNECT', async () => {
    const dead: TestServer = { name: 'dead', httpPort: await deadPort(), httpsPort: await deadPort() };
    const gw = await startTestGateway([dead], noProbes);
    try {
      const res = await gw.get('/owa/');
      expect(res.status).toBe(502);
      expect(res.headers['x-casgate-error']).toBe('UPSTREAM_CONNECT');
      expect(res.text).toMatch(/^502 /);
      expect(gw.records.at(-1)).toMatchObject({ status: 502, error: 'UPSTREAM_CONNECT', backend: 'dead' });
    } finally {
      await gw.stop();
    }
  });

  test('a connect failure goes to the next server: the client never sees it', async () => {
    const dead: TestServer = { name: 'dead', httpPort: await deadPort(), httpsPort: await deadPort() };
    const gw = await startTestGateway([dead, cas1], { ...noProbes, pools: { cas: { ...noProbes.pools.cas, balance: 'round-robin' } } });
    try {
      for (let i = 0; i < 6; i++) {
        const res = await gw.get('/EWS/x', { method: 'POST', body: 'payload', headers: basic });
        expect(res.status).toBe(200);
        expect(res.json<{ bodyLength: number }>().bodyLength).toBe(7);
      }
      expect(gw.records.some((r) => r.attempts === 2)).toBe(true);
    } finally {
      await gw.stop();
    }
  });

  test('a silent backend gives 504 after the route first-byte timeout', async () => {
    const gw = await startTestGateway([cas1], { ...noProbes, exchange: { timeouts: { ews: { firstByte: '300ms' } } } });
    await mockControl(cas1.controlPort, 'latency', { ms: 5000, path: '/EWS/slow' });
    try {
      const res = await gw.get('/EWS/slow', { method: 'POST', body: 'x', headers: basic });
      expect(res.status).toBe(504);
      expect(res.headers['x-casgate-error']).toBe('UPSTREAM_TIMEOUT');
    } finally {
      await mockControl(cas1.controlPort, 'reset');
      await gw.stop();
    }
  });

  test('when no server is available the client gets 503 naming the pool, at once', async () => {
    const gw = await startTestGateway([cas1], noProbes);
    try {
      for (const b of gw.gateway.pools.get('cas/oab')!.backends) b.state = 'disabled';
      const res = await gw.get('/OAB/x');
      expect(res.status).toBe(503);
      expect(res.text).toContain('cas/oab');
      expect((await gw.get('/owa/')).status).toBe(302);
    } finally {
      await gw.stop();
    }
  });

  test('a backend resetting connections gives 502 and the proxy keeps serving', async () => {
    const gw = await startTestGateway([cas1], noProbes);
    await mockControl(cas1.controlPort, 'reset-connections', { on: true, path: '/EWS/reset' });
    try {
      const res = await gw.get('/EWS/reset', { method: 'POST', body: 'x', headers: basic });
      expect(res.status).toBe(502);
      expect((await gw.get('/owa/')).status).toBe(302);
    } finally {
      await mockControl(cas1.controlPort, 'reset');
      await gw.stop();
    }
  });
});

describe('client misbehaviour', () => {
  test('a client that aborts mid-upload leaves the proxy serving', async () => {
    const gw = await startTestGateway([cas1], noProbes);
    try {
      await new Promise<void>((resolve, reject) => {
        const socket = connect({ port: gw.port, host: '127.0.0.1', ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' }, () => {
          socket.write('POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: mail.contoso.lab\r\nAuthorization: Basic YWxpY2U6UGFzc3cwcmQ=\r\nContent-Length: 1000000\r\n\r\n');
          socket.write(Buffer.alloc(50_000, 1), () => {
            socket.destroy();
            resolve();
          });
        });
        socket.on('error', reject);
      });
      const aborted = await eventually(() => gw.records.find((r) => r.status === 499), { what: 'the aborted upload to be logged as 499' });
      expect(aborted.error).toBe('CLIENT_ABORTED');
      expect((await gw.get('/owa/')).status).toBe(302);
      expect((await gw.get('/EWS/x', { method: 'POST', body: 'after', headers: basic })).status).toBe(200);
    } finally {
      await gw.stop();
    }
  });

  test('a client that stalls mid-upload is cut after the route idle timeout, and the proxy keeps serving', async () => {
    const gw = await startTestGateway([cas1], { ...noProbes, exchange: { timeouts: { ews: { firstByte: '400ms', idle: '400ms' } } } });
    try {
      const started = Date.now();
      const closedAfter = await new Promise<number>((resolve, reject) => {
        const socket = connect({ port: gw.port, host: '127.0.0.1', ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' }, () =>
          socket.write('POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: mail.contoso.lab\r\nAuthorization: Basic YWxpY2U6UGFzc3cwcmQ=\r\nContent-Length: 100\r\n\r\nonly-part'),
        );
        socket.on('close', () => resolve(Date.now() - started));
        socket.on('error', () => undefined);
        setTimeout(() => reject(new Error('stalled client was never cut')), 10_000).unref();
      });
      // The route idle limit plus the proxy's 2 s grace (which lets its own 504 win the race).
      expect(closedAfter).toBeGreaterThanOrEqual(2_300);
      // Checked by a sweep once a second (proxy/client-idle-watch.ts): cut within two sweeps of the deadline.
      expect(closedAfter).toBeLessThan(5_500);
      expect((await gw.get('/owa/')).status).toBe(302);
    } finally {
      await gw.stop();
    }
  });

  test('a client that completes the TLS handshake and then sends nothing is cut after headersTimeout', async () => {
    const gw = await startTestGateway([cas1], { ...noProbes, listen: { https: { headersTimeout: '300ms' } } });
    try {
      const started = Date.now();
      const closedAfter = await new Promise<number>((resolve, reject) => {
        const socket = connect({ port: gw.port, host: '127.0.0.1', ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' });
        socket.on('close', () => resolve(Date.now() - started));
        socket.on('error', () => undefined);
        setTimeout(() => reject(new Error('silent client was never cut')), 10_000).unref();
      });
      expect(closedAfter).toBeGreaterThanOrEqual(250);
      expect(closedAfter).toBeLessThan(5_000);
      expect((await gw.get('/owa/')).status).toBe(302);
    } finally {
      await gw.stop();
    }
  });

  test('garbage instead of HTTP gets a 400 and the proxy keeps serving', async () => {
    const gw = await startTestGateway([cas1], noProbes);
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect({ port: gw.port, host: '127.0.0.1', ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' }, () =>
          socket.write('NOT HTTP AT ALL\r\n\r\n'),
        );
        let out = '';
        socket.on('data', (d) => (out += d));
        socket.on('close', () => resolve(out));
        socket.on('error', reject);
      });
      expect(reply).toMatch(/^HTTP\/1\.1 400/);
      expect((await gw.get('/owa/')).status).toBe(302);
    } finally {
      await gw.stop();
    }
  });
});
