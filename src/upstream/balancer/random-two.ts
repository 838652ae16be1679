// Power of two choices: draw two distinct candidates at random, keep the less loaded (active requests per unit
// of effective weight). Nearly as even as least-conn, without every proxy herding onto the same idle server.
import type { Backend } from '../backend.js';
import type { Balancer } from './balancer.js';
import { loadScore } from './least-conn.js';

export class RandomTwoBalancer implements Balancer {
  constructor(private readonly random: () => number = Math.random) {}

  pick(candidates: readonly Backend[]): Backend {
    const n = candidates.length;
    const i = Math.floor(this.random() * n);
    const j = (i + 1 + Math.floor(this.random() * (n - 1))) % n;
    const a = candidates[i]!;
    const b = candidates[j]!;
    const now = performance.now();
    return loadScore(b, now) < loadScore(a, now) ? b : a;
  }
}
