import type { Backend } from '../backend.js';
import type { Balancer } from './balancer.js';

export class RoundRobinBalancer implements Balancer {
  private turn = 0;

  pick(candidates: readonly Backend[]): Backend {
    return candidates[this.turn++ % candidates.length]!;
  }
}
