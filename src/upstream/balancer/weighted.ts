// Smooth weighted round-robin (nginx's): each pick adds every candidate's weight to its running total, takes the
// largest, and subtracts the sum from the winner. Weights 5:1:1 give a a b a c a a, never a burst of five.
// Weights are effective weights: configured weight scaled by slow start.
import type { Backend } from '../backend.js';
import type { Balancer } from './balancer.js';

const effective = (b: Backend, now: number): number => b.effectiveWeight(now);

export function smoothWeightedPick(candidates: readonly Backend[], now: number, weightOf: (b: Backend, now: number) => number = effective): Backend {
  let total = 0;
  let best: Backend | undefined;
  for (const b of candidates) {
    const w = weightOf(b, now);
    b.swrrCurrent += w;
    total += w;
    if (w > 0 && (best === undefined || b.swrrCurrent > best.swrrCurrent)) best = b;
  }
  // Every weight is 0: the servers still answer, so share equally rather than refuse.
  if (best === undefined) {
    best = candidates[0]!;
    for (const b of candidates) if (b.swrrCurrent < best.swrrCurrent) best = b;
    best.swrrCurrent += 1;
    return best;
  }
  best.swrrCurrent -= total;
  return best;
}

export class WeightedBalancer implements Balancer {
  pick(candidates: readonly Backend[]): Backend {
    return smoothWeightedPick(candidates, performance.now());
  }
}
