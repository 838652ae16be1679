// A tiny micro-benchmark runner: ns per operation with warm-up, batches sized to the timer's resolution, and the
// spread across samples so that a noisy figure shows as noisy. For the hot functions (route match, balancer pick,
// header rewrite): write a file beside this one that calls runMicro() and run it with `node --expose-gc`.
// See bench/micro/README.md.

export interface MicroCase {
  name: string;
  /** The operation. Return something derived from the work so that the JIT cannot drop it. */
  fn: () => unknown;
}

export interface MicroOptions {
  /** Time spent running the case before measuring, so that it is optimised (default 300 ms). */
  warmupMs?: number;
  /** Measured samples (default 10); each is one batch of calls. */
  samples?: number;
  /** Target duration of one sample (default 100 ms). */
  sampleMs?: number;
}

export interface MicroResult {
  name: string;
  /** Median over samples. */
  nsPerOp: number;
  minNsPerOp: number;
  opsPerS: number;
  /** Relative spread: (max - min) / median over samples, in percent. */
  spreadPct: number;
  /** Calls per sample. */
  batch: number;
  samples: number;
}

/** Keeps results reachable so that the work cannot be optimised away. */
let sink: unknown;
export function blackhole(x: unknown): void {
  sink = x;
}

function timeBatch(fn: () => unknown, n: number): number {
  const t0 = process.hrtime.bigint();
  let last: unknown;
  for (let i = 0; i < n; i++) last = fn();
  const t1 = process.hrtime.bigint();
  sink = last;
  return Number(t1 - t0);
}

export function measure(c: MicroCase, options: MicroOptions = {}): MicroResult {
  const warmupMs = options.warmupMs ?? 300;
  const samples = options.samples ?? 10;
  const sampleNs = (options.sampleMs ?? 100) * 1e6;
  (globalThis as { gc?: () => void }).gc?.();
  // Warm up while finding a batch size that takes about one sample.
  let batch = 1;
  const warmEnd = process.hrtime.bigint() + BigInt(Math.round(warmupMs * 1e6));
  for (;;) {
    const ns = timeBatch(c.fn, batch);
    if (ns < sampleNs / 2) batch *= 2;
    else if (process.hrtime.bigint() > warmEnd) {
      batch = Math.max(1, Math.round((batch * sampleNs) / Math.max(ns, 1)));
      break;
    }
    if (process.hrtime.bigint() > warmEnd && ns >= sampleNs / 4) {
      batch = Math.max(1, Math.round((batch * sampleNs) / Math.max(ns, 1)));
      break;
    }
  }
  const per: number[] = [];
  for (let s = 0; s < samples; s++) per.push(timeBatch(c.fn, batch) / batch);
  per.sort((a, b) => a - b);
  const median = per[Math.floor(per.length / 2)]!;
  const min = per[0]!;
  const max = per[per.length - 1]!;
  return {
    name: c.name,
    nsPerOp: median,
    minNsPerOp: min,
    opsPerS: 1e9 / median,
    spreadPct: median > 0 ? ((max - min) / median) * 100 : 0,
    batch,
    samples,
  };
}

export function formatResults(results: readonly MicroResult[]): string {
  const rows = results.map((r) => {
    const ns = r.nsPerOp >= 100 ? r.nsPerOp.toFixed(0) : r.nsPerOp.toFixed(1);
    return `| ${r.name} | ${ns} | ${Math.round(r.opsPerS).toLocaleString('en-US')} | ±${r.spreadPct.toFixed(0)} % |`;
  });
  return ['| case | ns/op | ops/s | spread |', '|---|--:|--:|--:|', ...rows].join('\n') + '\n';
}

/** Runs the cases in order and prints a Markdown table (paste it into the commit message with before/after figures). */
export function runMicro(title: string, cases: readonly MicroCase[], options: MicroOptions = {}): MicroResult[] {
  if (!(globalThis as { gc?: () => void }).gc) process.stderr.write('note: run with node --expose-gc for steadier figures\n');
  const results = cases.map((c) => measure(c, options));
  process.stdout.write(`### ${title}\n\n${formatResults(results)}`);
  void sink;
  return results;
}
