// exchange.mitigations on real sockets: each known-exploit rule against public exploit request shapes (several
// encodings each) is refused with 403 before any backend is chosen; a table of legitimate Exchange requests
// reaches the CAS untouched. Also: a rule turned off by name lets its shape through; the refusal is logged once per
// address per minute, counted in /metrics and listed on the status page.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { provisionConfig } from '../../src/runtime/provision.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import type { TestGateway } from '../helpers/gateway-harness.js';
import { call } from '../helpers/mock-cas-client.js';

let cas1: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;

beforeAll(async () => {
  // No health probes: the mock's request counter then counts only what the proxy forwarded.
  env = await startCasAndGateway(1, { pools: { cas: { health: { enabled: false } } } });
  cas1 = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

const BASIC = `Basic ${Buffer.from('alice:Passw0rd').toString('base64')}`;

interface Shape {
  rule: string;
  path: string;
  /** The canonical request target refuses it first (400 BAD_REQUEST: backslash, encoded slash; router/request-target.ts). */
  canonicalRefuses?: true;
  method?: string;
  headers?: Record<string, string>;
}

// Public exploit request shapes (PoCs and write-ups cited in config/exchange-mitigations.ts), each in several spellings.
const EXPLOITS: Shape[] = [
  // ProxyLogon: routing cookies naming host + path.
  { rule: 'proxylogon', path: '/ecp/y.js', headers: { cookie: 'X-BEResource=localhost/owa/auth/logon.aspx?~1942062522' } },
  { rule: 'proxylogon', path: '/owa/auth/x.js', headers: { cookie: 'X-AnonResource=true; X-AnonResource-Backend=localhost/ecp/default.flt?~3; X-BEResource=localhost/owa/auth/logon.aspx?~3;' } },
  { rule: 'proxylogon', path: '/ecp/target.js', headers: { cookie: 'x-beresource=Administrator@EX01:444/ecp/proxyLogon.ecp#~1941962753' } },
  { rule: 'proxylogon', path: '/ecp/a.js', headers: { cookie: 'ClientId=1; X-BeResource=localhost%2Fecp%2Fx.ecp%3F~1942062522' } },
  { rule: 'proxylogon', path: '/owa/auth/y.js', headers: { 'X-BEResource': 'localhost/ecp/DDI/DDIService.svc/GetObject?~1942062522' } },
  { rule: 'proxylogon', path: '/owa/auth/y.js', headers: { 'x-anonresource-backend': 'attacker.example\\ecp\\x~1' } },
  // ProxyShell: Autodiscover explicit-logon path confusion.
  { rule: 'proxyshell', path: '/autodiscover/autodiscover.json?@evil.corp/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.corp' },
  { rule: 'proxyshell', path: '/autodiscover/autodiscover.json?@foo.com/powershell/?X-Rps-CAT=VgEAVAdXaW5kb3dz&Email=autodiscover/autodiscover.json%3F@foo.com' },
  { rule: 'proxyshell', path: '/AutoDiscover/AutoDiscover.JSON?@x.com/EWS/exchange.asmx?&Email=AutoDiscover/AutoDiscover.json%3f@x.com' },
  { rule: 'proxyshell', path: '/autodiscover/autodiscover%2ejson?%40evil.corp%2Fmapi%2Fnspi%2F%3F%26Email%3Dautodiscover%2Fautodiscover.json%253F%40evil.corp' },
  { rule: 'proxyshell', path: '//autodiscover//autodiscover.json?@evil.corp/mapi/nspi/' },
  { rule: 'proxyshell', path: '/autodiscover/x/../autodiscover.json?a=1&b=x@y/Microsoft-Server-ActiveSync' },
  { rule: 'proxyshell-email', path: '/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.corp' },
  { rule: 'proxyshell-email', path: '/EWS/Exchange.asmx?EMAIL=Autodiscover%u002fAutodiscover.json%u003f@x' },
  { rule: 'proxyshell-email', path: '/owa/?x=1&email=autodiscover%252fautodiscover.json' },
  // ProxyNotShell: Microsoft's rule, decoded REQUEST_URI with both words, anywhere and in any case.
  { rule: 'proxynotshell', path: '/autodiscover/autodiscover.json?a@foo.var/&Protocol=XYZ&FooProtocol=%50owershell' },
  { rule: 'proxynotshell', path: '/Autodiscover/autodiscover.json?x=PoWeRsHeLl' },
  { rule: 'proxynotshell', path: '/autodiscover/%70owershell' },
  { rule: 'proxynotshell', path: '/%61utodiscover/autodiscover.json/v1.0/x?Protocol=%2550owershell' },
  { rule: 'proxynotshell', path: '/powershell/?a=autodiscover' },
  { rule: 'proxynotshell', path: '/autodiscover\\..\\powershell\\', canonicalRefuses: true },
  // OWASSRF: /owa/<mailbox>/powershell.
  { rule: 'owassrf', path: '/owa/mastermailbox%40outlook.com/powershell' },
  { rule: 'owassrf', path: '/owa/alice@contoso.com/PowerShell/?clientApplication=x' },
  { rule: 'owassrf', path: '/OWA/x%2fPOWERSHELL', canonicalRefuses: true },
  { rule: 'owassrf', path: '/owa//mailbox\\powershell', canonicalRefuses: true },
  { rule: 'owassrf', path: '/owa/a/./b/%2570owershell/' },
  // ProxyOracle: script in the OWA error page's parameters.
  { rule: 'proxyoracle', path: '/owa/auth/frowny.aspx?app=people&et=ServerError&esrc=MasterPage&te=\\&refurl=}}};alert(document.domain)//' },
  { rule: 'proxyoracle', path: '/OWA/auth/Frowny.aspx?refurl=%3Cscript%3Ealert(1)%3C/script%3E' },
];

interface Legit {
  name: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

const LEGITIMATE: Legit[] = [
  {
    name: 'Autodiscover v1 POST',
    path: '/autodiscover/autodiscover.xml',
    method: 'POST',
    headers: { 'content-type': 'text/xml', authorization: BASIC },
    body: '<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@contoso.com</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>',
  },
  { name: 'Autodiscover v2 ActiveSync', path: '/autodiscover/autodiscover.json/v1.0/alice@contoso.com?Protocol=ActiveSync' },
  { name: 'Autodiscover v2 EWS', path: '/autodiscover/autodiscover.json/v1.0/alice@contoso.com?Protocol=EWS' },
  { name: 'Autodiscover v2 query form', path: '/Autodiscover/Autodiscover.json?Email=alice%40contoso.com&Protocol=ActiveSync&RedirectCount=1' },
  {
    name: 'OWA with ordinary cookies',
    path: '/owa/service.svc?action=GetOwaUserConfiguration&UA=0',
    method: 'POST',
    headers: {
      authorization: BASIC,
      cookie:
        'ClientId=8F2D4C9A1B; X-OWA-CANARY=k3j4h5g6f7d8s9a0; cadata=abc%2Fdef; X-BackEndCookie=S-1-5-21-1-2-3-1104=u56Lnp2ejJqBx8rKz8zJycnSnM7Gz8vSy8fHytLGzcfLysrHz8fGy8c=; X-BEResource=cas1.contoso.lab~1942062522',
      'x-owa-actionname': 'GetOwaUserConfiguration',
    },
    body: '{}',
  },
  { name: 'OWA logon page', path: '/owa/auth/logon.aspx?url=https%3a%2f%2fmail.contoso.lab%2fowa%2f&reason=0' },
  { name: 'OWA error page (genuine)', path: '/owa/auth/frowny.aspx?app=owa&et=ServerError&refurl=https%3a%2f%2fmail.contoso.lab%2fowa%2f' },
  {
    name: 'EWS',
    path: '/EWS/Exchange.asmx',
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8', authorization: BASIC },
    body: '<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>',
  },
  {
    name: 'ActiveSync with a user in the query',
    path: '/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=alice%40contoso.com&DeviceId=ABCDEF0123&DeviceType=iPhone',
    method: 'POST',
    headers: { 'content-type': 'application/vnd.ms-sync.wbxml', authorization: BASIC, 'ms-asprotocolversion': '16.1' },
    body: '\u0003\u0001j\u0000',
  },
  { name: 'MAPI', path: '/mapi/emsmdb/?MailboxId=0b1c2d3e-aaaa-bbbb-cccc-0123456789ab@contoso.lab', method: 'POST', headers: { authorization: BASIC, 'content-type': 'application/mapi-http', 'x-requesttype': 'Connect', 'x-clientinfo': '{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:1', 'x-requestid': '{E2EA6C1C-E61B-49E9-9CFB-38184F907552}:1' }, body: '' },
  { name: 'PowerShell from an admin network', path: '/PowerShell/?serializationLevel=Full;ExchClientVer=15.2.1118.7;clientApplication=ManagementShell', method: 'POST', headers: { authorization: BASIC, 'content-type': 'application/soap+xml;charset=UTF-8' }, body: '<s:Envelope/>' },
  { name: 'ECP from an admin network', path: '/ecp/?ExchClientVer=15.2' },
  { name: 'OAB', path: '/OAB/0b1c2d3e/oab.xml', headers: { authorization: BASIC } },
];

function send(path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return call({ tls: true, port: gw.port, path, method: opts.method ?? 'GET', headers: { host: 'mail.contoso.lab', ...opts.headers }, body: opts.body });
}

describe('known-exploit mitigations (real gateway, mock CAS)', () => {
  test.each(EXPLOITS.map((e) => [e.rule, e.path, e] as const))('%s refuses %s', async (_rule, _path, shape) => {
    const before = cas1.stats().requests;
    const res = await send(shape.path, { method: shape.method, headers: shape.headers });
    const [status, code] = shape.canonicalRefuses ? [400, 'BAD_REQUEST'] : [403, 'KNOWN_EXPLOIT'];
    expect(res.status).toBe(status);
    expect(res.headers['x-casgate-error']).toBe(code);
    expect(res.headers['x-feserver']).toBeUndefined();
    const record = gw.records.at(-1)!;
    expect(record).toMatchObject({ error: code, status, attempts: 0 });
    expect(record.backend).toBeUndefined();
    if (!shape.canonicalRefuses) expect(record.errorDetail).toContain(shape.rule + ' (');
    expect(cas1.stats().requests).toBe(before);
  });

  test.each(LEGITIMATE.map((l) => [l.name, l] as const))('%s reaches the CAS untouched', async (_name, legit) => {
    const res = await send(legit.path, legit);
    expect(res.headers['x-casgate-error'], res.text).toBeUndefined();
    expect(res.status).not.toBe(403);
    expect(res.headers['x-feserver']).toBe('cas1');
    expect(gw.records.at(-1)?.error).toBeUndefined();
    if (res.headers['content-type']?.includes('application/json') && res.text.includes('"rawHeaders"')) {
      const echo = res.json<{ url: string; rawHeaders: [string, string][] }>();
      expect(echo.url).toBe(legit.path);
      if (legit.headers?.cookie) expect(echo.rawHeaders.find(([k]) => k.toLowerCase() === 'cookie')?.[1]).toBe(legit.headers.cookie);
    }
  });

  test('each refusal is counted per rule with its CVEs; the status page and /api/status list every rule', async () => {
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    const count = (rule: string) => Number(new RegExp(`casgate_mitigation_refusals_total\\{rule="${rule}",cve="[^"]+"\\} (\\d+)`).exec(metrics)?.[1]);
    const named = EXPLOITS.filter((e) => !e.canonicalRefuses);
    for (const rule of new Set(named.map((e) => e.rule))) expect(count(rule), rule).toBe(named.filter((e) => e.rule === rule).length);
    expect(metrics).toContain('casgate_mitigation_refusals_total{rule="proxynotshell",cve="CVE-2022-41040,CVE-2022-41082"}');
    const status = (await (await fetch(`${gw.adminUrl}/api/status`)).json()) as { mitigations: Array<{ name: string; enabled: boolean; refusals: number }> };
    expect(status.mitigations.map((m) => m.name)).toEqual(['proxylogon', 'proxyshell', 'proxyshell-email', 'proxynotshell', 'owassrf', 'proxyoracle']);
    expect(status.mitigations.every((m) => m.enabled)).toBe(true);
    const page = await (await fetch(`${gw.adminUrl}/`)).text();
    expect(page).toContain('Known-exploit mitigations');
    expect(page).toContain('CVE-2022-41080');
  });

  test('logged once per address per minute, with rule name and CVE', () => {
    const lines = gw.logLines.filter((l) => l.includes('known Exchange exploit'));
    // One line per rule for 127.0.0.1 (every test request came from there), however many refusals.
    expect(lines.filter((l) => l.includes('rule=owassrf'))).toHaveLength(1);
    expect(lines.find((l) => l.includes('rule=owassrf'))).toMatch(/cve=CVE-2022-41080,CVE-2022-41082 client=127\.0\.0\.1/);
    expect(lines).toHaveLength(new Set(EXPLOITS.map((e) => e.rule)).size);
  });
});

describe('a rule turned off by name', () => {
  test('exchange.mitigations.owassrf: false lets /owa/<mailbox>/powershell through; the others still apply; a reload turns it back on', async () => {
    const env = await startCasAndGateway(1, { exchange: { mitigations: { owassrf: false } } });
    const off = env.gw;
    try {
      const get = (path: string) => call({ tls: true, port: off.port, path, headers: { host: 'mail.contoso.lab' } });
      expect((await get('/owa/mastermailbox%40outlook.com/powershell')).headers['x-feserver']).toBe('cas1');
      expect((await get('/autodiscover/autodiscover.json?x=powershell')).status).toBe(403);
      const reloaded = off.gateway.reload(provisionConfig({ ...off.gateway.config, exchange: { ...off.gateway.config.exchange!, mitigations: { ...off.gateway.config.exchange!.mitigations, owassrf: true } } }));
      expect(reloaded.ok).toBe(true);
      expect((await get('/owa/mastermailbox%40outlook.com/powershell')).status).toBe(403);
    } finally {
      await env.stop();
    }
  });
});
