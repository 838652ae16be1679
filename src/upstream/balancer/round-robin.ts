// Equal shares in turn; configured weights are ignored (use `weighted` for those). A backend in slow start gets
// its ramping share through smooth weighted round-robin until every candidate is back at full share.
import type { Backend } from '../backend.js';
import type { Balancer } from './balancer.js';
import { smoothWeightedPick } from './weighted.js';

const slowStartOnly = (b: Backend, now: number): number => b.slowStartFactor(now);

export class RoundRobinBalancer implements Balancer {
  private turn = 0;

  pick(candidates: readonly Backend[]): Backend {
    const now = performance.now();
    for (const b of candidates) if (b.slowStartFactor(now) < 1) return smoothWeightedPick(candidates, now, slowStartOnly);
    return candidates[this.turn++ % candidates.length]!;
  }
}
