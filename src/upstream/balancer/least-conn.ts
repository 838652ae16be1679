// Default for Exchange pools: Exchange mixes hour-long tunnels with 50 ms requests, which skews round robin.
// Weighted least-request (Envoy's): the lowest (active + 1) / effective weight wins, so weights and slow start
// count too; with equal weights this is plain least-connections. Ties rotate so an idle pool still spreads work.
import type { Backend } from '../backend.js';
import type { Balancer } from './balancer.js';

/** Load per unit of weight; a zero weight ranks last (used only when nothing else is available). */
export function loadScore(b: Backend, now: number): number {
  const w = b.effectiveWeight(now);
  return w > 0 ? (b.active + 1) / w : Number.POSITIVE_INFINITY;
}

export class LeastConnBalancer implements Balancer {
  private turn = 0;

  pick(candidates: readonly Backend[]): Backend {
    const n = candidates.length;
    const now = performance.now();
    const start = this.turn++ % n;
    let best = candidates[start]!;
    let bestScore = loadScore(best, now);
    for (let i = 1; i < n; i++) {
      const b = candidates[(start + i) % n]!;
      const score = loadScore(b, now);
      if (score < bestScore) [best, bestScore] = [b, score];
    }
    return best;
  }
}
