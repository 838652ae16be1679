// Passive health (Envoy's outlier detection): the engine reports each attempt's result; connect failures, resets
// and timeouts in a row past `consecutiveFailures` eject the (pool, backend) for baseEjection × ejections so far
// (capped at maxEjection). Never more than maxEjectionPercent of a pool is ejected at once, so a misbehaving
// client or a bad threshold cannot take a whole pool out. A success resets the count.
import type { Logger } from '../../logging/logger.js';
import { ejects } from '../../failure.js';
import type { Backend } from '../backend.js';
import type { UpstreamPool } from '../pool.js';


interface Tracked {
  consecutive: number;
  ejections: number;
}

export interface OutlierOptions {
  logger: Logger;
}

export class OutlierDetector {
  /** Per backend, created on its first failure; a backend dropped by a reload is forgotten with it. */
  private readonly records = new WeakMap<Backend, Tracked>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The pools in effect, set by apply(); a result is looked up by the backend's pool name. */
  private pools: ReadonlyMap<string, UpstreamPool> = new Map();

  constructor(private readonly opts: OutlierOptions) {}

  /** The gateway's one call at start and at every reload. */
  apply(runtime: { readonly pools: ReadonlyMap<string, UpstreamPool> }): void {
    this.pools = runtime.pools;
  }

  /** The engine's report on one attempt (EngineOptions.onBackendResult). Successes cost one WeakMap lookup. */
  onResult(backend: Backend, ok: boolean, code?: string): void {
    let r = this.records.get(backend);
    if (ok) {
      if (r) r.consecutive = 0;
      return;
    }
    // What counts is failure.ts's decision (FAILURES[code].ejects): not a 4xx, a TLS mismatch or a client abort.
    if (code !== undefined && !ejects(code)) return;
    const pool = this.pools.get(backend.pool);
    if (!pool || !pool.plan.config.outlier.enabled || !pool.backends.includes(backend)) return;
    if (!r) this.records.set(backend, (r = { consecutive: 0, ejections: 0 }));
    r.consecutive++;
    const cfg = pool.plan.config.outlier;
    if (r.consecutive < cfg.consecutiveFailures || backend.isEjected) return;
    if (!this.mayEject(pool)) {
      this.opts.logger.warn('outlier not ejected: pool at its ejection cap', {
        pool: pool.name,
        backend: backend.name,
        failures: r.consecutive,
        maxEjectionPercent: cfg.maxEjectionPercent,
      });
      r.consecutive = 0;
      return;
    }
    r.ejections++;
    backend.ejections++;
    const ms = Math.min(cfg.baseEjection * r.ejections, cfg.maxEjection);
    const reason = `ejected for ${Math.round(ms / 1000)} s after ${r.consecutive} consecutive failures (last ${code ?? 'error'})`;
    backend.setEjected(true, reason);
    this.opts.logger.warn('backend ejected', { pool: pool.name, backend: backend.name, reason });
    r.consecutive = 0;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (backend.setEjected(false)) this.opts.logger.info('backend returned from ejection', { pool: pool.name, backend: backend.name });
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  /** One more ejection keeps the ejected share within maxEjectionPercent. */
  private mayEject(pool: UpstreamPool): boolean {
    let ejected = 0;
    for (const b of pool.backends) if (b.isEjected) ejected++;
    return (ejected + 1) * 100 <= pool.plan.config.outlier.maxEjectionPercent * pool.backends.length;
  }

  /** Ejections so far of a backend (grows the ejection time; never decays in this version). */
  ejectionsOf(backend: Backend): number {
    return this.records.get(backend)?.ejections ?? 0;
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
