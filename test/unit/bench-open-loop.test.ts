// Open loop must measure from each request's intended send time. Against a server that takes 20 ms per request on
// one connection (50 req/s at most), 100 req/s builds a queue: the latency users would see grows to seconds. A
// generator that measured from the actual send (coordinated omission) would report ~20 ms and hide it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runLoad } from '../../src/bench/load/run.js';

describe('open-loop rate mode', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function slowServer(delayMs: number): Promise<number> {
    const server = http.createServer((_req, res) => void setTimeout(() => res.end('x'), delayMs));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    return (server.address() as AddressInfo).port;
  }

  it('a slow server makes p99 grow instead of hiding it', async () => {
    const port = await slowServer(20);
    const r = await runLoad({ url: `http://127.0.0.1:${port}/`, rate: 100, connections: 1, durationS: 1.5, warmupS: 0 });
    // 150 requests due in 1.5 s, served at 50/s: the last ones wait ~1.5 s beyond their intended time.
    expect(r.mode).toBe('open-loop');
    expect(r.latencyMs.count).toBe(150);
    expect(r.latencyMs.p50).toBeGreaterThan(300);
    expect(r.latencyMs.p99).toBeGreaterThan(1000);
    // The answered rate is what the server managed, not the rate asked for.
    expect(r.throughput.requestsPerS).toBeLessThan(60);
  });

  it('at a rate the server sustains, latency stays near the service time', async () => {
    const port = await slowServer(5);
    const r = await runLoad({ url: `http://127.0.0.1:${port}/`, rate: 50, connections: 4, durationS: 1, warmupS: 0.2 });
    expect(r.requests.ok).toBeGreaterThanOrEqual(48);
    expect(r.latencyMs.p50).toBeLessThan(50);
  });

  it('counts requests that never got an answer, with the wait they had', async () => {
    const server = http.createServer(() => undefined); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const port = (server.address() as AddressInfo).port;
    const r = await runLoad({ url: `http://127.0.0.1:${port}/`, rate: 20, connections: 2, durationS: 0.5, warmupS: 0, timeoutS: 0.3 });
    // Timeouts are errors; the histogram still holds every due request.
    expect(r.requests.ok).toBe(0);
    expect((r.errors.timeout ?? 0) + r.requests.unfinished).toBe(10);
  });
});
