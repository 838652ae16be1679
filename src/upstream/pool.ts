// A pool: the backends serving one route (one Exchange protocol, or one custom publishing rule).
import type { PoolPlan } from '../config/plan.js';
import type { Backend } from './backend.js';
import type { Balancer, PickContext } from './balancer/index.js';

export class UpstreamPool {
  /** Reused by pick() so the per-request path allocates nothing; balancers must not keep it. */
  private readonly candidates: Backend[] = [];

  constructor(
    readonly plan: PoolPlan,
    readonly backends: readonly Backend[],
    private readonly balancer: Balancer,
  ) {
    // The pool's settings apply to its backends (also to backends kept across a config reload).
    for (const b of backends) b.slowStartMs = plan.config.slowStart;
  }

  get name(): string {
    return this.plan.name;
  }

  /** An available backend, skipping those already tried for this request; undefined when none is left. */
  pick(ctx: PickContext, tried?: ReadonlySet<Backend>): Backend | undefined {
    const candidates = this.candidates;
    candidates.length = 0;
    for (const b of this.backends) if (b.available() && !tried?.has(b)) candidates.push(b);
    if (candidates.length === 0) return undefined;
    const picked = candidates.length === 1 ? candidates[0]! : this.balancer.pick(candidates, ctx);
    candidates.length = 0;
    return picked;
  }

  /** The Set-Cookie that keeps this client on `backend`, when the pool's policy keeps clients (cookie); else undefined. */
  setCookie(backend: Backend, ctx: PickContext): string | undefined {
    return this.balancer.setCookie?.(backend, ctx);
  }

  find(serverName: string): Backend | undefined {
    return this.backends.find((b) => b.name === serverName);
  }

  /** Backends in service for this pool (healthy, not ejected, not draining or disabled), full or not. */
  get inServiceCount(): number {
    let n = 0;
    for (const b of this.backends) if (b.state === 'healthy') n++;
    return n;
  }
}
