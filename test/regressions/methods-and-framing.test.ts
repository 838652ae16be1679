// Issue 15, item 9 (methods and framing): TRACE was forwarded to the CAS and answered 200 (nginx: 405); CONNECT was
// closed with no answer; an HTTP/1.0 request with `Transfer-Encoding: chunked` reached the CAS while the client got
// 400. Now TRACE and CONNECT are answered 405 with `Allow` by casgate, and HTTP/1.0 with
// Transfer-Encoding is a 400 with the connection closed and nothing forwarded (RFC 9112 §6.1).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { type TestGateway } from '../helpers/gateway-harness.js';
import { getRequest, rawHttps } from '../helpers/raw-https.js';

let cas: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;

beforeAll(async () => {
  env = await startCasAndGateway(1, { pools: { cas: { health: { enabled: false } } } });
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

describe('methods casgate answers itself', () => {
  test.each(['TRACE', 'TRACK', 'trace'])('%s is refused (TRACE: 405 with Allow) and never reaches the CAS', async (method) => {
    const before = cas.stats().requests;
    const res = await rawHttps(gw.port, getRequest('/EWS/Exchange.asmx', ['Host: mail.contoso.lab', 'Cookie: secret=1'], method));
    if (method !== 'TRACE') {
      // Node's parser knows no TRACK, and methods are case-sensitive (`trace` is not TRACE): it refuses both itself.
      expect(res.status).toBe(400);
    } else {
      expect(res.status, res.raw.slice(0, 200)).toBe(405);
      expect(res.headers.allow).toContain('GET');
      expect(res.headers.allow).not.toContain('TRACE');
      expect(res.headers['x-casgate-error']).toBe('METHOD_NOT_ALLOWED');
      expect(res.body).not.toContain('secret');
    }
    expect(cas.stats().requests).toBe(before);
  });

  test('CONNECT is a 405 with Allow, then the connection is closed', async () => {
    const before = cas.stats().requests;
    const res = await rawHttps(gw.port, 'CONNECT mail.contoso.lab:443 HTTP/1.1\r\nHost: mail.contoso.lab:443\r\n\r\n');
    expect(res.status, res.raw.slice(0, 200)).toBe(405);
    expect(res.headers.allow).toContain('GET');
    expect(res.headers['x-casgate-error']).toBe('METHOD_NOT_ALLOWED');
    expect(res.closed).toBe(true);
    expect(cas.stats().requests).toBe(before);
    expect(gw.records.at(-1)).toMatchObject({ method: 'CONNECT', status: 405, error: 'METHOD_NOT_ALLOWED' });
  });
});

describe('HTTP/1.0 with Transfer-Encoding', () => {
  test('is a 400, the connection closed, nothing forwarded', async () => {
    const before = cas.stats().requests;
    const res = await rawHttps(
      gw.port,
      'POST /EWS/Exchange.asmx HTTP/1.0\r\nHost: mail.contoso.lab\r\nAuthorization: Basic YWxpY2U6UGFzc3cwcmQ=\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    );
    expect(res.status, res.raw.slice(0, 200)).toBe(400);
    expect(res.headers['x-casgate-error']).toBe('BAD_REQUEST');
    expect(res.closed).toBe(true);
    // The CAS may only have been reached asynchronously: give it the time a forward would take.
    await new Promise((r) => setTimeout(r, 200));
    expect(cas.stats().requests).toBe(before);
  });
});
