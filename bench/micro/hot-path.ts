// Micro-benchmarks for the per-request hot functions (issue 5): route match over the Exchange preset's routes,
// balancer pick over a 4-server pool (one down, one excluded as already tried), request and response header rewrite
// with the headers Outlook and IIS send, and the canonical request (target and Host) every request goes through.
// Also the shield's per-request work: the known-exploit check and reading the user from an Authorization header.
//   node --expose-gc bench/dist/bench/micro/hot-path.js [route|pick|headers|target|shield]
import type { Dispatcher } from 'undici';
import { parseConfig } from '../../src/config/load.js';
import { buildPlan } from '../../src/config/plan.js';
import { createLogger } from '../../src/logging/logger.js';
import { identityFromAuthorization } from '../../src/proxy/auth-identity.js';
import { clientResponseHeaders, upstreamRequestHeaders } from '../../src/proxy/headers.js';
import { Mitigations } from '../../src/proxy/mitigations.js';
import { requestHost } from '../../src/router/request-host.js';
import { canonicalTarget } from '../../src/router/request-target.js';
import { Router } from '../../src/router/router.js';
import { Backend } from '../../src/upstream/backend.js';
import { createBalancer } from '../../src/upstream/balancer/index.js';
import { originOf } from '../../src/upstream/connections.js';
import { UpstreamPool } from '../../src/upstream/pool.js';
import { runMicro } from './run.js';

const CONFIG = `
listen:
  https: { port: 8443 }
certificates:
  - { cert: a.crt, key: a.key }
pools:
  cas:
    servers:
      - { name: cas1, host: 10.0.0.11 }
      - { name: cas2, host: 10.0.0.12 }
      - { name: cas3, host: 10.0.0.13 }
      - { name: cas4, host: 10.0.0.14 }
exchange:
  pool: cas
  hostnames: [mail.contoso.com, autodiscover.contoso.com]
`;
const plan = buildPlan(parseConfig(CONFIG, '/etc/casgate/casgate.yaml', {}));
const only = process.argv[2];
let i = 0;

if (!only || only === 'route') {
  const router = new Router(plan.routes);
  const requests: [string, string][] = [
    ['mail.contoso.com', '/mapi/emsmdb/?MailboxId=6c7a0d2e-1b5c-4d1e-9a61-0c1a2b3c4d5e@contoso.com'],
    ['mail.contoso.com', '/EWS/Exchange.asmx'],
    ['mail.contoso.com:443', '/owa/service.svc?action=GetItem&EP=1&ID=-41&AC=1'],
    ['autodiscover.contoso.com', '/Autodiscover/Autodiscover.xml'],
    ['mail.contoso.com', '/Microsoft-Server-ActiveSync?Cmd=Ping&User=jdoe&DeviceId=ABC123&DeviceType=iPhone'],
    ['mail.contoso.com', '/nothing/here'],
  ];
  runMicro(`route match (${plan.routes.length} routes, Exchange preset)`, [
    { name: 'Router.match', fn: () => { const r = requests[i++ % requests.length]!; return router.match(r[0], r[1]); } },
  ]);
}

if (!only || only === 'pick') {
  const pool = plan.pools.find((p) => p.name.endsWith('/ews'))!;
  const dispatcher = {} as Dispatcher;
  const backends = pool.config.servers.map((s) => new Backend(pool.name, s, originOf(s, pool.mode, pool.config.tls), dispatcher));
  backends[2]!.state = 'unhealthy';
  backends[0]!.active = 3;
  const tried = new Set([backends[1]!]);
  const ctx = { clientIp: '192.0.2.10' };
  const lc = new UpstreamPool(pool, backends, createBalancer({ ...pool.config, balance: 'least-conn' }));
  const rr = new UpstreamPool(pool, backends, createBalancer({ ...pool.config, balance: 'round-robin' }));
  runMicro('balancer pick (4 servers, 1 down)', [
    { name: 'least-conn pick()', fn: () => lc.pick(ctx) },
    { name: 'least-conn pick(), 1 already tried', fn: () => lc.pick(ctx, tried) },
    { name: 'round-robin pick()', fn: () => rr.pick(ctx) },
  ]);
}

