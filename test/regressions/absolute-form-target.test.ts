// Issue 15, item 6: `GET http://evil.example/owa/x` with `Host: mail.contoso.lab` reached the CAS as
// `GET http://evil.example/owa/x` with `Host: mail.contoso.lab`: casgate and the CAS disagreed on the target.
// RFC 9112 §3.2.2: the authority replaces Host. Now the authority must be a published name, routes by it like any
// Host, and the CAS receives origin-form with the authority as Host.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { provisionConfig } from '../../src/runtime/provision.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { baseConfig, deepMerge, type TestGateway } from '../helpers/gateway-harness.js';
import { getRequest, rawHttps } from '../helpers/raw-https.js';

let cas: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;
const OVERRIDES = {
  exchange: { adminNetworks: ['10.0.0.0/8'] },
  pools: { cas: { health: { enabled: false } } },
  routes: [{ name: 'meet', host: 'meet.contoso.lab', path: '/meet', pool: 'cas' }],
};

beforeAll(async () => {
  env = await startCasAndGateway(1, OVERRIDES);
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

interface Echo {
  url: string;
  headers: Record<string, string>;
}

describe('absolute-form request targets', () => {
  test('an unpublished authority is a 400 BAD_HOST and never reaches the CAS', async () => {
    for (const target of ['http://evil.example/owa/x', 'https://evil.example/EWS/Exchange.asmx', 'http://127.0.0.2/owa/']) {
      const before = cas.stats().requests;
      const res = await rawHttps(gw.port, getRequest(target));
      expect(res.status, `${target}: ${res.raw.slice(0, 200)}`).toBe(400);
      expect(res.headers['x-casgate-error']).toBe('BAD_HOST');
      expect(cas.stats().requests).toBe(before);
    }
  });

  test('a published authority replaces Host; the CAS receives origin-form', async () => {
    const res = await rawHttps(gw.port, getRequest('http://mail.contoso.lab/EWS/Exchange.asmx?a=1', ['Host: other.contoso.lab']));
    expect(res.status, res.raw.slice(0, 300)).toBe(200);
    const echo = JSON.parse(res.body) as Echo;
    expect(echo.url).toBe('/EWS/Exchange.asmx?a=1');
    expect(echo.headers.host).toBe('mail.contoso.lab');
    expect(echo.headers['x-forwarded-host']).toBe('mail.contoso.lab');

    const withPort = await rawHttps(gw.port, getRequest('HTTPS://Autodiscover.contoso.lab:443/Autodiscover/Autodiscover.xml', ['Host: mail.contoso.lab']));
    expect(withPort.status).toBe(200);
    expect((JSON.parse(withPort.body) as Echo).headers.host).toBe('Autodiscover.contoso.lab:443');
  });

  test('routes by the authority, not by Host', async () => {
    const viaAuthority = await rawHttps(gw.port, getRequest('http://meet.contoso.lab/meet/x', ['Host: mail.contoso.lab']));
    expect(viaAuthority.status).toBe(200);
    expect(gw.records.at(-1)?.route).toBe('meet');
    const viaHostOnly = await rawHttps(gw.port, getRequest('http://mail.contoso.lab/meet/x', ['Host: meet.contoso.lab']));
    expect(viaHostOnly.status).toBe(404);
  });

  test('is canonicalised like any target: no ACL bypass through it', async () => {
    for (const target of ['http://mail.contoso.lab/owa/../ecp/', 'http://mail.contoso.lab/owa/%2e%2e/PowerShell/', 'http://mail.contoso.lab/owa/..%2fecp/']) {
      const before = cas.stats().requests;
      const res = await rawHttps(gw.port, getRequest(target));
      expect([400, 403], target).toContain(res.status);
      expect(cas.stats().requests).toBe(before);
    }
    const userinfo = await rawHttps(gw.port, getRequest('http://alice@mail.contoso.lab/owa/'));
    expect(userinfo.status).toBe(400);
  });

  test('the published names follow a reload', async () => {
    const target = 'http://webmail.contoso.lab/EWS/Exchange.asmx';
    expect((await rawHttps(gw.port, getRequest(target))).status).toBe(400);
    const withName = deepMerge(deepMerge(baseConfig([cas]), OVERRIDES), { exchange: { hostnames: ['mail.contoso.lab', 'webmail.contoso.lab'] } });
    expect(gw.gateway.reload(provisionConfig(parseConfig(stringify(withName), 'test.yaml', {}))).ok).toBe(true);
    const res = await rawHttps(gw.port, getRequest(target));
    expect(res.status, res.raw.slice(0, 200)).toBe(200);
    expect((JSON.parse(res.body) as Echo).headers.host).toBe('webmail.contoso.lab');
  });
});
