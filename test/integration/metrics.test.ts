// /metrics as stock dashboards and alerts read it: stable series per backend, a state-set, traffic and failure
// counters, certificate expiry, reloads, build info, Node's standard names; and the example Grafana dashboard in
// docs/ queries only metrics a real scrape has.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { eventually } from '../helpers/eventually.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { testCertificates, type TestGateway } from '../helpers/gateway-harness.js';

let cas1: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;
let deadPort: number;
const TOKEN = 'test-admin-token-0123456789';

/** A port nothing listens on: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

beforeAll(async () => {
  deadPort = await closedPort();
  env = await startCasAndGateway(1, ([cas]) => ({
    pools: {
      cas: {
        balance: 'round-robin',
        health: { enabled: false },
        outlier: { consecutiveFailures: 1 },
        servers: [
          { name: 'cas1', host: '127.0.0.1', port: cas!.httpPort, httpsPort: cas!.httpsPort },
          { name: 'dead', host: '127.0.0.1', port: deadPort, httpsPort: deadPort },
        ],
      },
      probed: { health: { path: '/x', interval: '100ms', timeout: '100ms', jitter: '0ms' }, servers: [{ name: 'dead', host: '127.0.0.1', port: deadPort }] },
    },
    routes: [{ host: 'probed.contoso.lab', pool: 'probed' }],
  }));
  cas1 = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

const scrape = async () => (await fetch(`${gw.adminUrl}/metrics`)).text();
/** `name{labels} value` lines of one metric, as a map from the label part to the value. */
function series(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (m) out.set(m[1] ?? '', Number(m[2]));
  }
  return out;
}
const post = (path: string) => fetch(`${gw.adminUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });

test('casgate_backend_up keeps one series per backend through a drain; casgate_backend_state is a state-set', async () => {
  const before = await scrape();
  expect(series(before, 'casgate_backend_up').get('{pool="cas/ews",backend="cas1"}')).toBe(1);
  expect((await post('/api/backends/cas1/drain?pool=cas/ews')).status).toBe(200);
  const after = await scrape();
  expect([...series(after, 'casgate_backend_up').keys()]).toEqual([...series(before, 'casgate_backend_up').keys()]);
  expect([...series(after, 'casgate_backend_state').keys()]).toEqual([...series(before, 'casgate_backend_state').keys()]);
  expect(series(after, 'casgate_backend_up').get('{pool="cas/ews",backend="cas1"}')).toBe(0);
  const state = series(after, 'casgate_backend_state');
  expect(['healthy', 'unhealthy', 'draining', 'disabled'].map((s) => state.get(`{pool="cas/ews",backend="cas1",state="${s}"}`))).toEqual([0, 0, 1, 0]);
  await post('/api/backends/cas1/enable?pool=cas/ews');
});

test('bytes per pool, client connections, retries, outlier ejections and probe failures are counted', async () => {
  // Round robin sends one of the first two requests to the dead server: refused, retried on cas1, ejected.
  for (let i = 0; i < 4; i++) expect((await gw.get('/owa/')).status).toBe(302);
  const text = await eventually(
    async () => {
      const t = await scrape();
      return (series(t, 'casgate_health_probe_failures_total').get('{pool="probed",backend="dead"}') ?? 0) >= 1 ? t : undefined;
    },
    { timeoutMs: 5_000, what: 'probe failures of the dead server' },
  );
  expect(series(text, 'casgate_pool_received_bytes_total').get('{pool="cas/owa"}')).toBeGreaterThan(4 * 30);
  expect(series(text, 'casgate_pool_sent_bytes_total').get('{pool="cas/owa"}')).toBeGreaterThan(4 * 100);
  expect(series(text, 'casgate_retries_total').get('{pool="cas/owa"}')).toBe(1);
  expect(series(text, 'casgate_outlier_ejections_total').get('{pool="cas/owa",backend="dead"}')).toBe(1);
  expect(series(text, 'casgate_client_connections_open').get('')).toBeGreaterThanOrEqual(1);
  expect(series(text, 'casgate_client_connections_total').get('')).toBeGreaterThanOrEqual(1);
  expect(series(text, 'casgate_backend_pinned_connections').get('{pool="cas/owa",backend="cas1"}')).toBe(0);
});

test('certificate expiry, reload results and build info', async () => {
  const { X509Certificate } = await import('node:crypto');
  const notAfter = Math.floor(new Date(new X509Certificate(readFileSync(testCertificates().certFile)).validTo).getTime() / 1000);
  const text = await scrape();
  const certs = series(text, 'casgate_certificate_not_after_seconds');
  expect(certs.size).toBe(1);
  const [labels, value] = [...certs][0]!;
  expect(labels).toMatch(/^\{file=".*mail\.crt",subject="mail\.contoso\.lab"\}$/);
  expect(value).toBe(notAfter);
  expect(series(text, 'casgate_config_reloads_total')).toEqual(new Map([['{result="ok"}', 0], ['{result="refused"}', 0], ['{result="error"}', 0]]));
  const started = series(text, 'casgate_config_last_reload_success_timestamp_seconds').get('')!;
  expect(started).toBeGreaterThan(Date.now() / 1000 - 120);
  await new Promise((r) => setTimeout(r, 20));
  const { provisionConfig } = await import('../../src/runtime/provision.js');
  expect(gw.gateway.reload(provisionConfig(gw.gateway.config)).ok).toBe(true);
  const after = await scrape();
  expect(series(after, 'casgate_config_reloads_total').get('{result="ok"}')).toBe(1);
  expect(series(after, 'casgate_config_last_reload_success_timestamp_seconds').get('')).toBeGreaterThan(started);
  expect(series(after, 'casgate_build_info').size).toBe(1);
});

test('every metric the example Grafana dashboard queries exists in a real scrape', async () => {
  const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
  expect(exprs.length).toBeGreaterThan(10);
  const text = await scrape();
  const names = new Set(exprs.flatMap((e) => [...e.matchAll(/\b((?:casgate|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!)));
  expect(names.size).toBeGreaterThan(15);
  const missing = [...names].filter((n) => !new RegExp(`^${n}[{ ]`, 'm').test(text));
  expect(missing).toEqual([]);
});
