// Builds the runtime pools from the plan. On a reload, a (pool, server) pair whose address and TLS settings are
// unchanged keeps its Backend object, so its health, drain state and in-flight counts survive the reload.
// Runs after the swap point of a reload (runtime/provision.ts read every file before): nothing here can fail.
import type { PoolPlan } from '../config/plan.js';
import { Backend } from './backend.js';
import { createBalancer } from './balancer/index.js';
import { originKey, originOf, type UpstreamConnections } from './connections.js';
import { UpstreamPool } from './pool.js';

function sameBackend(old: Backend, plan: PoolPlan, serverName: string, key: string): boolean {
  return old.pool === plan.name && old.name === serverName && originKey(old.origin) === key;
}

/**
 * `caFiles` holds the content of every `tls.ca` file the plans name, read by provisioning.
 */
export function buildPools(
  plans: readonly PoolPlan[],
  connections: UpstreamConnections,
  caFiles: ReadonlyMap<string, string>,
  previous?: ReadonlyMap<string, UpstreamPool>,
): Map<string, UpstreamPool> {
  const pools = new Map<string, UpstreamPool>();
  for (const plan of plans) {
    const before = previous?.get(plan.name);
    const caPem = plan.config.tls.ca === undefined ? undefined : caFiles.get(plan.config.tls.ca);
    const backends = plan.config.servers.map((server) => {
      const origin = originOf(server, plan.mode, plan.config.tls, caPem);
      const key = originKey(origin);
      const kept = before?.backends.find((b) => sameBackend(b, plan, server.name, key));
      if (kept) {
        // Weight and limits may have changed; the address has not.
        kept.server = server;
        return kept;
      }
      return new Backend(plan.name, server, origin, connections.shared(origin));
    });
    pools.set(plan.name, new UpstreamPool(plan, backends, createBalancer(plan.config)));
  }
  return pools;
}
