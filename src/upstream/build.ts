// Builds the runtime pools from the plan. On a reload, a (pool, server) pair whose address and TLS settings are
// unchanged keeps its Backend object, so its health, drain state and in-flight counts survive the reload.
import type { PoolPlan } from '../config/plan.js';
import { Backend } from './backend.js';
import { createBalancer } from './balancer/index.js';
import { originOf, type UpstreamConnections } from './connections.js';
import { UpstreamPool } from './pool.js';

function sameBackend(old: Backend, plan: PoolPlan, serverName: string, originKey: string): boolean {
  return old.pool === plan.name && old.name === serverName && originKeyOf(old) === originKey;
}

function originKeyOf(b: Pick<Backend, 'origin'>): string {
  const { url, tls } = b.origin;
  return `${url}|${tls.ca ?? ''}|${tls.fingerprint256 ?? ''}|${tls.servername ?? ''}|${tls.insecure}`;
}

export function buildPools(
  plans: readonly PoolPlan[],
  connections: UpstreamConnections,
  previous?: ReadonlyMap<string, UpstreamPool>,
): Map<string, UpstreamPool> {
  const pools = new Map<string, UpstreamPool>();
  for (const plan of plans) {
    const before = previous?.get(plan.name);
    const backends = plan.config.servers.map((server) => {
      const origin = originOf(server, plan.mode, plan.config.tls);
      const key = originKeyOf({ origin });
      const kept = before?.backends.find((b) => sameBackend(b, plan, server.name, key));
      if (kept) {
        // Weight and limits may have changed; the address has not.
        kept.server = server;
        return kept;
      }
      return new Backend(plan.name, server, origin, connections.shared(origin));
    });
    pools.set(plan.name, new UpstreamPool(plan, backends, createBalancer(plan.config.balance)));
  }
  return pools;
}
