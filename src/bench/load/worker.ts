// One worker's share of the load: its own undici Pool of keep-alive connections, closed loop (a fixed number of
// requests in flight) or open loop (a fixed rate). In open loop, latency runs from each request's intended send time,
// so a stalled server shows as the queue it causes (no coordinated omission); requests that could not even be sent
// by the end are recorded with the wait they had so far and counted as unfinished.
import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { classifyError, classifyStatus } from './errors.js';
import { ActiveSyncPings, RpcTunnels, type HeldPingStats, type RpcStats } from './held.js';
import { createHistogram, encodeHistogram, recordMs, type Histogram } from './histogram.js';
import { MixSource, singleUrlSource, type MixSpec, type RequestSource, type RequestSpec } from './mix.js';
import type { Progress, TlsOptions } from './options.js';

export interface WorkerPlan {
  index: number;
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  mix?: MixSpec;
  connections: number;
  /** This worker's share of the rate, req/s (open loop). */
  rate?: number;
  warmupMs: number;
  durationMs: number;
  timeoutMs: number;
  maxInflight: number;
  freshConnections: boolean;
  tls: TlsOptions;
  activesync: number;
  rpcTunnels: number;
  /** Date.now() at which all workers start, so that their windows line up. */
  startAtEpochMs: number;
}

export interface WorkerResult {
  completed: number;
  ok: number;
  unfinished: number;
  bytes: number;
  measuredMs: number;
  errors: Record<string, number>;
  statusCodes: Record<string, number>;
  histogram: string;
  kinds: Record<string, { completed: number; errors: number; histogram: string }>;
  activesync?: HeldPingStats;
  rpc?: RpcStats;
}

interface KindStats {
  completed: number;
  errors: number;
  hist: Histogram;
}

class Stats {
  completed = 0;
  ok = 0;
  bytes = 0;
  unfinished = 0;
  readonly errors: Record<string, number> = {};
  readonly statusCodes: Record<string, number> = {};
  readonly hist = createHistogram();
  readonly kinds = new Map<string, KindStats>();

  kind(name: string): KindStats {
    let k = this.kinds.get(name);
    if (!k) this.kinds.set(name, (k = { completed: 0, errors: 0, hist: createHistogram() }));
    return k;
  }

  error(kind: string, name: string): void {
    this.errors[name] = (this.errors[name] ?? 0) + 1;
    this.kind(kind).errors++;
  }
}

type Phase = 'warmup' | 'measure' | 'drain' | 'done';

/** One request on the wire; its own dispatch handler, so nothing else is allocated per request. */
class InFlight implements Dispatcher.DispatchHandler {
  status = 0;
  bytes = 0;
  constructor(
    private readonly run: WorkerRun,
    readonly spec: RequestSpec,
    /** performance.now() the latency runs from: intended send time (open loop) or actual send time (closed loop). */
    readonly from: number,
  ) {}
  onRequestStart(): void {}
  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    this.spec.onResponse?.(statusCode, headers);
  }
  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length;
  }
  onResponseEnd(): void {
    this.run.finish(this, undefined);
  }
  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.run.finish(this, err);
  }
}

export class WorkerRun {
  private readonly pool: Pool;
  private readonly origin: string;
  private readonly source: RequestSource;
  private readonly stats = new Stats();
  private phase: Phase = 'warmup';
  private t0 = 0;
  private measureStart = 0;
  private measureEnd = 0;
  private inflight = new Set<InFlight>();
  // open loop
  private sent = 0;
  private intervalMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private finished!: () => void;
  private progressCompleted = 0;
  private progressErrors = 0;
  /** Open loop: when the last request due in the window was answered (the window stretches while a backlog drains). */
  private lastCountedAt = 0;

