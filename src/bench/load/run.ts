// runLoad(): splits the load across workers (threads, one per core given), merges what they measured.
import { Worker } from 'node:worker_threads';
import { encodeHistogram, mergeEncoded, summarize } from './histogram.js';
import type { KindResult, LoadOptions, LoadResult, Progress } from './options.js';
import { runWorker, type WorkerPlan, type WorkerResult } from './worker.js';

function split(total: number, parts: number, index: number): number {
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Validates options with short messages naming the option (as undici does in its constructors). */
export function checkOptions(o: LoadOptions): void {
  const url = o.url ?? o.mix?.url;
  if (!url) throw new Error('url: required (or give one in the mix file)');
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`url: expected http: or https:, got ${u.protocol}`);
  const positiveInt = (name: string, v: number | undefined): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new Error(`${name}: expected a whole number of at least 1`);
  };
  positiveInt('connections', o.connections);
  positiveInt('workers', o.workers);
  positiveInt('maxInflight', o.maxInflight);
  if (o.rate !== undefined && !(o.rate > 0)) throw new Error('rate: expected a positive number of requests per second');
  if (o.durationS !== undefined && !(o.durationS > 0)) throw new Error('duration: expected a positive number of seconds');
  if (o.warmupS !== undefined && !(o.warmupS >= 0)) throw new Error('warmup: expected zero or more seconds');
  if (o.timeoutS !== undefined && !(o.timeoutS > 0)) throw new Error('timeout: expected a positive number of seconds');
  const workers = o.workers ?? 1;
  if ((o.connections ?? 32) < workers) throw new Error('connections: expected at least one per worker');
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  checkOptions(options);
  const url = (options.url ?? options.mix?.url)!;
  const workers = options.workers ?? 1;
  const connections = options.connections ?? 32;
  const durationS = options.durationS ?? 10;
  const warmupS = options.warmupS ?? 2;
  const startedAt = new Date();
  const startAtEpochMs = Date.now() + (workers > 1 ? 300 : 0);
  const plans: WorkerPlan[] = [];
  for (let i = 0; i < workers; i++) {
    plans.push({
      index: i,
      url,
      method: options.method ?? 'GET',
      headers: options.headers ?? {},
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(options.mix ? { mix: options.mix } : {}),
      connections: split(connections, workers, i),
      ...(options.rate ? { rate: options.rate / workers } : {}),
      warmupMs: warmupS * 1000,
      durationMs: durationS * 1000,
      timeoutMs: (options.timeoutS ?? 30) * 1000,
      maxInflight: options.maxInflight ?? 10_000,
      freshConnections: options.freshConnections ?? false,
      tls: options.tls ?? {},
      activesync: split(options.mix?.activesync?.concurrent ?? 0, workers, i),
      rpcTunnels: split(options.mix?.rpc?.tunnels ?? 0, workers, i),
      startAtEpochMs,
    });
  }

  const progress: Progress[] = plans.map(() => ({ elapsedS: 0, phase: 'warmup', completed: 0, errors: 0 }));
  const report = (i: number, p: Progress): void => {
    progress[i] = p;
    if (!options.onProgress) return;
    options.onProgress({
      elapsedS: Math.max(...progress.map((x) => x.elapsedS)),
      phase: p.phase,
      completed: progress.reduce((s, x) => s + x.completed, 0),
      errors: progress.reduce((s, x) => s + x.errors, 0),
    });
  };

  const results: WorkerResult[] =
    workers === 1
      ? [await runWorker(plans[0]!, (p) => report(0, p))]
      : await Promise.all(plans.map((plan) => runInThread(plan, (p) => report(plan.index, p))));
  return mergeResults(results, {
    url,
    startedAt,
    workers,
    connections,
    rate: options.rate,
    durationS,
    warmupS,
    freshConnections: options.freshConnections ?? false,
    mix: options.mix !== undefined,
  });
}

function runInThread(plan: WorkerPlan, onProgress: (p: Progress) => void): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker-entry.js', import.meta.url), { workerData: plan });
    let settled = false;
    worker.on('message', (m: { type: 'progress'; progress: Progress } | { type: 'result'; result: WorkerResult } | { type: 'error'; message: string }) => {
      if (m.type === 'progress') onProgress(m.progress);
      else if (m.type === 'result') {
        settled = true;
        resolve(m.result);
        void worker.terminate();
      } else {
        settled = true;
        reject(new Error(`load worker ${plan.index}: ${m.message}`));
        void worker.terminate();
      }
    });
    worker.on('error', (err) => {
      if (!settled) reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`load worker ${plan.index} exited with code ${code} before reporting`));
    });
  });
}

