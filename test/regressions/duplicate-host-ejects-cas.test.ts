// Issue 15, item 4: `GET /owa/` with two Host lines was answered 502 UPSTREAM_CONNECT (undici refuses the duplicate),
// retried on the other server and counted against both: five such requests ejected a healthy CAS for 30 s. A client's
// malformed request is now a 400 before routing: no upstream attempt, no health effect. And a flood of every kind of
// malformed request leaves every backend healthy.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { eventually } from '../helpers/eventually.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { type TestGateway } from '../helpers/gateway-harness.js';
import { getRequest, rawHttps } from '../helpers/raw-https.js';

let cas1: MockCas;
let cas2: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;

interface Status {
  pools: Array<{ name: string; backends: Array<{ name: string; state: string }> }>;
}

async function states(): Promise<string[]> {
  const status = (await (await fetch(`${gw.adminUrl}/api/status`)).json()) as Status;
  return status.pools.flatMap((p) => p.backends.map((b) => `${p.name} ${b.name} ${b.state}`));
}

const casRequests = () => cas1.stats().requests + cas2.stats().requests;

beforeAll(async () => {
  // No active probes: a backend's state is then only what passive health (outlier ejection, default settings) made
  // of the traffic, and every request a CAS counts is one a client sent through casgate.
  env = await startCasAndGateway(2, { pools: { cas: { health: { enabled: false } } } });
  cas1 = env.cas[0]!;
  cas2 = env.cas[1]!;
  gw = env.gw;
  await eventually(async () => (await states()).every((s) => s.endsWith(' healthy')), { what: 'every backend healthy' });
});
afterAll(async () => {
  await env?.stop();
});

describe('two Host lines', () => {
  test('are a 400 BAD_HOST, never a 502, and never eject a CAS', async () => {
    const before = casRequests();
    const answers = [];
    for (let i = 0; i < 12; i++) answers.push(await rawHttps(gw.port, getRequest('/owa/', ['Host: mail.contoso.lab', 'Host: mail.contoso.lab'])));
    expect((await states()).filter((s) => !s.endsWith(' healthy'))).toEqual([]);
    expect(answers.map((a) => `${a.status} ${a.headers['x-casgate-error']}`)).toEqual(answers.map(() => '400 BAD_HOST'));
    expect(casRequests()).toBe(before);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(metrics).not.toMatch(/^casgate_upstream_errors_total\{.*\} [1-9]/m);
  });
});

/** Every kind of malformed request casgate refuses before routing. */
const MALFORMED = [
  getRequest('/owa/', ['Host: mail.contoso.lab', 'Host: evil.example']),
  getRequest('/owa/', ['Host: ']),
  getRequest('/owa/', ['Host: mail contoso.lab']),
  getRequest('/owa/', ['Host: mail.contoso.lab/x']),
  getRequest('/owa/', ['Host: user@mail.contoso.lab']),
  getRequest('/owa/', ['Host: mail.contoso.lab:https']),
  getRequest('/owa/', ['Host: mail.contoso.lab:99999']),
  getRequest('/owa/', ['Host: m\xe4il.contoso.lab']),
  getRequest('/owa/', []),
  getRequest('/owa/..%2fecp/'),
  getRequest('/owa/..;/ecp/'),
  getRequest('/../owa/'),
  getRequest('http://evil.example/owa/'),
  getRequest('/owa/', ['Host: mail.contoso.lab'], 'TRACE'),
  'POST /owa/ HTTP/1.0\r\nHost: mail.contoso.lab\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'CONNECT mail.contoso.lab:443 HTTP/1.1\r\nHost: mail.contoso.lab:443\r\n\r\n',
];

describe('a flood of malformed requests', () => {
  test('leaves every backend healthy, reaches no CAS, and ordinary requests still pass', async () => {
    const before = casRequests();
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(MALFORMED.map((bytes) => rawHttps(gw.port, bytes)));
      for (const [i, res] of answers.entries()) {
        expect([400, 405], `${JSON.stringify(MALFORMED[i]!.slice(0, 60))}: ${res.raw.slice(0, 200)}`).toContain(res.status);
      }
    }
    expect(casRequests()).toBe(before);
    expect((await states()).filter((s) => !s.endsWith(' healthy'))).toEqual([]);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(metrics).not.toMatch(/^casgate_upstream_errors_total\{.*\} [1-9]/m);
    const ok = await rawHttps(gw.port, getRequest('/owa/'));
    expect(ok.status).toBe(302);
  });
});

describe('a request undici refuses to send', () => {
  test('is the request fault: 400, not retried, not held against the backend', async () => {
    const { classifyUpstreamError } = await import('../../src/failure.js');
    const err = Object.assign(new Error('invalid host header'), { code: 'UND_ERR_INVALID_ARG' });
    expect(classifyUpstreamError(err, { connected: false })).toMatchObject({ code: 'BAD_REQUEST', backendFault: false, beforeSend: false });
  });
});