  constructor(private readonly plan: WorkerPlan) {
    const url = new URL(plan.url);
    this.origin = url.origin;
    this.source = plan.mix
      ? new MixSource(plan.mix)
      : singleUrlSource(url.pathname + url.search, plan.method, plan.headers, plan.body);
    this.pool = new Pool(this.origin, {
      connections: plan.connections,
      pipelining: 1,
      headersTimeout: plan.timeoutMs,
      bodyTimeout: plan.timeoutMs,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      connect: this.connectOptions(),
    });
  }

  connectOptions(): Record<string, unknown> {
    const t = this.plan.tls;
    return {
      rejectUnauthorized: !t.insecure,
      ...(t.ca ? { ca: t.ca } : {}),
      ...(t.servername ? { servername: t.servername } : {}),
      // No session resumption when every request must pay a full handshake.
      ...(this.plan.freshConnections ? { maxCachedSessions: 0 } : {}),
      timeout: this.plan.timeoutMs,
    };
  }

  async run(onProgress?: (p: Progress) => void): Promise<WorkerResult> {
    const wait = this.plan.startAtEpochMs - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const plan = this.plan;
    let pings: ActiveSyncPings | undefined;
    let tunnels: RpcTunnels | undefined;
    if (plan.mix?.activesync && plan.activesync > 0) {
      const a = plan.mix.activesync;
      pings = new ActiveSyncPings(this.origin, plan.activesync, a.path, a.heartbeatMs, this.connectOptions(), plan.mix.headers);
      pings.start();
    }
    if (plan.mix?.rpc && plan.rpcTunnels > 0) {
      const r = plan.mix.rpc;
      tunnels = new RpcTunnels(new URL(plan.url), plan.rpcTunnels, r.path, r.trickleBytes, r.trickleIntervalMs, plan.tls, plan.index, plan.mix.headers);
      tunnels.start();
    }
    const hasRequests = !plan.mix || plan.mix.requests.length > 0;

    this.t0 = performance.now();
    this.measureStart = this.t0 + plan.warmupMs;
    this.measureEnd = this.measureStart + plan.durationMs;
    const done = new Promise<void>((resolve) => (this.finished = resolve));
    const progress = setInterval(() => {
      onProgress?.({
        elapsedS: (performance.now() - this.t0) / 1000,
        phase: this.phase === 'done' ? 'drain' : this.phase,
        completed: this.progressCompleted,
        errors: this.progressErrors,
      });
    }, 1000);
    const toMeasure = setTimeout(() => (this.phase = 'measure'), plan.warmupMs);
    const toEnd = setTimeout(() => this.endMeasure(), plan.warmupMs + plan.durationMs);

    if (hasRequests) {
      if (plan.rate) {
        this.intervalMs = 1000 / plan.rate;
        this.pump();
      } else {
        for (let i = 0; i < plan.connections; i++) this.send(this.t0);
      }
    }
    await done;
    clearInterval(progress);
    clearTimeout(toMeasure);
    clearTimeout(toEnd);
    if (this.timer) clearTimeout(this.timer);
    const activesync = await pings?.stop();
    const rpc = tunnels?.stop();
    await this.pool.destroy().catch(() => undefined);

    const s = this.stats;
    const kinds: WorkerResult['kinds'] = {};
    for (const [name, k] of s.kinds) kinds[name] = { completed: k.completed, errors: k.errors, histogram: encodeHistogram(k.hist) };
    return {
      completed: s.completed,
      ok: s.ok,
      unfinished: s.unfinished,
      bytes: s.bytes,
      measuredMs: plan.rate ? Math.max(plan.durationMs, this.lastCountedAt - this.measureStart) : plan.durationMs,
      errors: s.errors,
      statusCodes: s.statusCodes,
      histogram: encodeHistogram(s.hist),
      kinds,
      ...(activesync ? { activesync } : {}),
      ...(rpc ? { rpc } : {}),
    };
  }

  private send(from: number): void {
    const spec = this.source.next();
    const req = new InFlight(this, spec, from);
    this.inflight.add(req);
    this.pool.dispatch(
      {
        origin: this.origin,
        path: spec.path,
        method: spec.method as Dispatcher.HttpMethod,
        headers: spec.headers,
        body: spec.body ?? null,
        reset: this.plan.freshConnections,
      },
      req,
    );
  }

