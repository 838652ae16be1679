// What an admin reads: the status page, /api/status and Prometheus metrics, on the loopback admin listener.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { type TestGateway } from '../helpers/gateway-harness.js';

let cas1: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;

beforeAll(async () => {
  env = await startCasAndGateway(1, { pools: { cas: { health: { enabled: false } } } });
  cas1 = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

test('the admin listener is on loopback', () => {
  expect(gw.gateway.addresses.admin.address).toBe('127.0.0.1');
});

test('/metrics counts requests by route, pool, backend and status class', async () => {
  await gw.get('/owa/');
  await gw.get('/owafoo');
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  expect(text).toMatch(/casgate_requests_total\{route="exchange\/owa",pool="cas\/owa",backend="cas1",code="3xx"\} [1-9]/);
  expect(text).toMatch(/casgate_requests_total\{route="none",pool="none",backend="none",code="4xx"\} [1-9]/);
  expect(text).toMatch(/casgate_backend_up\{pool="cas\/ews",backend="cas1"\} 1/);
  expect(text).toMatch(/casgate_backend_state\{pool="cas\/ews",backend="cas1",state="healthy"\} 1/);
  expect(text).toContain('casgate_request_duration_seconds_bucket');
  // prom-client's default names, unprefixed, as stock Node.js dashboards query them.
  expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+/m);
  expect(text).not.toContain('casgate_process_');
  const { VERSION } = await import('../../src/version.js');
  expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  expect(text).toContain(`casgate_build_info{version="${VERSION}",node="${process.versions.node}"} 1`);
});

test('/api/status lists every pool and backend with state, and the certificates', async () => {
  const status = (await (await fetch(`${gw.adminUrl}/api/status`)).json()) as {
    pools: Array<{ name: string; backends: Array<{ name: string; state: string }> }>;
    certificates: Array<{ names: string[] }>;
  };
  expect(status.pools.map((p) => p.name)).toContain('cas/mapi');
  expect(status.pools.find((p) => p.name === 'cas/owa')!.backends[0]).toMatchObject({ name: 'cas1', state: 'healthy' });
  expect(status.certificates[0]!.names).toEqual(['mail.contoso.lab', 'autodiscover.contoso.lab']);
});

test('the status page shows pools, backends and states as HTML, with values escaped', async () => {
  const res = await fetch(`${gw.adminUrl}/`);
  expect(res.headers.get('content-type')).toContain('text/html');
  const html = await res.text();
  expect(html).toContain('cas/ews');
  expect(html).toMatch(/<td>cas1<\/td>/);
  expect(html).toContain('healthy');
  const { daysLeft } = ((await (await fetch(`${gw.adminUrl}/api/status`)).json()) as { certificates: Array<{ daysLeft: number }> }).certificates[0]!;
  expect(daysLeft).toBeGreaterThan(30);
  expect(html).toContain(`${daysLeft} days left`);
});

test('the access log records carry what an admin needs and no credentials', async () => {
  await gw.get('/EWS/Exchange.asmx', { headers: { host: 'mail.contoso.lab', authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=', 'user-agent': 'Outlook' } });
  const { formatAccessText } = await import('../../src/logging/access-log.js');
  const line = formatAccessText(gw.records.at(-1)!);
  expect(line).toMatch(/127\.0\.0\.1 mail\.contoso\.lab "GET \/EWS\/Exchange\.asmx HTTP\/1\.1" 200 \d+ [\d.]+ms route=exchange\/ews pool=cas\/ews backend=cas1 user="alice" ua="Outlook"/);
  expect(line).not.toContain('YWxpY2U6UGFzc3cwcmQ=');
  expect(line).not.toContain('Passw0rd');
});
