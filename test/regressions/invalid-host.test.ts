// Issue 15, item 7: invalid Host values passed, as Host and as X-Forwarded-Host (empty, with a space, `/`, `@`, a
// non-numeric port, non-ASCII), and the HTTP listener copied the Host into its redirect:
// `curl -i -H 'Host: evil.example' http://HOST/owa/` → `Location: https://evil.example/owa/`.
// Now: 400 BAD_HOST before routing, nothing reaches the CAS; the redirect names a published host.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { type TestGateway } from '../helpers/gateway-harness.js';
import { getRequest, rawHttp, rawHttps } from '../helpers/raw-https.js';

let cas: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;

beforeAll(async () => {
  env = await startCasAndGateway(1, {
    listen: { http: { address: '127.0.0.1', port: 0 }, trustForwardedFrom: ['127.0.0.1'] },
    pools: { cas: { health: { enabled: false } } },
    routes: [{ name: 'lync', host: ['meet.contoso.lab', '*.lync.contoso.lab'], path: '/meet', pool: 'cas' }],
  });
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

const INVALID = [
  '',
  ' ',
  'mail contoso.lab',
  'mail.contoso.lab/owa',
  'mail.contoso.lab\\x',
  'alice@mail.contoso.lab',
  'mail.contoso.lab:https',
  'mail.contoso.lab:',
  'mail.contoso.lab:0',
  'mail.contoso.lab:65536',
  'mail.contoso.lab:443:443',
  'm\xe4il.contoso.lab',
  'mail..contoso.lab',
  '.contoso.lab',
  'mail.contoso.lab?x',
  'mail.contoso.lab#x',
  '[::1',
  '[not-v6]',
  '[::1]x',
  'mail,contoso.lab',
  'mail.contoso.lab, evil.example',
  `${'a'.repeat(64)}.contoso.lab`,
];

const VALID = ['mail.contoso.lab', 'MAIL.contoso.lab:443', 'mail.contoso.lab.', '127.0.0.1', '127.0.0.1:8443', '[::1]', '[::1]:443', 'cas_01.contoso.lab'];

describe('Host', () => {
  test.each(INVALID)('%j is a 400 BAD_HOST and never reaches the CAS', async (host) => {
    const before = cas.stats().requests;
    const res = await rawHttps(gw.port, getRequest('/EWS/Exchange.asmx', [`Host: ${host}`]));
    expect(res.status, res.raw.slice(0, 200)).toBe(400);
    expect(res.headers['x-casgate-error']).toBe('BAD_HOST');
    expect(cas.stats().requests).toBe(before);
  });

  test.each(VALID)('%j passes, and the CAS receives it as Host and X-Forwarded-Host', async (host) => {
    const res = await rawHttps(gw.port, getRequest('/EWS/Exchange.asmx', [`Host: ${host}`]));
    expect(res.status, res.raw.slice(0, 200)).toBe(200);
    const echo = JSON.parse(res.body) as { headers: Record<string, string> };
    expect(echo.headers.host).toBe(host);
    expect(echo.headers['x-forwarded-host']).toBe(host);
  });
});

describe('X-Forwarded-Host from a trusted peer', () => {
  test.each(INVALID.filter((h) => h.trim() !== '' && !h.includes(',')))('%j is a 400 BAD_HOST', async (value) => {
    const before = cas.stats().requests;
    const res = await rawHttps(gw.port, getRequest('/EWS/Exchange.asmx', ['Host: mail.contoso.lab', `X-Forwarded-Host: ${value}`]));
    expect(res.status, res.raw.slice(0, 200)).toBe(400);
    expect(res.headers['x-casgate-error']).toBe('BAD_HOST');
    expect(cas.stats().requests).toBe(before);
  });

  test('a valid chain passes; the CAS receives the validated Host as X-Forwarded-Host', async () => {
    const res = await rawHttps(gw.port, getRequest('/EWS/Exchange.asmx', ['Host: mail.contoso.lab', 'X-Forwarded-Host: mail.contoso.lab, edge.contoso.lab']));
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.body) as { rawHeaders: Array<[string, string]> };
    expect(echo.rawHeaders.filter(([n]) => n.toLowerCase() === 'x-forwarded-host')).toEqual([['x-forwarded-host', 'mail.contoso.lab']]);
  });
});

describe('the HTTP → HTTPS redirect', () => {
  const location = async (host: string | undefined, target = '/owa/') => {
    const res = await rawHttp(gw.gateway.addresses.http!.port, `GET ${target} HTTP/1.1\r\n${host === undefined ? '' : `Host: ${host}\r\n`}Connection: close\r\n\r\n`);
    return `${res.status} ${res.headers.location ?? ''}`;
  };

  test('names a published host, never the one the client made up', async () => {
    expect(await location('evil.example')).toBe(`301 https://mail.contoso.lab:${gw.port}/owa/`);
    expect(await location('evil.example:80')).toBe(`301 https://mail.contoso.lab:${gw.port}/owa/`);
    expect(await location('alice@evil.example')).toBe(`301 https://mail.contoso.lab:${gw.port}/owa/`);
    expect(await location('')).toBe(`301 https://mail.contoso.lab:${gw.port}/owa/`);
  });

  test('keeps a published host (Exchange names, route hosts, wildcards)', async () => {
    expect(await location('autodiscover.contoso.lab')).toBe(`301 https://autodiscover.contoso.lab:${gw.port}/owa/`);
    expect(await location('MEET.contoso.lab:80', '/meet/x?a=1')).toBe(`301 https://meet.contoso.lab:${gw.port}/meet/x?a=1`);
    expect(await location('dialin.lync.contoso.lab')).toBe(`301 https://dialin.lync.contoso.lab:${gw.port}/owa/`);
  });

  test('carries the canonical path, and refuses a target it would not route', async () => {
    expect(await location('mail.contoso.lab', '/owa/%2e%2e/ecp/')).toBe(`301 https://mail.contoso.lab:${gw.port}/ecp/`);
    expect(await location('mail.contoso.lab', '/owa/..%2fecp/')).toBe('400 ');
  });
});
