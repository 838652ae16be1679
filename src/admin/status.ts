// Read-only admin routes: Prometheus metrics, the JSON status of every pool and backend, and a status page
// (HAProxy's stats page is what admins ask for). State-changing routes live in admin/api.ts.
import type { AuthProtection } from '../proxy/auth-protection/protection.js';
import type { Mitigations } from '../proxy/mitigations.js';
import type { PinnedSessions } from '../proxy/pinning.js';
import type { RpcTunnels } from '../proxy/rpc-tunnel.js';
import { Router } from '../router/router.js';
import type { Runtime, RuntimeConsumer } from '../runtime/runtime.js';
import type { UpstreamPool } from '../upstream/pool.js';
import { VERSION } from '../version.js';
import type { Metrics } from './metrics.js';
import type { RecentCounts, RecentPoolCounts } from './recent.js';
import type { AdminServer } from './server.js';
import { renderStatusPage } from './status-page.js';
import type { BackendView, GatewayStatus, PoolView } from './status-view.js';

export type { BackendView, GatewayStatus, PoolView };
import { authProtectionView, mitigationViews } from './shield.js';

/** The admin listener's copy of the runtime in effect, set by the gateway's one call at start and at every reload. */
export class AdminView implements RuntimeConsumer {
  runtime: Pick<Runtime, 'pools' | 'certificates' | 'router'> = { pools: new Map(), certificates: [], router: new Router([]) };

  apply(runtime: Runtime): void {
    this.runtime = runtime;
  }
}

export interface StatusSources {
  view: AdminView;
  metrics: Metrics;
  pins: PinnedSessions;
  rpc: RpcTunnels;
  mitigations?: Mitigations;
  authProtection?: AuthProtection;
  /**
   * With workers: requests in flight, pinned and long-lived connections live in the workers; the primary sums them
   * (keys `pool/backend`). Absent in a single process, where the pools hold them.
   */
  live?: () => Promise<LiveCounts>;
  /** With workers: one scrape for the whole instance (the primary's metrics and every worker's, aggregated). */
  metricsText?: () => Promise<string>;
}

/** Counts that live in the processes carrying traffic, summed by the primary of a multi-process instance. */
export interface LiveCounts {
  backends: Record<string, { active: number; pinned: number; longLived: number }>;
  pinnedConnections: number;
  rpcTunnels: number;
  /** Requests and 5xx answers of the last 60 s by pool (the workers observe the requests). */
  lastMinute?: Record<string, { requests: number; errors: number }>;
}


export function poolView(pool: UpstreamPool, now = performance.now(), recent?: RecentPoolCounts, live?: LiveCounts): PoolView {
  return {
    name: pool.name,
    balance: pool.plan.config.balance,
    mode: pool.plan.mode,
    ...(pool.plan.healthPath ? { healthPath: pool.plan.healthPath } : {}),
    ...(pool.plan.healthFrom ? { healthFrom: pool.plan.healthFrom } : {}),
    available: pool.backends.filter((b) => b.available()).length,
    ...(live?.lastMinute ? { lastMinute: summed(live.lastMinute[pool.name]) } : recent ? { lastMinute: recent.lastMinute(pool.name) } : {}),
    backends: pool.backends.map((b) => {
      const counts = live?.backends[`${pool.name}/${b.name}`];
      return {
      name: b.name,
      address: b.origin.url,
      state: b.state,
      since: new Date(b.stateSince).toISOString(),
      reason: b.reason,
      weight: b.weight,
      effectiveWeight: Math.round(b.effectiveWeight(now) * 100) / 100,
      slowStart: b.rampingUp,
      maxConnections: b.server.maxConnections,
      activeRequests: live ? (counts?.active ?? 0) : b.active,
      pinnedConnections: live ? (counts?.pinned ?? 0) : b.pinned,
      longLived: live ? (counts?.longLived ?? 0) : b.longLivedCount,
      };
    }),
  };
}

function summed(c: { requests: number; errors: number } | undefined): RecentCounts {
  const requests = c?.requests ?? 0;
  const errors = c?.errors ?? 0;
  return { requests, errors, errorRate: requests ? errors / requests : 0 };
}

export function gatewayStatus(src: StatusSources, live?: LiveCounts) {
  // One snapshot: a reload in between cannot mix the old pools with the new certificates.
  const { pools, certificates } = src.view.runtime;
  const now = performance.now();
  return {
    version: VERSION,
    node: process.versions.node,
    uptimeSeconds: Math.floor(process.uptime()),
    pools: [...pools.values()].map((p) => poolView(p, now, src.metrics.recent, live)),
    pinnedConnections: live ? live.pinnedConnections : src.pins.count,
    rpcTunnels: live ? live.rpcTunnels : src.rpc.open,
    certificates: certificates.map((c) => ({
      source: c.source,
      names: c.dnsNames,
      notAfter: c.notAfter.toISOString(),
      /** Whole days until notAfter (negative once expired), as `casgate check` counts them. */
      daysLeft: Math.floor((c.notAfter.getTime() - Date.now()) / 86_400_000),
      sha256Fingerprint: c.sha256Fingerprint,
    })),
    mitigations: mitigationViews(src.mitigations),
    authProtection: authProtectionView(src.authProtection),
  };
}

export function registerStatusRoutes(admin: AdminServer, src: StatusSources): void {
  admin.on('GET', '/metrics', async () => ({ text: await (src.metricsText ? src.metricsText() : src.metrics.registry.metrics()), contentType: src.metrics.registry.contentType }));
  admin.on('GET', '/api/status', async () => ({ json: gatewayStatus(src, await src.live?.()) }));
  admin.on('GET', '/', async () => ({ html: renderStatusPage(gatewayStatus(src, await src.live?.())) }));
}
