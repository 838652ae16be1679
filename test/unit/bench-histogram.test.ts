// Latency percentiles from several workers must be those of all their samples together: histograms are merged
// (encoded, shipped, added), never averaged percentile by percentile.
import { describe, expect, it } from 'vitest';
import { createHistogram, decodeHistogram, encodeHistogram, mergeEncoded, recordMs, summarize } from '../../src/bench/load/histogram.js';
import { mergeResults } from '../../src/bench/load/run.js';
import type { WorkerResult } from '../../src/bench/load/worker.js';

function encodedOf(valuesMs: number[]): string {
  const h = createHistogram();
  for (const v of valuesMs) recordMs(h, v);
  return encodeHistogram(h);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function worker(valuesMs: number[], extra: Partial<WorkerResult> = {}): WorkerResult {
  return {
    completed: valuesMs.length,
    ok: valuesMs.length,
    unfinished: 0,
    bytes: valuesMs.length * 300,
    measuredMs: 10_000,
    errors: {},
    statusCodes: { '200': valuesMs.length },
    histogram: encodedOf(valuesMs),
    kinds: { get: { completed: valuesMs.length, errors: 0, histogram: encodedOf(valuesMs) } },
    ...extra,
  };
}

describe('histogram merge across workers', () => {
  it('survives encoding: the decoded histogram has the same counts and percentiles', () => {
    const h = createHistogram();
    for (const v of range(1, 500)) recordMs(h, v);
    const back = decodeHistogram(encodeHistogram(h));
    expect(back.totalCount).toBe(500);
    expect(back.getValueAtPercentile(99)).toBe(h.getValueAtPercentile(99));
  });

  it('gives the percentiles of the union of samples, not an average of per-worker percentiles', () => {
    // Worker A is fast (1..1000 ms), worker B slow (1001..2000 ms). Averaging their p99s would give ~1490 ms;
    // the true p99 of the 2000 samples is ~1980 ms and the true p50 ~1000 ms.
    const merged = summarize(mergeEncoded([encodedOf(range(1, 1000)), encodedOf(range(1001, 2000))]));
    expect(merged.count).toBe(2000);
    expect(merged.p50).toBeGreaterThan(995);
    expect(merged.p50).toBeLessThan(1005);
    expect(merged.p99).toBeGreaterThan(1975);
    expect(merged.p99).toBeLessThan(1985);
    expect(merged.max).toBeGreaterThanOrEqual(1999);
    expect(merged.max).toBeLessThan(2002);
  });

  it('weights workers by their sample counts', () => {
    // 9000 samples at 1 ms and 1000 at 100 ms: p90 is 1 ms, p99 is 100 ms.
    const merged = summarize(mergeEncoded([encodedOf(new Array(9000).fill(1)), encodedOf(new Array(1000).fill(100))]));
    expect(merged.p90).toBeCloseTo(1, 1);
    expect(merged.p99).toBeGreaterThan(99);
    expect(merged.p99).toBeLessThan(101);
  });

  it('mergeResults adds counts and errors and takes latency from the merged histogram', () => {
    const result = mergeResults(
      [worker(range(1, 1000), { errors: { reset: 2 } }), worker(range(1001, 2000), { errors: { reset: 1, 'status-503': 4 } })],
      {
        url: 'https://127.0.0.1:1/',
        startedAt: new Date(0),
        workers: 2,
        connections: 8,
        rate: undefined,
        durationS: 10,
        warmupS: 0,
        freshConnections: false,
        mix: false,
      },
    );
    expect(result.requests.completed).toBe(2000);
    expect(result.errors).toEqual({ reset: 3, 'status-503': 4 });
    expect(result.requests.errors).toBe(7);
    expect(result.throughput.requestsPerS).toBe(200);
    expect(result.latencyMs.p99).toBeGreaterThan(1975);
    expect(result.kinds.get?.latencyMs.p50).toBeGreaterThan(995);
    expect(decodeHistogram(result.histogram).totalCount).toBe(2000);
  });
});
