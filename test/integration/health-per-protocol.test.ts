// Active health per (pool, backend): a failing EWS probe takes cas1 out of the EWS pool only (OWA keeps using it,
// PowerShell follows EWS); Exchange maintenance (ServerWideOffline) takes it out of every pool within
// fall × interval + one interval, with the probe's answer as the reason; 503 naming the pool when nothing is left.
import { afterEach, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway, type GatewayServers } from '../helpers/cas-and-gateway.js';
import { eventually } from '../helpers/eventually.js';
import type { TestGateway } from '../helpers/gateway-harness.js';
import { mockControl } from '../helpers/mock-control.js';

const INTERVAL = 200;
const FALL = 2;
const fastHealth = {
  pools: {
    cas: {
      health: { interval: `${INTERVAL}ms`, unhealthyInterval: `${INTERVAL}ms`, timeout: '500ms', fall: FALL, rise: 1, jitter: '20ms' },
      outlier: { enabled: false },
      slowStart: 0,
    },
  },
};
const basic = { host: 'mail.contoso.lab', authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=' };

let env: CasAndGateway | undefined;
let cas1: MockCas;
let cas2: MockCas;
let gw: TestGateway;

/** Each test its own cas1, cas2 and gateway (fastHealth): no health override or maintenance outlives it. */
async function start(servers?: GatewayServers): Promise<void> {
  env = await startCasAndGateway(2, fastHealth, undefined, servers);
  [cas1, cas2] = env.cas as [MockCas, MockCas];
  gw = env.gw;
}
afterEach(async () => {
  await env?.stop();
  env = undefined;
});

const backend = (pool: string, name: string) => gw.gateway.pools.get(pool)!.find(name)!;

/** Backends that served `n` requests to `path`, as the access records name them. */
async function servedBy(path: string, n: number, method: 'GET' | 'POST' = 'GET'): Promise<Set<string>> {
  const before = gw.records.length;
  for (let i = 0; i < n; i++) {
    const res = await gw.get(path, { method, headers: basic, ...(method === 'POST' ? { body: 'x' } : {}) });
    expect(res.status, `${method} ${path}: ${res.text}`).toBeLessThan(500);
  }
  return new Set(gw.records.slice(before).map((r) => r.backend!));
}

describe('active health per protocol', () => {
  test('an EWS probe failing on cas1 takes cas1 out of EWS (and PowerShell) only; OWA keeps using it', async () => {
    await start();
    await mockControl(cas1.controlPort, 'health', { vdir: 'ews', status: 500, body: '<html><body>EWS app pool stopped</body></html>' });
    await eventually(() => backend('cas/ews', 'cas1').state === 'unhealthy', { what: 'cas1 down for EWS' });
    expect(backend('cas/ews', 'cas1').reason).toBe('probe GET /EWS/healthcheck.htm: HTTP 500 "EWS app pool stopped"');
    expect(backend('cas/powershell', 'cas1').state).toBe('unhealthy'); // healthFrom: ews
    expect(backend('cas/owa', 'cas1').state).toBe('healthy');
    expect(backend('cas/mapi', 'cas1').state).toBe('healthy');
    expect(backend('cas/ews', 'cas2').state).toBe('healthy');

    expect(await servedBy('/EWS/Exchange.asmx', 10, 'POST')).toEqual(new Set(['cas2']));
    expect(await servedBy('/owa/', 10)).toEqual(new Set(['cas1', 'cas2']));
    expect(gw.logLines.some((l) => /WARN\s+backend down pool=cas\/ews backend=cas1 reason=/.test(l))).toBe(true);
    expect(gw.logLines.some((l) => /backend down pool=cas\/owa/.test(l))).toBe(false);

    // Edges, not levels: more failing probes log nothing more.
    const downLines = () => gw.logLines.filter((l) => l.includes('backend down pool=cas/ews backend=cas1')).length;
    const seen = downLines();
    await mockControl(cas1.controlPort, 'health', { vdir: 'ews', reset: true });
    await eventually(() => backend('cas/ews', 'cas1').state === 'healthy', { what: 'cas1 back for EWS' });
    expect(downLines()).toBe(seen);
    expect(gw.logLines.some((l) => /INFO\s+backend up pool=cas\/ews backend=cas1/.test(l))).toBe(true);
    expect(backend('cas/powershell', 'cas1').state).toBe('healthy');
  });

  test('maintenance mode on cas1 moves all new traffic to cas2 within fall × interval + one interval', async () => {
    await start();
    // Let a few probes pass first (a backend's very first probe decides at once, which would make this too easy).
    const probes = async () => ((await mockControl(cas1.controlPort, 'stats')) as { requestsByVdir: Record<string, number> }).requestsByVdir.owa ?? 0;
    await eventually(async () => (await probes()) >= 2, { what: 'two OWA probes on cas1' });
    await mockControl(cas1.controlPort, 'maintenance', { on: true });
    const t0 = Date.now();
    const probed = [...gw.gateway.pools.values()].filter((p) => p.plan.healthPath || p.plan.healthFrom);
    await eventually(() => probed.every((p) => p.find('cas1')!.state === 'unhealthy'), { what: 'cas1 down everywhere', intervalMs: 10 });
    const elapsed = Date.now() - t0;
    // Each probe may be delayed by up to one jitter (20 ms) and answered in a few ms.
    expect(elapsed).toBeLessThanOrEqual(FALL * INTERVAL + INTERVAL + FALL * 40);
    // Exchange maintenance shows as the probe's answer, not just "down".
    expect(backend('cas/owa', 'cas1').reason).toMatch(/HTTP 503 "Service Unavailable HTTP Error 503\. The service is unavailable\."/);
    for (const path of ['/owa/', '/EWS/Exchange.asmx', '/Microsoft-Server-ActiveSync', '/OAB/x', '/Autodiscover/Autodiscover.xml']) {
      expect(await servedBy(path, 4), path).toEqual(new Set(['cas2']));
    }
    const api = (await gw.get('/owa/')).status; // still served
    expect(api).toBe(302);

    await mockControl(cas1.controlPort, 'maintenance', { on: false });
    await eventually(() => probed.every((p) => p.find('cas1')!.state === 'healthy'), {
      what: 'cas1 back everywhere',
      timeoutMs: 5000,
    }).catch((err) => {
      throw new Error(`${err.message}: ${probed.map((p) => `${p.name}=${p.find('cas1')!.state} ${p.find('cas1')!.reason}`).join('; ')}`);
    });
    expect(await servedBy('/owa/', 10)).toEqual(new Set(['cas1', 'cas2']));
  });

  test('bridged pools probe over HTTPS, verified like traffic: a wrong pin is down with the TLS error', async () => {
    const wrongPin = 'AA:'.repeat(31) + 'AA';
    await start(([first, second]) => [first!, { ...second!, fingerprint256: wrongPin }]);
    await eventually(() => backend('cas/mrsproxy', 'cas2').state === 'unhealthy', { what: 'cas2 mrsproxy down' });
    expect(backend('cas/mrsproxy', 'cas2').reason).toMatch(/probe GET \/EWS\/healthcheck.htm: .*(PIN|pin|fingerprint|certificate)/);
    expect(backend('cas/ews', 'cas2').state).toBe('healthy'); // offloaded: plain HTTP, no certificate involved
    // Give cas1's HTTPS probe time to pass at least once and stay up.
    await eventually(async () => (((await mockControl(cas1.controlPort, 'stats')) as { requestsByVdir: Record<string, number> }).requestsByVdir.ews ?? 0) >= 4);
    expect(backend('cas/mrsproxy', 'cas1').state).toBe('healthy');
  });

  test('200 without "200 OK" in the body, a 401 or a slow probe all count as down', async () => {
    await start();
    await mockControl(cas1.controlPort, 'health', { vdir: 'owa', status: 200, body: 'IIS default page' });
    await mockControl(cas1.controlPort, 'health', { vdir: 'oab', status: 401, body: 'Unauthorized' });
    await mockControl(cas1.controlPort, 'health', { vdir: 'mapi', status: 200, delayMs: 2000 });
    await eventually(() => ['cas/owa', 'cas/oab', 'cas/mapi'].every((p) => backend(p, 'cas1').state === 'unhealthy'), { what: 'three pools down' });
    expect(backend('cas/owa', 'cas1').reason).toContain('HTTP 200 without "200 OK"');
    expect(backend('cas/oab', 'cas1').reason).toContain('HTTP 401');
    expect(backend('cas/mapi', 'cas1').reason).toContain('timed out after 500 ms');
    expect(backend('cas/ews', 'cas1').state).toBe('healthy');
  });

  test('with every server down the client gets 503 naming the pool, at once; the admin API shows why', async () => {
    await start();
    await mockControl(cas1.controlPort, 'health', { vdir: 'oab', status: 503 });
    await mockControl(cas2.controlPort, 'health', { vdir: 'oab', status: 503 });
    await eventually(() => gw.gateway.pools.get('cas/oab')!.backends.every((b) => b.state === 'unhealthy'), { what: 'oab pool down' });
    const t0 = performance.now();
    const res = await gw.get('/OAB/x', { headers: basic });
    expect(performance.now() - t0).toBeLessThan(200);
    expect(res.status).toBe(503);
    expect(res.text).toContain('pool cas/oab');
    expect((await gw.get('/EWS/Exchange.asmx', { method: 'POST', body: 'x', headers: basic })).status).toBe(200);

    const { request } = await import('undici');
    const listing = (await (await request(`${gw.adminUrl}/api/pools`)).body.json()) as { pools: Array<{ name: string; available: number; backends: Array<{ name: string; state: string; reason: string }> }> };
    const oab = listing.pools.find((p) => p.name === 'cas/oab')!;
    expect(oab.available).toBe(0);
    expect(oab.backends.map((b) => b.state)).toEqual(['unhealthy', 'unhealthy']);
    expect(oab.backends[0]!.reason).toContain('probe GET /OAB/healthcheck.htm: HTTP 503');
  });
});
