// Admin drain: a draining backend finishes its in-flight requests and gets no new ones; after the drain deadline
// its long-lived requests are closed; enable brings it back. The admin API needs the bearer token. Cookie affinity
// through the proxy: the cookie is set when missing or stale, and a client with it sticks to its server.
import { request } from 'undici';
import { afterEach, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { eventually } from '../helpers/eventually.js';
import type { TestGateway } from '../helpers/gateway-harness.js';
import { mockControl } from '../helpers/mock-control.js';

const TOKEN = 'test-admin-token-0123456789';
const basic = { host: 'mail.contoso.lab', authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=' };
const noProbes = { pools: { cas: { health: { enabled: false }, outlier: { enabled: false }, slowStart: 0 } } };

let env: CasAndGateway | undefined;
let cas: MockCas[] = [];
let gw: TestGateway | undefined;

/** Each test its own `n` mock CAS (cas1..) and gateway: no drain, latency or cookie outlives it. */
async function start(n: number, overrides: Record<string, unknown> = noProbes): Promise<TestGateway> {
  env = await startCasAndGateway(n, overrides);
  cas = env.cas;
  return env.gw;
}
afterEach(async () => {
  await env?.stop();
  env = undefined;
  gw = undefined;
});

async function admin(method: 'GET' | 'POST', path: string, token: string | null = TOKEN) {
  const res = await request(`${gw!.adminUrl}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, any> };
}

async function servedBy(path: string, n: number, headers: Record<string, string> = basic): Promise<Set<string>> {
  const before = gw!.records.length;
  for (let i = 0; i < n; i++) expect((await gw!.get(path, { headers })).status).toBeLessThan(500);
  return new Set(gw!.records.slice(before).map((r) => r.backend!));
}

describe('admin API', () => {
  test('changes need the bearer token; the listing does not', async () => {
    gw = await start(2);
    expect((await admin('POST', '/api/backends/cas1/drain', null)).status).toBe(401);
    expect((await admin('POST', '/api/backends/cas1/disable', 'wrong-token-wrong-token-')).status).toBe(401);
    expect(gw.gateway.pools.get('cas/owa')!.find('cas1')!.state).toBe('healthy');
    const listing = await admin('GET', '/api/pools', null);
    expect(listing.status).toBe(200);
    expect(listing.json.pools.map((p: { name: string }) => p.name)).toContain('cas/ews');
    expect((await admin('POST', '/api/backends/nope/drain')).status).toBe(404);
    expect((await admin('POST', '/api/backends/cas1/drain?pool=cas/nope')).status).toBe(404);
  });

  test('disable with ?pool= takes the server out of that pool only; enable brings it back', async () => {
    gw = await start(2);
    const res = await admin('POST', '/api/backends/cas1/disable?pool=cas/owa');
    expect(res.json.pools).toEqual([{ pool: 'cas/owa', state: 'disabled', activeRequests: 0, longLived: 0 }]);
    expect(await servedBy('/owa/', 6)).toEqual(new Set(['cas2']));
    expect(await servedBy('/OAB/x', 6)).toEqual(new Set(['cas1', 'cas2']));
    await admin('POST', '/api/backends/cas1/enable?pool=cas/owa');
    expect(await servedBy('/owa/', 6)).toEqual(new Set(['cas1', 'cas2']));
  });
});

describe('drain', () => {
  test('a draining backend finishes its in-flight requests and gets no new ones', async () => {
    gw = await start(2);
    await Promise.all(cas.map((c) => mockControl(c.controlPort, 'latency', { ms: 600, path: '/EWS/slow' })));
    const slow = Array.from({ length: 4 }, () => gw!.get('/EWS/slow', { method: 'POST', body: 'x', headers: basic }));
    const ews1 = gw.gateway.pools.get('cas/ews')!.find('cas1')!;
    await eventually(() => ews1.active + gw!.gateway.pools.get('cas/ews')!.find('cas2')!.active === 4, { what: 'four slow requests in flight' });
    const inFlight = ews1.active;
    expect(inFlight).toBeGreaterThanOrEqual(1);

    const res = await admin('POST', '/api/backends/cas1/drain');
    expect(res.status).toBe(200);
    expect(res.json.pools.length).toBe(10); // every Exchange pool
    expect(res.json.pools.find((p: { pool: string }) => p.pool === 'cas/ews')).toMatchObject({ state: 'draining', activeRequests: inFlight });

    expect(await servedBy('/owa/', 8)).toEqual(new Set(['cas2']));
    expect(await servedBy('/Microsoft-Server-ActiveSync/x', 4)).toEqual(new Set(['cas2']));
    const finished = await Promise.all(slow);
    expect(finished.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(new Set(finished.map((r) => r.json<{ server: string }>().server))).toEqual(new Set(['cas1', 'cas2']));
    expect(ews1.active).toBe(0);

    const listing = await admin('GET', '/api/pools');
    const owa = listing.json.pools.find((p: { name: string }) => p.name === 'cas/owa');
    expect(owa.backends.find((b: { name: string }) => b.name === 'cas1')).toMatchObject({ state: 'draining', reason: 'draining (admin)' });

    await admin('POST', '/api/backends/cas1/enable');
    expect(await servedBy('/owa/', 8)).toEqual(new Set(['cas1', 'cas2']));
  });

  test('after the drain deadline the long-lived requests still open are closed', async () => {
    gw = await start(1);
    await mockControl(cas[0]!.controlPort, 'latency', { ms: 30_000, path: '/EWS/stream' });
    const stream = gw.get('/EWS/stream', { method: 'POST', body: 'x', headers: basic }).then(
      (r) => `status ${r.status}`,
      (err: Error) => `error ${err.message}`,
    );
    const ews1 = gw.gateway.pools.get('cas/ews')!.find('cas1')!;
    await eventually(() => ews1.longLivedCount === 1, { what: 'the EWS request tracked as long-lived' });
    const t0 = performance.now();
    expect((await admin('POST', '/api/backends/cas1/drain?pool=cas/ews&timeout=300ms')).status).toBe(200);
    expect(await stream).toMatch(/^error /);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(ews1.reason).toContain('drain timeout reached, 1 long-lived connection(s) closed');
    expect(ews1.state).toBe('draining');
  });
});

describe('cookie affinity through the proxy', () => {
  test('the cookie is set when missing or stale, and a client with it sticks to its server', async () => {
    gw = await start(2, { pools: { cas: { ...noProbes.pools.cas, balance: 'cookie' } } });
    const first = await gw.get('/owa/', { headers: basic });
    const setCookie = String(first.headers['set-cookie']);
    const m = /CASGATE_AFFINITY=([^;]+); Path=\/; Secure; HttpOnly/.exec(setCookie);
    expect(m, setCookie).not.toBeNull();
    const server = gw.records.at(-1)!.backend!;
    const withCookie = { ...basic, cookie: `other=1; CASGATE_AFFINITY=${m![1]}` };
    expect(await servedBy('/owa/', 10, withCookie)).toEqual(new Set([server]));
    expect(await servedBy('/ecp/', 5, withCookie)).toEqual(new Set([server])); // same backend, same id in every pool
    const again = await gw.get('/owa/', { headers: withCookie });
    expect(again.headers['set-cookie'] === undefined || !String(again.headers['set-cookie']).includes('CASGATE_AFFINITY')).toBe(true);
    // Without a cookie clients are spread; a stale cookie gets a fresh one.
    expect(await servedBy('/owa/', 6)).toEqual(new Set(['cas1', 'cas2']));
    const stale = await gw.get('/owa/', { headers: { ...basic, cookie: 'CASGATE_AFFINITY=stale' } });
    expect(String(stale.headers['set-cookie'])).toMatch(/CASGATE_AFFINITY=(?!stale)/);
    // Its server drained: the client moves and gets the other server's cookie.
    await admin('POST', `/api/backends/${server}/drain`);
    const moved = await gw.get('/owa/', { headers: withCookie });
    expect(gw.records.at(-1)!.backend).not.toBe(server);
    expect(String(moved.headers['set-cookie'])).toContain('CASGATE_AFFINITY=');
  });
});
