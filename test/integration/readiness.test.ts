// /healthz and /ready on the admin listener: what keepalived's track_script and L4 balancers ask. /ready must turn
// 503 as soon as one published service has no backend left (the node should give its address away), name that
// service, and turn 200 again when a backend returns.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import type { TestGateway } from '../helpers/gateway-harness.js';
import { eventually } from '../helpers/eventually.js';
import { mockControl } from '../helpers/mock-control.js';

let cas1: MockCas;
let cas2: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;
// Fast probes, but two failures to go down and a generous timeout: a busy machine must not flap a healthy CAS.
const fast = { interval: '100ms', unhealthyInterval: '100ms', jitter: '10ms', fall: 2, rise: 1, timeout: '2s' };

beforeAll(async () => {
  env = await startCasAndGateway(2, ([first]) => ({
    pools: {
      cas: { health: fast, slowStart: 0 },
      // A custom route's pool (no probe path: always up) counts for /ready like an Exchange service.
      web: { servers: [{ name: 'web1', host: '127.0.0.1', port: first!.httpPort }] },
    },
    routes: [{ name: 'intranet', host: 'intranet.contoso.lab', pool: 'web' }],
  }));
  cas1 = env.cas[0]!;
  cas2 = env.cas[1]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

async function ready(): Promise<{ status: number; body: { ready: boolean; problems: string[]; routes: Array<{ route: string; service?: string; available: number }> } }> {
  const res = await fetch(`${gw.adminUrl}/ready`);
  return { status: res.status, body: (await res.json()) as never };
}

test('/healthz answers 200 without a token', async () => {
  const res = await fetch(`${gw.adminUrl}/healthz`);
  expect(res.status).toBe(200);
  expect(await res.text()).toBe('ok\n');
});

test('/ready is 200 while every service and route has a backend, and lists them', async () => {
  const { body } = await eventually(async () => {
    const r = await ready();
    return r.status === 200 ? r : undefined;
  }, { what: '/ready 200' });
  expect(body.ready).toBe(true);
  expect(body.problems).toEqual([]);
  expect(body.routes.find((r) => r.service === 'ews')).toMatchObject({ route: 'exchange/ews', available: 2 });
  expect(body.routes.find((r) => r.route === 'intranet')).toMatchObject({ available: 1 });
});

test('/ready turns 503 naming the one service whose backends are all down, and 200 when one returns', async () => {
  // EWS fails its health check on both CAS; OWA and the rest stay up.
  for (const cas of [cas1, cas2]) await mockControl(cas.controlPort, 'health', { vdir: 'ews', status: 503 });
  const down = await eventually(async () => {
    const r = await ready();
    // MRSProxy and PowerShell share EWS's health state (they have no healthcheck.htm of their own): they go with it.
    const others = r.body.problems.filter((p) => !/^Exchange service (ews|mrsproxy|powershell) /.test(p));
    return r.status === 503 && r.body.problems.some((p) => p.startsWith('Exchange service ews ')) && others.length === 0 ? r : undefined;
  }, { what: '/ready 503 naming ews and only the services sharing its health' });
  expect(down.body.ready).toBe(false);
  expect(down.body.problems).toContain('Exchange service ews (pool cas/ews) has no available backend (2 configured)');
  expect(down.body.routes.find((r) => r.service === 'owa')).toMatchObject({ available: 2 });

  await mockControl(cas2.controlPort, 'health', { vdir: 'ews', reset: true });
  await eventually(async () => (await ready()).status === 200, { what: '/ready 200 again' });
  await mockControl(cas1.controlPort, 'health', { vdir: 'ews', reset: true });
});

test('/ready is 503 when every backend of a route is disabled by the admin API (a drain of the last CAS)', async () => {
  const auth = { authorization: 'Bearer test-admin-token-0123456789' };
  for (const name of ['cas1', 'cas2']) {
    const res = await fetch(`${gw.adminUrl}/api/backends/${name}/disable`, { method: 'POST', headers: auth });
    expect(res.status).toBe(200);
  }
  const r = await ready();
  expect(r.status).toBe(503);
  expect(r.body.problems.some((p) => p.startsWith('Exchange service owa'))).toBe(true);
  expect(r.body.problems.some((p) => p.startsWith('route intranet'))).toBe(false);
  for (const name of ['cas1', 'cas2']) await fetch(`${gw.adminUrl}/api/backends/${name}/enable`, { method: 'POST', headers: auth });
  await eventually(async () => (await ready()).status === 200, { what: '/ready 200 after enable' }).catch(async (err) => {
    throw new Error(`${(err as Error).message}: ${JSON.stringify((await ready()).body.problems)}`);
  });
});
