// The Markdown summary is what people paste into issues and RESULTS.md: it must carry the figures of the run.
import { describe, expect, it } from 'vitest';
import type { LoadResult } from '../../src/bench/load/options.js';
import { toJson, toMarkdown } from '../../src/bench/load/report.js';

const lat = (p50: number, p99: number) => ({ count: 1000, mean: p50, p50, p90: p50 * 2, p99, p999: p99 * 2, max: p99 * 3 });

const result: LoadResult = {
  tool: 'casgate bench load',
  startedAt: '2026-01-02T03:04:05.000Z',
  target: 'https://mail.contoso.com/owa/',
  mode: 'open-loop',
  workload: 'exchange-mix',
  connections: 64,
  rate: 2500,
  workers: 2,
  freshConnections: false,
  durationS: 10,
  warmupS: 2,
  requests: { completed: 24_990, ok: 24_950, errors: 52, unfinished: 10 },
  errors: { 'status-503': 40, reset: 12 },
  statusCodes: { '200': 24_950, '503': 40 },
  throughput: { requestsPerS: 2499, bytes: 7_497_000, mibPerS: 0.71 },
  latencyMs: lat(1.23, 45.6),
  kinds: { owa: { completed: 20_000, errors: 40, latencyMs: lat(1.1, 40) }, mapi: { completed: 4950, errors: 12, latencyMs: lat(2.2, 77.7) } },
  held: {
    activesync: { concurrent: 100, answered: 321, errors: {}, heldAtEnd: 100, latencyMs: lat(5000, 5010) },
    rpc: { tunnels: 4, opened: 4, lost: 1, errors: { reset: 1 }, bytesSent: 2560, bytesReceived: 999, setupMs: lat(3, 9) },
  },
  histogram: '',
};

describe('Markdown summary', () => {
  const md = toMarkdown(result);

  it('names the target and the load', () => {
    expect(md).toContain('https://mail.contoso.com/owa/');
    expect(md).toContain('open loop at 2,500 req/s');
    expect(md).toContain('2 workers');
  });

  it('carries throughput, counts and latency percentiles', () => {
    expect(md).toMatch(/\| 2,499\.0 \| 0\.71 \| 24,990 \| 24,950 \| 52 \| 10 \|/);
    expect(md).toMatch(/\| all \| 1,000 \| 52 \| 1\.23 \| 2\.46 \| 45\.6 \| 91\.2 \| 137 \|/);
    expect(md).toMatch(/\| mapi \| 4,950 \| 12 \| 2\.20 \|/);
  });

  it('lists errors by kind and status codes', () => {
    expect(md).toMatch(/\| status-503 \| 40 \|/);
    expect(md).toMatch(/\| reset \| 12 \|/);
    expect(md).toContain('503: 40');
  });

  it('reports held Pings and RPC tunnels', () => {
    expect(md).toContain('ActiveSync Ping (100 held)');
    expect(md).toContain('4 opened, 1 lost after opening');
  });

  it('JSON round-trips', () => {
    expect(JSON.parse(toJson(result))).toEqual(result);
  });
});
