// Every Exchange virtual directory, in any letter case, reaches the CAS pool through the real proxy;
// matching is on whole path segments; `/` and plain HTTP redirect.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway-harness.js';

let cas1: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;

beforeAll(async () => {
  env = await startCasAndGateway(1, { listen: { http: { address: '127.0.0.1', port: 0 } } });
  cas1 = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

// Paths the mock echoes (not its special OWA/healthcheck/auth answers), spelled as clients spell them.
const VDIR_PATHS = [
  ['ecp', '/ecp/default.aspx'],
  ['ews', '/EWS/Services.wsdl'],
  ['mapi', '/mapi/emsmdb/?MailboxId=x'],
  ['activesync', '/Microsoft-Server-ActiveSync/Proxy'],
  ['oab', '/OAB/1234/oab.xml'],
  ['autodiscover', '/Autodiscover/Autodiscover.xml'],
  ['powershell', '/PowerShell/'],
] as const;

describe('Exchange virtual directories', () => {
  test('/owa/ reaches a CAS: 302 to the logon page, X-FEServer set', async () => {
    const res = await gw.get('/owa/');
    expect(res.status).toBe(302);
    expect(res.headers.location).toMatch(/^\/owa\/auth\/logon\.aspx\?url=/);
    expect(res.headers['x-feserver']).toBe('cas1');
  });

  for (const [service, path] of VDIR_PATHS) {
    for (const spelled of [path, path.toUpperCase(), path.toLowerCase()]) {
      test(`${spelled} goes to pool cas/${service}`, async () => {
        const res = await gw.get(spelled, { method: 'GET', headers: { host: 'mail.contoso.lab', authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=' } });
        expect(res.headers['x-feserver']).toBe('cas1');
        expect(gw.records.at(-1)).toMatchObject({ route: `exchange/${service}`, pool: `cas/${service}`, backend: 'cas1' });
      });
    }
  }

  test('each vdir healthcheck answers through the proxy in any case', async () => {
    for (const vdir of ['owa', 'ECP', 'ews', 'MAPI', 'Rpc', 'microsoft-server-activesync', 'oab', 'AUTODISCOVER']) {
      const res = await gw.get(`/${vdir}/healthcheck.htm`);
      expect(res.status, vdir).toBe(200);
      expect(res.text).toContain('200 OK');
    }
  });

  test('/EWS/mrsproxy.svc takes its own (bridged) route, longest prefix first', async () => {
    await gw.get('/ews/MRSProxy.svc');
    expect(gw.records.at(-1)).toMatchObject({ route: 'exchange/mrsproxy', pool: 'cas/mrsproxy' });
  });

  test('a path that only starts like a vdir is not published: /owafoo is 404', async () => {
    const res = await gw.get('/owafoo/x');
    expect(res.status).toBe(404);
    expect(res.headers['x-casgate-error']).toBe('NO_ROUTE');
    expect(gw.records.at(-1)?.route).toBeUndefined();
  });

  test('/ redirects to /owa/', async () => {
    const res = await gw.get('/');
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/owa/');
  });

  test('plain HTTP answers 301 to the same URL on https', async () => {
    const res = await request(`http://127.0.0.1:${gw.gateway.addresses.http!.port}/owa/?a=1`, { headers: { host: 'mail.contoso.lab' } });
    await res.body.dump();
    expect(res.statusCode).toBe(301);
    expect(res.headers.location).toBe(`https://mail.contoso.lab:${gw.port}/owa/?a=1`);
  });

  test('/ecp from outside the admin networks is refused with 403', async () => {
    const narrowed = await startTestGateway([cas1], { exchange: { adminNetworks: ['10.0.0.0/8'] } });
    try {
      expect((await narrowed.get('/ecp/')).status).toBe(403);
      expect((await narrowed.get('/PowerShell/')).status).toBe(403);
      expect((await narrowed.get('/owa/')).status).toBe(302);
    } finally {
      await narrowed.stop();
    }
  });
});
