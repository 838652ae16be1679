// Killing a CAS process (SIGKILL, a real child process) under a steady load: no GET is lost (connect failures go
// to the next server, an idempotent request cut before its headers is retried once elsewhere); a POST fails only
// if it was in flight on the killed server; the dead server stops getting traffic once it is marked down.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RequestRecord } from '../../src/logging/request-record.js';
import { eventually } from '../helpers/eventually.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway-harness.js';
import { spawnMockCas, type SpawnedMockCas } from '../helpers/mock-cas-process.js';
import { mockControl } from '../helpers/mock-control.js';

const INTERVAL = 200;
const FALL = 2;
const basic = { host: 'mail.contoso.lab', authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=' };

let cas1: SpawnedMockCas;
let cas2: SpawnedMockCas;
let gw: TestGateway;

beforeAll(async () => {
  [cas1, cas2] = await Promise.all([spawnMockCas('cas1'), spawnMockCas('cas2')]);
  gw = await startTestGateway(
    [cas1, cas2].map((c) => ({ name: c.name, httpPort: c.httpPort, httpsPort: c.httpsPort, fingerprint256: c.fingerprint256 })),
    { pools: { cas: { health: { interval: `${INTERVAL}ms`, unhealthyInterval: `${INTERVAL}ms`, timeout: '500ms', fall: FALL, rise: 1, jitter: '20ms' }, slowStart: 0 } } },
  );
});
afterAll(async () => {
  await gw?.stop();
  await Promise.all([cas1?.kill('SIGKILL'), cas2?.kill('SIGKILL')]);
});

interface Outcome {
  method: string;
  startedAt: number;
  endedAt: number;
  status: number;
  error?: string;
}

describe('killing a CAS under load', () => {
  test('no GET is lost; POSTs fail only if in flight on the killed server; traffic leaves it', async () => {
    // Requests take ~40 ms on the backends so that some are in flight when cas1 dies.
    await Promise.all([cas1, cas2].map((c) => mockControl(c.controlPort, 'latency', { ms: 40, path: '/EWS/load' })));
    const outcomes: Outcome[] = [];
    let running = true;
    const loop = async (method: 'GET' | 'POST') => {
      while (running) {
        const startedAt = performance.now();
        try {
          const res = await gw.get(`/EWS/load?${method}`, { method, headers: basic, ...(method === 'POST' ? { body: 'payload' } : {}) });
          outcomes.push({ method, startedAt, endedAt: performance.now(), status: res.status });
        } catch (err) {
          outcomes.push({ method, startedAt, endedAt: performance.now(), status: 0, error: (err as Error).message });
        }
      }
    };
    const loops = [...Array.from({ length: 6 }, () => loop('GET')), ...Array.from({ length: 4 }, () => loop('POST'))];
    const served = (r: RequestRecord, name: string) => r.backend === name && r.route === 'exchange/ews';
    await eventually(() => gw.records.filter((r) => served(r, 'cas1')).length >= 20 && gw.records.filter((r) => served(r, 'cas2')).length >= 20, {
      what: 'load on both servers',
    });

    const killedAt = performance.now();
    await cas1.kill('SIGKILL');
    // The signal is asynchronous: a request sent on a pooled connection before the process had died is in flight too.
    const exitedAt = performance.now();
    await eventually(() => gw.gateway.pools.get('cas/ews')!.find('cas1')!.state === 'unhealthy', { what: 'cas1 marked down' });
    const downAfter = performance.now() - killedAt;
    const markedDown = performance.now();
    await eventually(() => outcomes.filter((o) => o.startedAt > markedDown).length >= 100, { what: '100 requests after cas1 went down' });
    running = false;
    await Promise.all(loops);

    const gets = outcomes.filter((o) => o.method === 'GET');
    const failedGets = gets.filter((o) => o.status !== 200);
    expect(failedGets, JSON.stringify(failedGets.slice(0, 3))).toEqual([]);
    const failedPosts = outcomes.filter((o) => o.method === 'POST' && o.status !== 200);
    for (const f of failedPosts) {
      // In flight when cas1 died: started before its exit was seen, ended after the kill.
      expect(f.startedAt, JSON.stringify(f)).toBeLessThan(exitedAt);
      expect(f.endedAt).toBeGreaterThan(killedAt);
    }
    expect(failedPosts.length).toBeLessThanOrEqual(4);
    // Marked down within fall × interval + one interval (plus jitter and the probe's own time).
    expect(downAfter).toBeLessThan(FALL * INTERVAL + INTERVAL + 200);
    // Once down, nothing more goes to cas1.
    expect(gw.records.filter((r) => r.startedAt > markedDown && served(r, 'cas1'))).toEqual([]);
    expect(gets.length).toBeGreaterThan(50);
    expect(gw.records.some((r) => r.attempts === 2 && r.method === 'GET')).toBe(true);
  });
});
