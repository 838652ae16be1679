// A pool: the backends serving one route (one Exchange protocol, or one custom publishing rule).
import type { PoolPlan } from '../config/plan.js';
import type { Backend } from './backend.js';
import type { Balancer, PickContext } from './balancer/index.js';

export class UpstreamPool {
  constructor(
    readonly plan: PoolPlan,
    readonly backends: readonly Backend[],
    private readonly balancer: Balancer,
  ) {}

  get name(): string {
    return this.plan.name;
  }

  /** An available backend, skipping those already tried for this request; undefined when none is left. */
  pick(ctx: PickContext, tried?: ReadonlySet<Backend>): Backend | undefined {
    const candidates = this.backends.filter((b) => b.available() && !tried?.has(b));
    if (candidates.length === 0) return undefined;
    return candidates.length === 1 ? candidates[0] : this.balancer.pick(candidates, ctx);
  }

  find(serverName: string): Backend | undefined {
    return this.backends.find((b) => b.name === serverName);
  }
}
