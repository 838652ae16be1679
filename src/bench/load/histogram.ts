// Latency histograms: HDR histograms in microseconds, shipped between workers as compressed base64 and merged by adding.
// One shape for every histogram so that any two can be added without loss.
import hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** 1 µs resolution, 3 significant digits, up to one hour (an ActiveSync Ping may be held that long); auto-resizes past it. */
export function createHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 32,
    autoResize: true,
    useWebAssembly: false,
  });
}

/** Records a latency given in milliseconds (fractional); values under 1 µs count as 1 µs. */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.round(ms * 1000)));
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}

/** Merges encoded histograms (one per worker) into a new histogram. Percentiles of the result are those of all samples. */
export function mergeEncoded(encoded: readonly string[]): Histogram {
  const merged = createHistogram();
  for (const e of encoded) {
    const h = decodeHistogram(e);
    merged.add(h);
    h.destroy();
  }
  return merged;
}

export interface LatencySummary {
  count: number;
  /** All figures in milliseconds. */
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export function summarize(h: Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000;
  if (h.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return {
    count: h.totalCount,
    mean: ms(h.mean),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}