if (!only || only === 'headers') {
  const outlook = [
    'Host', 'mail.contoso.com', 'User-Agent', 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)',
    'Content-Type', 'application/mapi-http', 'X-RequestType', 'Execute', 'X-RequestId', '{E2EA6C1C-AE5E-4D1D-8D6D-4BF1E7B6A4D1}:12',
    'X-ClientInfo', '{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:42', 'X-ClientApplication', 'Outlook/16.0.17928.20114',
    'Authorization', 'Negotiate TlRMTVNTUAADAAAAGAAYAHgAAAAYABgAkAAAAAAAAABIAAAA', 'Cookie', 'MapiContext=abc; MapiSequence=7-1',
    'Content-Length', '312', 'Connection', 'Keep-Alive', 'Accept', '*/*',
  ];
  const ctx = { clientIp: '192.0.2.10', trustForwarded: false, listenerPort: 443, fallbackHost: 'cas1' };
  const iis = [
    'Cache-Control', 'private', 'Content-Type', 'application/mapi-http', 'Server', 'Microsoft-IIS/10.0',
    'request-id', 'c9c0d2f1-7e3a-4b4e-9d1e-5f6a7b8c9d0e', 'X-RequestType', 'Execute', 'X-ResponseCode', '0',
    'X-ClientInfo', '{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:42', 'X-PendingPeriod', '15000', 'X-ExpirationInfo', '900000',
    'X-CalculatedBETarget', 'cas1.contoso.com', 'X-DiagInfo', 'CAS1', 'X-BEServer', 'CAS1', 'X-AspNet-Version', '4.0.30319',
    'Set-Cookie', 'MapiSequence=7-2; path=/mapi/', 'X-Powered-By', 'ASP.NET', 'Date', 'Sun, 22 Nov 2026 08:00:00 GMT',
    'Content-Length', '1024',
  ].map((s) => Buffer.from(s, 'latin1'));
  runMicro('header rewrite (Outlook MAPI request, IIS response)', [
    { name: `upstreamRequestHeaders (${outlook.length / 2} lines)`, fn: () => upstreamRequestHeaders(outlook, ctx) },
    { name: `clientResponseHeaders (${iis.length / 2} lines)`, fn: () => clientResponseHeaders(iis) },
  ]);
}

if (!only || only === 'target') {
  // What clients send (the common case: one scan, no copy), and what the slow path costs (escapes, dot segments).
  const common = [
    '/mapi/emsmdb/?MailboxId=6c7a0d2e-1b5c-4d1e-9a61-0c1a2b3c4d5e@contoso.com',
    '/EWS/Exchange.asmx',
    '/owa/service.svc?action=GetItem&EP=1&ID=-41&AC=1',
    '/Microsoft-Server-ActiveSync?Cmd=Ping&User=jdoe%40contoso.com&DeviceId=ABC123&DeviceType=iPhone',
    '/owa/auth/15.2.1118/themes/resources/favicon.ico',
  ];
  const slow = ['/owa/%2e%2e/ecp/default.aspx', '/owa/auth/15.2.1118/scripts/../themes/x.css', '/OWA/caf%C3%A9/%41b?x=1'];
  const raw = ['Host', 'mail.contoso.com', 'User-Agent', 'Microsoft Office/16.0', 'Authorization', 'Negotiate abc', 'Cookie', 'a=b', 'Content-Length', '312', 'Connection', 'Keep-Alive'];
  runMicro('canonical request (target, Host)', [
    { name: 'canonicalTarget, common targets', fn: () => canonicalTarget(common[i++ % common.length]!) },
    { name: 'canonicalTarget, escapes and dot segments', fn: () => canonicalTarget(slow[i++ % slow.length]!) },
    { name: `requestHost (${raw.length / 2} lines)`, fn: () => requestHost(raw, '1.1', false) },
  ]);
}

if (!only || only === 'shield') {
  const config = parseConfig(CONFIG, '/etc/casgate/casgate.yaml', {});
  const mitigations = new Mitigations(config.exchange!.mitigations, createLogger('error'));
  const targets = [
    '/mapi/emsmdb/?MailboxId=6c7a0d2e-1b5c-4d1e-9a61-0c1a2b3c4d5e@contoso.com',
    '/EWS/Exchange.asmx',
    '/owa/service.svc?action=GetItem&EP=1&ID=-41&AC=1',
    '/Microsoft-Server-ActiveSync?Cmd=Ping&User=jdoe%40contoso.com&DeviceId=ABC123&DeviceType=iPhone',
  ];
  const owaHeaders = { cookie: 'ClientId=8F2D4C9A1B; X-OWA-CANARY=k3j4h5g6f7d8s9a0k3j4h5g6f7d8s9a0; cadata=' + 'x'.repeat(400) + '; X-BackEndCookie=S-1-5-21=u56Lnp2ej' };
  const basic = 'Basic ' + Buffer.from('CONTOSO\\alice:Passw0rd').toString('base64');
  runMicro('shield (known-exploit check, user from Authorization)', [
    { name: 'Mitigations.check, no cookie', fn: () => mitigations.check(targets[i++ % targets.length]!, {}, '192.0.2.10') },
    { name: 'Mitigations.check, OWA cookies', fn: () => mitigations.check(targets[2]!, owaHeaders, '192.0.2.10') },
    { name: 'identityFromAuthorization, Basic', fn: () => identityFromAuthorization(basic) },
  ]);
}
