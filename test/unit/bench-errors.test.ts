// Errors by kind: what a user reads to tell a proxy that refuses from one that resets or stalls.
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { errors as undiciErrors } from 'undici';
import { classifyError, classifyStatus } from '../../src/bench/load/errors.js';
import { runLoad } from '../../src/bench/load/run.js';

const withCode = (code: string, message = code): Error => Object.assign(new Error(message), { code });

describe('classifyError', () => {
  it('maps socket and undici errors to stable kinds', () => {
    expect(classifyError(withCode('ECONNREFUSED'))).toBe('connect-refused');
    expect(classifyError(withCode('ECONNRESET'))).toBe('reset');
    expect(classifyError(new undiciErrors.SocketError('other side closed'))).toBe('reset');
    expect(classifyError(new undiciErrors.HeadersTimeoutError())).toBe('timeout');
    expect(classifyError(new undiciErrors.BodyTimeoutError())).toBe('timeout');
    expect(classifyError(new undiciErrors.ConnectTimeoutError())).toBe('timeout');
    expect(classifyError(withCode('DEPTH_ZERO_SELF_SIGNED_CERT'))).toBe('tls');
    expect(classifyError(withCode('ERR_SSL_WRONG_VERSION_NUMBER'))).toBe('tls');
  });

  it('looks through causes and AggregateError', () => {
    const wrapped = Object.assign(new Error('fetch failed'), { cause: withCode('ECONNRESET') });
    expect(classifyError(wrapped)).toBe('reset');
    expect(classifyError(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')]))).toBe('connect-refused');
  });

  it('keeps unknown codes apart rather than lumping them together', () => {
    expect(classifyError(withCode('EHOSTUNREACH'))).toBe('other-EHOSTUNREACH');
    expect(classifyError(new TypeError('x'))).toBe('other-TypeError');
  });

  it('counts 2xx and 3xx as success and everything else by status code', () => {
    expect(classifyStatus(200)).toBeUndefined();
    expect(classifyStatus(302)).toBeUndefined();
    expect(classifyStatus(401)).toBe('status-401');
    expect(classifyStatus(503)).toBe('status-503');
    expect(classifyStatus(101)).toBe('status-101');
  });
});

describe('runLoad reports errors by kind on real sockets', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function serve(handler: http.RequestListener): Promise<number> {
    const server = http.createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    cleanups.push(async () => void server.closeAllConnections());
    return (server.address() as net.AddressInfo).port;
  }

  it('connection refused', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const r = await runLoad({ url: `http://127.0.0.1:${port}/`, connections: 2, durationS: 0.3, warmupS: 0 });
    expect(Object.keys(r.errors)).toEqual(['connect-refused']);
    expect(r.requests.ok).toBe(0);
  });

  it('status codes and resets', async () => {
    let n = 0;
    const port = await serve((req, res) => {
      n++;
      if (n % 3 === 0) req.socket.destroy();
      else if (n % 3 === 1) res.writeHead(503).end('down');
      else res.end('ok');
    });
    const r = await runLoad({ url: `http://127.0.0.1:${port}/`, connections: 2, durationS: 0.5, warmupS: 0 });
    expect(r.errors['status-503']).toBeGreaterThan(0);
    expect(r.errors.reset).toBeGreaterThan(0);
    expect(r.requests.ok).toBeGreaterThan(0);
    expect(r.statusCodes['200']).toBe(r.requests.ok);
  });

  it('timeouts', async () => {
    const port = await serve(() => undefined); // never answers
    // undici checks its headers and body timeouts on a timer of about 1 s resolution: a 0.2 s timeout fires near 1 s.
    const r = await runLoad({ url: `http://127.0.0.1:${port}/`, connections: 1, durationS: 2.5, warmupS: 0, timeoutS: 0.2 });
    expect(r.errors.timeout).toBeGreaterThan(0);
    expect(r.requests.ok).toBe(0);
  });
});