  /** Open loop: send every request whose intended time has come, then sleep until the next one is due. */
  private pump(): void {
    this.timer = undefined;
    if (this.phase === 'drain' || this.phase === 'done') return;
    const now = performance.now();
    for (;;) {
      if (this.inflight.size >= this.plan.maxInflight) return; // resumed by finish()
      const intended = this.t0 + this.sent * this.intervalMs;
      if (intended > now || intended >= this.measureEnd) break;
      this.sent++;
      this.send(intended);
    }
    const next = this.t0 + this.sent * this.intervalMs;
    if (next < this.measureEnd) this.timer = setTimeout(() => this.pump(), Math.max(0, next - performance.now()));
  }

  finish(req: InFlight, err: Error | undefined): void {
    if (!this.inflight.delete(req)) return; // already written off at the end of an open-loop drain
    req.spec.onEnd?.(err !== undefined);
    const now = performance.now();
    const counts = this.plan.rate
      ? req.from >= this.measureStart && req.from < this.measureEnd // open loop: by intended time
      : now >= this.measureStart && now < this.measureEnd && this.phase === 'measure'; // closed loop: completions in the window
    const bad = err ? classifyError(err) : classifyStatus(req.status);
    if (bad) this.progressErrors++;
    else this.progressCompleted++;
    if (counts) {
      this.lastCountedAt = now;
      const s = this.stats;
      if (!err) {
        s.completed++;
        s.statusCodes[req.status] = (s.statusCodes[req.status] ?? 0) + 1;
        s.bytes += req.bytes;
      }
      if (bad) s.error(req.spec.kind, bad);
      else {
        s.ok++;
        const k = s.kind(req.spec.kind);
        k.completed++;
        recordMs(s.hist, now - req.from);
        recordMs(k.hist, now - req.from);
      }
    }
    if (this.phase === 'warmup' || this.phase === 'measure') {
      if (this.plan.rate) {
        if (this.timer === undefined) this.pump();
      } else {
        this.send(now);
      }
    } else if (this.phase === 'drain' && this.inflight.size === 0) {
      this.complete();
    }
  }

  private endMeasure(): void {
    if (!this.plan.rate) {
      // Closed loop: what is in flight now started in the window's last moments; drop it.
      this.phase = 'done';
      this.inflight.clear();
      this.finished();
      return;
    }
    this.phase = 'drain';
    if (this.inflight.size === 0 && this.unsentDue() === 0) return this.complete();
    // Give what is in flight a chance to finish, bounded by the request timeout (at most 5 s).
    setTimeout(() => this.complete(), Math.min(this.plan.timeoutMs, 5000)).unref();
  }

  /** Requests whose intended time fell in the window but that were never sent (the worker was at maxInflight). */
  private unsentDue(): number {
    const due = Math.ceil((this.measureEnd - this.t0) / this.intervalMs);
    return Math.max(0, due - this.sent);
  }

  private complete(): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    const now = performance.now();
    const s = this.stats;
    // Coordinated omission, the last part: what never got an answer waited at least until now.
    for (const req of this.inflight) {
      if (req.from >= this.measureStart && req.from < this.measureEnd) {
        s.unfinished++;
        recordMs(s.hist, now - req.from);
      }
    }
    this.inflight.clear();
    for (let i = this.sent; ; i++) {
      const intended = this.t0 + i * this.intervalMs;
      if (intended >= this.measureEnd) break;
      if (intended >= this.measureStart) {
        s.unfinished++;
        recordMs(s.hist, now - intended);
      }
    }
    this.finished();
  }
}

export function runWorker(plan: WorkerPlan, onProgress?: (p: Progress) => void): Promise<WorkerResult> {
  return new WorkerRun(plan).run(onProgress);
}
