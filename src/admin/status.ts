// Read-only admin routes: Prometheus metrics, the JSON status of every pool and backend, and a status page
// (HAProxy's stats page is what admins ask for). State-changing routes live in admin/api.ts.
import type { Config } from '../config/schema.js';
import type { PinnedSessions } from '../proxy/pinning.js';
import type { RpcTunnels } from '../proxy/rpc-tunnel.js';
import type { LoadedCertificate } from '../tls/certificate.js';
import type { UpstreamPool } from '../upstream/pool.js';
import type { Metrics } from './metrics.js';
import type { AdminServer } from './server.js';
import { renderStatusPage } from './status-page.js';

export interface StatusSources {
  pools: ReadonlyMap<string, UpstreamPool>;
  metrics: Metrics;
  pins: PinnedSessions;
  rpc: RpcTunnels;
  config: Config;
  certificates: readonly LoadedCertificate[];
}

export interface BackendStatus {
  name: string;
  address: string;
  state: string;
  reason: string;
  activeRequests: number;
  pinnedConnections: number;
  longLived: number;
  weight: number;
  /** Share of its weight a recovering backend gets right now (slow start), in percent. */
  weightPercent: number;
}

export interface PoolStatus {
  name: string;
  mode: string;
  balance: string;
  healthPath?: string;
  healthFrom?: string;
  available: number;
  backends: BackendStatus[];
}

export function poolStatus(pool: UpstreamPool): PoolStatus {
  return {
    name: pool.name,
    mode: pool.plan.mode,
    balance: pool.plan.config.balance,
    healthPath: pool.plan.healthPath,
    healthFrom: pool.plan.healthFrom,
    available: pool.backends.filter((b) => b.available()).length,
    backends: pool.backends.map((b) => ({
      name: b.name,
      address: b.origin.url,
      state: b.state,
      reason: b.reason,
      activeRequests: b.active,
      pinnedConnections: b.pinned,
      longLived: b.longLivedCount,
      weight: b.server.weight,
      weightPercent: Math.round(b.slowStartFactor(performance.now()) * 100),
    })),
  };
}

export function gatewayStatus(src: StatusSources) {
  return {
    pools: [...src.pools.values()].map(poolStatus),
    pinnedConnections: src.pins.count,
    rpcTunnels: src.rpc.open,
    certificates: src.certificates.map((c) => ({
      source: c.source,
      names: c.dnsNames,
      notAfter: c.notAfter.toISOString(),
      sha256Fingerprint: c.sha256Fingerprint,
    })),
  };
}

export function registerStatusRoutes(admin: AdminServer, src: StatusSources): void {
  admin.on('GET', '/metrics', async () => ({ text: await src.metrics.registry.metrics(), contentType: src.metrics.registry.contentType }));
  admin.on('GET', '/api/status', () => ({ json: gatewayStatus(src) }));
  admin.on('GET', '/', () => ({ html: renderStatusPage(gatewayStatus(src)) }));
}
