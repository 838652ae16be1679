// `casgate bench failover --url`: the failover benchmark against a casgate that is already running (here a real
// gateway in front of two mock CAS servers, reached only over HTTPS and its admin API, as an admin's deployment
// would be). A drain/enable schedule goes through the admin API; requests are attributed to servers by X-FEServer;
// without a schedule, what the admin API showed becomes the events.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { main } from '../../src/bench/failover/main.js';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { testCertificates, type TestGateway } from '../helpers/gateway-harness.js';
import { eventually } from '../helpers/eventually.js';
import { mockControl } from '../helpers/mock-control.js';

const TOKEN = 'test-admin-token-0123456789';
let cas2: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;
const dir = mkdtempSync(join(tmpdir(), 'casgate-bench-remote-'));

beforeAll(async () => {
  env = await startCasAndGateway(
    2,
    // A probe timeout well above the interval: maintenance is a fast 503, so detection is unchanged, while a probe
    // slowed by a busy core (gateway, mocks and load generator share this process) is not mistaken for a CAS going
    // down (with 150 ms, such timeouts took both servers out of pools and the bench counted its 503s as lost).
    { pools: { cas: { health: { interval: '200ms', timeout: '1s', unhealthyInterval: '200ms', fall: 1, rise: 1, jitter: 0 }, slowStart: 0 } } },
  );
  cas2 = env.cas[1]!;
  gw = env.gw;
  // Measure from a settled start: every Exchange service has its servers (GET /ready is 200).
  await eventually(async () => (await fetch(`${gw.adminUrl}/ready`)).status === 200, { timeoutMs: 10_000 });
});
afterAll(async () => {
  await env?.stop();
});

function common(out: string): string[] {
  return ['--url', gw.url, '--ca', join(testCertificates().dir, 'ca.crt'), '--servername', 'mail.contoso.lab', '--admin', gw.adminUrl, '--token', TOKEN,
    '--concurrency', '3', '--pings', '4', '--tunnels', '1', '--heartbeat', '20s', '--bucket', '250ms', '--out', out];
}

describe('bench failover against a running casgate', () => {
  test('drain and enable through the admin API: the drained server stops taking requests, nothing is lost', async () => {
    const schedule = join(dir, 'drain.yaml');
    writeFileSync(schedule, 'duration: 3s\nevents:\n  - { at: 1s, action: drain, server: cas1 }\n  - { at: 2s, action: enable, server: cas1 }\n');
    const out = join(dir, 'drain');
    expect(await main([...common(out), '--schedule', schedule])).toBe(0);
    const r = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(r.settings.gateway).toContain(gw.url);
    expect(r.settings.lab).toBeUndefined();
    expect(r.events.map((e: { action: string; server: string }) => `${e.action} ${e.server}`)).toEqual(['drain cas1', 'enable cas1']);
    const [drain, enable] = r.perEvent;
    // Out of every pool within a few admin polls, and no request lost anywhere.
    expect(drain.stateChangedAfter).toBeLessThan(1000);
    expect(drain.total.lostOnServer + drain.total.lostElsewhere).toBe(0);
    expect(enable.stateChangedAfter).toBeLessThan(1000);
    // Both servers named as casgate names them, from X-FEServer.
    expect(Object.keys(r.perBackend)).toEqual(['cas1', 'cas2']);
    // While drained, cas1 answered nothing new after the last request that was already on its way.
    expect(drain.lastNewRequestAfter).toBeLessThan(500);
    expect(readFileSync(join(out, 'timeline.svg'), 'utf8')).toContain('<svg');
  }, 30_000);

  test('without a schedule, a CAS in maintenance shows up as seen-down and back as seen-up', async () => {
    const out = join(dir, 'observe');
    const run = main([...common(out), '--duration', '4s']);
    setTimeout(() => void mockControl(cas2.controlPort, 'maintenance', { on: true }), 800);
    setTimeout(() => void mockControl(cas2.controlPort, 'maintenance', { on: false }), 2000);
    expect(await run).toBe(0);
    const r = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    const seen = r.events.map((e: { action: string; server: string }) => `${e.action} ${e.server}`);
    expect(seen).toEqual(['seen-down cas2', 'seen-up cas2']);
    expect(r.perEvent[0].event.at).toBeGreaterThan(700);
  }, 30_000);

  test('refuses what only the built-in lab can do, naming it', async () => {
    const schedule = join(dir, 'kill.yaml');
    writeFileSync(schedule, 'events:\n  - { at: 1s, action: kill, server: cas1 }\n');
    expect(await main([...common(join(dir, 'x')), '--schedule', schedule])).toBe(2);
    expect(await main([...common(join(dir, 'y')), '--latency', '5'])).toBe(2);
    writeFileSync(schedule, 'events:\n  - { at: 1s, action: drain, server: exch9 }\n');
    expect(await main([...common(join(dir, 'z')), '--schedule', schedule])).toBe(2);
    // A drain needs the admin API: refused before the run, not at the first event.
    const withoutAdmin = common(join(dir, 'w')).filter((a, i, all) => a !== '--admin' && all[i - 1] !== '--admin');
    writeFileSync(schedule, 'events:\n  - { at: 1s, action: drain, server: cas1 }\n');
    expect(await main([...withoutAdmin, '--schedule', schedule])).toBe(2);
  });
});
