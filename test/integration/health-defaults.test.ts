// Health timing an admin relies on with the defaults: a restarted CAS is back in its pools within rise × interval
// + interval (unhealthyInterval defaults to interval, as Envoy's and HAProxy's do; it was a fixed 10 s), and a CAS
// that starts a moment after casgate (connection refused at first) is not taken out of its pools at once.
import { createServer } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { eventually } from '../helpers/eventually.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway-harness.js';
import { spawnMockCas, type SpawnedMockCas } from '../helpers/mock-cas-process.js';

const INTERVAL = 1000;
const RISE = 2;
const FALL = 3;
let gw: TestGateway | undefined;
let cas: SpawnedMockCas | undefined;
let late: MockCas | undefined;
afterEach(async () => {
  await gw?.stop();
  await cas?.kill('SIGKILL');
  await late?.close();
  gw = cas = late = undefined;
});

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((r) => { const s = createServer().listen(0, '127.0.0.1', () => r(s)); })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const ewsState = () => gw!.gateway.pools.get('cas/ews')!.find('cas1')!.state;
// No unhealthyInterval: the default is under test.
const health = { interval: `${INTERVAL}ms`, timeout: '300ms', fall: FALL, rise: RISE, jitter: '50ms' };

test('a restarted CAS is back in its pools within rise × interval + interval', async () => {
  cas = await spawnMockCas('cas1');
  const { httpPort, httpsPort } = cas;
  gw = await startTestGateway([{ name: 'cas1', httpPort, httpsPort, fingerprint256: cas.fingerprint256 }], { pools: { cas: { health, slowStart: 0 } } });
  await eventually(() => ewsState() === 'healthy' && gw!.gateway.pools.get('cas/ews')!.backends[0]!.probeFailures === 0, { what: 'cas1 healthy' });
  await cas.kill('SIGKILL');
  await eventually(() => ewsState() === 'unhealthy', { timeoutMs: (FALL + 2) * INTERVAL, what: 'cas1 down' });
  // Down for a while, as a CAS being patched is, so that the prober is in its down rhythm.
  await new Promise((r) => setTimeout(r, 2 * INTERVAL));
  cas = await spawnMockCas('cas1', { httpPort, httpsPort });
  const listening = performance.now();
  await eventually(() => ewsState() === 'healthy', { timeoutMs: 15_000, intervalMs: 20, what: 'cas1 back' });
  const back = performance.now() - listening;
  // rise × interval + interval, plus jitter and a probe's own time.
  expect(back).toBeLessThan(RISE * INTERVAL + INTERVAL + 2 * 50 + 300);
}, 40_000);

test('a CAS that starts listening within interval × fall of casgate is never marked down', async () => {
  const [httpPort, httpsPort] = await freePorts(2);
  // The mock's certificate is made when it starts, so it cannot be pinned here: MRSProxy's probe skips verification.
  gw = await startTestGateway([{ name: 'cas1', httpPort: httpPort!, httpsPort: httpsPort! }], { pools: { cas: { health, tls: { insecure: true } } } });
  // The first probes are refused: nothing listens yet.
  await eventually(() => gw!.gateway.pools.get('cas/ews')!.backends[0]!.probeFailures >= 1, { what: 'a refused first probe' });
  expect(ewsState()).toBe('healthy');
  // In-process, so that it listens within milliseconds whatever the machine's load (a child process may take seconds).
  late = await startMockCas({ name: 'cas1', httpPort, httpsPort });
  await new Promise((r) => setTimeout(r, 2 * INTERVAL));
  expect(ewsState()).toBe('healthy');
  expect(gw.logLines.filter((l) => l.includes('backend down'))).toEqual([]);
}, 40_000);

// Regression (CI run of 2026-12-01): a CAS that listened just as casgate started answered its first /rpc probe after
// the probe timeout, and that first verdict took it out of cas/rpc at once. An IIS warming its app pools does the same.
test('a CAS whose first probes go unanswered within interval × fall of casgate is not marked down at once', async () => {
  const [httpPort, httpsPort] = await freePorts(2);
  // Accepts connections and says nothing, as a CAS whose app pools are still starting.
  const held: import('node:net').Socket[] = [];
  const silent = createServer((s) => void held.push(s)).listen(httpPort, '127.0.0.1');
  const silentTls = createServer((s) => void held.push(s)).listen(httpsPort, '127.0.0.1');
  try {
    gw = await startTestGateway([{ name: 'cas1', httpPort: httpPort!, httpsPort: httpsPort! }], { pools: { cas: { health, tls: { insecure: true } } } });
    await eventually(() => gw!.gateway.pools.get('cas/ews')!.backends[0]!.probeFailures >= 1, { what: 'an unanswered first probe' });
    expect(ewsState()).toBe('healthy');
    expect(gw.logLines.filter((l) => l.includes('backend down'))).toEqual([]);
  } finally {
    for (const s of held) s.destroy();
    await Promise.all([silent, silentTls].map((srv) => new Promise((r) => srv.close(r))));
  }
}, 40_000);

test('a CAS still refusing after interval × fall is marked down', async () => {
  const [httpPort, httpsPort] = await freePorts(2);
  gw = await startTestGateway([{ name: 'cas1', httpPort: httpPort!, httpsPort: httpsPort! }], { pools: { cas: { health } } });
  await eventually(() => ewsState() === 'unhealthy', { timeoutMs: (FALL + 2) * INTERVAL, what: 'cas1 down after fall probes' });
  expect(gw.logLines.some((l) => l.includes('backend down') && l.includes('cas/ews') && l.includes('ECONNREFUSED'))).toBe(true);
}, 40_000);
