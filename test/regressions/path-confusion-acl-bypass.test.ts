// Issue 15, item 1: with exchange.adminNetworks: [10.0.0.0/8] and a client on 127.0.0.1, `/ecp/` was 403 but
// `/owa/../ecp/` was 200 and reached the CAS verbatim, which IIS resolves to ECP (ProxyLogon / ProxyShell were
// path-confusion attacks on these virtual directories). The same with `%2e%2e`, `.%2e`, `%2E%2E%2F`, `..%2f`, `..\`
// and `..;`. Now one canonical target is routed, checked and forwarded: every variant is 403 or 400 and the CAS never
// sees it; legitimate requests still pass, and the CAS receives the canonical path.
// Raw TLS sockets: curl and undici would normalise the paths before sending them.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { type TestGateway } from '../helpers/gateway-harness.js';
import { getRequest, rawHttps } from '../helpers/raw-https.js';

let cas: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;

beforeAll(async () => {
  env = await startCasAndGateway(1, {
    exchange: { adminNetworks: ['10.0.0.0/8'] },
    // No probes: every request the CAS counts is one a client sent through casgate.
    pools: { cas: { health: { enabled: false } } },
    routes: [
      { name: 'public', path: '/public', pool: 'cas' },
      { name: 'private', path: '/private', pool: 'cas', allow: ['10.0.0.0/8'] },
    ],
  });
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

/** `{from}` is a path the client may use, `{to}` the restricted one. */
const VARIANTS = [
  '/{from}/../{to}/',
  '/{from}/%2e%2e/{to}/',
  '/{from}/.%2e/{to}/',
  '/{from}/%2e./{to}/',
  '/{from}/%2E%2E%2F{to}/',
  '/{from}/..%2f{to}/',
  '/{from}/..%2F{to}/',
  '/{from}/..\\{to}\\',
  '/{from}/..%5c{to}/',
  '/{from}/..;/{to}/',
  '/{from}/..%3b/{to}/',
  '/{from}/x/../../{to}/',
  '/{from}//../{to}/',
  '/{from}/./../{to}/',
  '/{from}/%2e%2e/{TO}/',
  '/{from}/%u002e%u002e/{to}/',
  '/{from}/%c0%ae%c0%ae/{to}/',
  '/{from}/...%2f{to}/',
  '/{from}/..%00/{to}/',
  '/{from}/../{to}/default.aspx?a=1',
  '//{to}/',
  '/./{to}/',
  '/{to}./',
  '/{to}%20/',
  '/{to}/',
  'http://mail.contoso.lab/{from}/../{to}/',
];

const TARGETS = [
  { to: 'ecp', from: ['owa', 'EWS', 'Microsoft-Server-ActiveSync'] },
  { to: 'PowerShell', from: ['owa', 'EWS'] },
  { to: 'private', from: ['public'] },
];

const cases = TARGETS.flatMap(({ to, from }) =>
  from.flatMap((f) => VARIANTS.map((v) => v.replaceAll('{from}', f).replaceAll('{TO}', to.toUpperCase()).replaceAll('{to}', to))),
);

describe('a restricted path reached through another one', () => {
  test.each(cases)('%s is refused (403 or 400) and never reaches the CAS', async (target) => {
    const before = cas.stats().requests;
    const res = await rawHttps(gw.port, getRequest(target));
    expect([400, 403], `${target}: ${res.raw.slice(0, 200)}`).toContain(res.status);
    expect(['FORBIDDEN_NETWORK', 'BAD_REQUEST']).toContain(res.headers['x-casgate-error']);
    expect(cas.stats().requests, `${target} reached the CAS`).toBe(before);
  });
});

/** [sent, what the CAS must receive] */
const LEGIT: Array<[string, string]> = [
  ['/owa/service.svc?ae=Item&t=IPM.Note&id=alice@contoso.lab', '/owa/service.svc?ae=Item&t=IPM.Note&id=alice@contoso.lab'],
  ['/owa/service.svc?action=GetItem&UA=0&user=alice%40contoso.lab', '/owa/service.svc?action=GetItem&UA=0&user=alice%40contoso.lab'],
  ['/owa/auth/15.2.1118/themes/resources/favicon.ico', '/owa/auth/15.2.1118/themes/resources/favicon.ico'],
  [
    '/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice%40contoso.lab&DeviceId=ABCDEF0123&DeviceType=iPhone',
    '/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice%40contoso.lab&DeviceId=ABCDEF0123&DeviceType=iPhone',
  ],
  ['/EWS/Exchange.asmx', '/EWS/Exchange.asmx'],
  ['/public/a/b.txt?x=/../private/', '/public/a/b.txt?x=/../private/'],
  // Normalised, not refused: the CAS gets the canonical form that was routed and checked.
  ['/owa/x/../service.svc', '/owa/service.svc'],
  ['/%6Fwa/service.svc', '/owa/service.svc'],
  ['/public//a/./b', '/public/a/b'],
  ['/public/caf%c3%a9', '/public/caf%C3%A9'],
];

describe('legitimate requests', () => {
  test.each(['/owa/?ae=Item&id=alice@contoso.lab', '/owa/?user=alice%40contoso.lab', '/OWA/'])(
    '%s reaches the CAS (its OWA logon redirect)',
    async (sent) => {
      const before = cas.stats().requests;
      const res = await rawHttps(gw.port, getRequest(sent));
      expect(res.status, res.raw.slice(0, 300)).toBe(302);
      expect(res.headers['x-feserver']).toBe('cas1');
      expect(cas.stats().requests).toBe(before + 1);
    },
  );

  test.each(LEGIT)('%s reaches the CAS as %s', async (sent, received) => {
    const res = await rawHttps(gw.port, getRequest(sent));
    expect(res.headers['x-casgate-error'], res.raw.slice(0, 300)).toBeUndefined();
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).url).toBe(received);
  });
});
