import type { BalancerName } from '../../config/schema.js';
import type { Balancer } from './balancer.js';
import { LeastConnBalancer } from './least-conn.js';
import { RoundRobinBalancer } from './round-robin.js';

export type { Balancer, PickContext } from './balancer.js';

const FACTORIES: Partial<Record<BalancerName, () => Balancer>> = {
  'least-conn': () => new LeastConnBalancer(),
  'round-robin': () => new RoundRobinBalancer(),
};

export function createBalancer(name: BalancerName): Balancer {
  const make = FACTORIES[name] ?? FACTORIES['least-conn']!;
  return make();
}