export interface MergeContext {
  url: string;
  startedAt: Date;
  workers: number;
  connections: number;
  rate: number | undefined;
  durationS: number;
  warmupS: number;
  freshConnections: boolean;
  mix: boolean;
}

/** Adds up worker results; latency percentiles come from the merged histograms, never from averaging percentiles. */
export function mergeResults(results: readonly WorkerResult[], ctx: MergeContext): LoadResult {
  const errors: Record<string, number> = {};
  const statusCodes: Record<string, number> = {};
  let completed = 0;
  let ok = 0;
  let unfinished = 0;
  let bytes = 0;
  const kindNames = new Set<string>();
  for (const r of results) {
    completed += r.completed;
    ok += r.ok;
    unfinished += r.unfinished;
    bytes += r.bytes;
    addCounts(errors, r.errors);
    addCounts(statusCodes, r.statusCodes);
    for (const k of Object.keys(r.kinds)) kindNames.add(k);
  }
  const all = mergeEncoded(results.map((r) => r.histogram));
  const kinds: Record<string, KindResult> = {};
  for (const name of [...kindNames].sort()) {
    const parts = results.map((r) => r.kinds[name]).filter((k) => k !== undefined);
    const h = mergeEncoded(parts.map((k) => k.histogram));
    kinds[name] = {
      completed: parts.reduce((s, k) => s + k.completed, 0),
      errors: parts.reduce((s, k) => s + k.errors, 0),
      latencyMs: summarize(h),
    };
    h.destroy();
  }
  const held: LoadResult['held'] = {};
  const pings = results.map((r) => r.activesync).filter((x) => x !== undefined);
  if (pings.length > 0) {
    const e: Record<string, number> = {};
    for (const p of pings) addCounts(e, p.errors);
    const h = mergeEncoded(pings.map((p) => p.histogram));
    held.activesync = {
      concurrent: pings.reduce((s, p) => s + p.concurrent, 0),
      answered: pings.reduce((s, p) => s + p.answered, 0),
      heldAtEnd: pings.reduce((s, p) => s + p.heldAtEnd, 0),
      errors: e,
      latencyMs: summarize(h),
    };
  }
  const rpcs = results.map((r) => r.rpc).filter((x) => x !== undefined);
  if (rpcs.length > 0) {
    const e: Record<string, number> = {};
    for (const p of rpcs) addCounts(e, p.errors);
    const h = mergeEncoded(rpcs.map((p) => p.histogram));
    held.rpc = {
      tunnels: rpcs.reduce((s, p) => s + p.tunnels, 0),
      opened: rpcs.reduce((s, p) => s + p.opened, 0),
      lost: rpcs.reduce((s, p) => s + p.lost, 0),
      bytesSent: rpcs.reduce((s, p) => s + p.bytesSent, 0),
      bytesReceived: rpcs.reduce((s, p) => s + p.bytesReceived, 0),
      errors: e,
      setupMs: summarize(h),
    };
  }
  // Open loop: a backlog that drains after the window stretches it; the rate is what was answered per second.
  const measuredS = Math.max(ctx.durationS, ...results.map((r) => r.measuredMs / 1000));
  const errorCount = Object.values(errors).reduce((s, n) => s + n, 0);
  const result: LoadResult = {
    tool: 'casgate bench load',
    startedAt: ctx.startedAt.toISOString(),
    target: ctx.url,
    mode: ctx.rate ? 'open-loop' : 'closed-loop',
    workload: ctx.mix ? 'exchange-mix' : 'single-url',
    connections: ctx.connections,
    ...(ctx.rate ? { rate: ctx.rate } : {}),
    workers: ctx.workers,
    freshConnections: ctx.freshConnections,
    durationS: Math.round(measuredS * 1000) / 1000,
    warmupS: ctx.warmupS,
    requests: { completed, ok, errors: errorCount, unfinished },
    errors,
    statusCodes,
    throughput: {
      requestsPerS: Math.round((completed / measuredS) * 10) / 10,
      bytes,
      mibPerS: Math.round((bytes / 1_048_576 / measuredS) * 100) / 100,
    },
    latencyMs: summarize(all),
    kinds,
    held,
    histogram: '',
  };
  result.histogram = encodeHistogram(all);
  all.destroy();
  return result;
}
