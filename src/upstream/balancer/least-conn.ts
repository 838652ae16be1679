// Default for Exchange pools: Exchange mixes hour-long tunnels with 50 ms requests, which skews round robin.
// Ties rotate so that an idle pool still spreads new work.
import type { Backend } from '../backend.js';
import type { Balancer } from './balancer.js';

export class LeastConnBalancer implements Balancer {
  private turn = 0;

  pick(candidates: readonly Backend[]): Backend {
    const n = candidates.length;
    const start = this.turn++ % n;
    let best = candidates[start]!;
    for (let i = 1; i < n; i++) {
      const b = candidates[(start + i) % n]!;
      if (b.active < best.active) best = b;
    }
    return best;
  }
}
