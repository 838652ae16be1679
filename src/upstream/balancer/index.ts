// The policies, registered by name (schema.ts BALANCERS). Each is one small file answering one question:
// which of these available backends?
import type { BalancerName, PoolConfig } from '../../config/schema.js';
import type { Balancer } from './balancer.js';
import { CookieBalancer } from './cookie.js';
import { LeastConnBalancer } from './least-conn.js';
import { RandomTwoBalancer } from './random-two.js';
import { RoundRobinBalancer } from './round-robin.js';
import { SourceIpBalancer } from './source-ip.js';
import { WeightedBalancer } from './weighted.js';

export type { Balancer, PickContext } from './balancer.js';

const FACTORIES: Record<BalancerName, (pool: PoolConfig) => Balancer> = {
  'least-conn': () => new LeastConnBalancer(),
  'round-robin': () => new RoundRobinBalancer(),
  weighted: () => new WeightedBalancer(),
  'random-two': () => new RandomTwoBalancer(),
  'source-ip': () => new SourceIpBalancer(),
  cookie: (pool) => new CookieBalancer(pool.cookieName),
};

/** The policy `pool.balance` names, with the settings of the pool it needs (cookie: `cookieName`). */
export function createBalancer(pool: PoolConfig): Balancer {
  return FACTORIES[pool.balance](pool);
}
