// State-changing admin API (bearer token required, see server.ts) and the pool listing it acts on:
//   GET  /api/pools                                  pools, backends, state and reason
//   POST /api/backends/:server/drain[?pool=cas/ews]  no new requests; in-flight ones finish; long-lived ones are
//                                                    closed after the pool's drainTimeout (or ?timeout=30s)
//   POST /api/backends/:server/enable[?pool=...]     back in service (slow start applies)
//   POST /api/backends/:server/disable[?pool=...]    out of service at once; in-flight requests still finish
//   POST /api/backends/:server/weight[?pool=...]     {"weight": 0..1000} (or ?weight=N); {"weight": null} = the config's
// Without ?pool the action applies to the server in every pool that has it (all Exchange protocols). Each change is
// written to admin.stateFile when one is set, and applied again at the next start.
import { MAX_DURATION_MS, parseDuration } from '../config/duration.js';
import type { Logger } from '../logging/logger.js';
import type { Backend } from '../upstream/backend.js';
import type { UpstreamPool } from '../upstream/pool.js';
import { AdminError, type AdminRequest, type AdminServer } from './server.js';
import { poolView, type AdminView } from './status.js';

export interface AdminApiSources {
  /** The runtime in effect (a config reload swaps it). */
  view: AdminView;
  logger: Logger;
  /** Called after every change (drain, enable, disable, weight): writes the state file. */
  saveState?: () => void;
}

type Action = 'drain' | 'enable' | 'disable';

/** The weight asked for: an integer 0..1000, or null to go back to the configured weight. */
function weightOf(req: AdminRequest): number | null {
  const body = req.body as { weight?: unknown } | undefined;
  const raw = req.query.get('weight') ?? (body && 'weight' in body ? body.weight : undefined);
  if (raw === null) return null;
  const weight = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 1000) {
    throw new AdminError(400, `weight: expected an integer from 0 to 1000 (or null for the configured weight), got ${JSON.stringify(raw ?? 'nothing')}`);
  }
  return weight;
}

/** The state file follows every change; failing to write it is logged, the change itself stands. */
function persist(src: AdminApiSources): void {
  try {
    src.saveState?.();
  } catch (err) {
    src.logger.error('state file not written; this change is lost at the next restart', { error: (err as Error).message });
  }
}

/** The (pool, backend) pairs an action applies to; 404 when the server or the pool is unknown. */
function targets(pools: ReadonlyMap<string, UpstreamPool>, server: string, poolName: string | null): Array<{ pool: UpstreamPool; backend: Backend }> {
  if (poolName !== null) {
    const pool = pools.get(poolName);
    if (!pool) throw new AdminError(404, `no pool named "${poolName}"`);
    const backend = pool.find(server);
    if (!backend) throw new AdminError(404, `pool ${poolName} has no server "${server}"`);
    return [{ pool, backend }];
  }
  const found: Array<{ pool: UpstreamPool; backend: Backend }> = [];
  for (const pool of pools.values()) {
    const backend = pool.find(server);
    if (backend) found.push({ pool, backend });
  }
  if (found.length === 0) throw new AdminError(404, `no pool has a server named "${server}"`);
  return found;
}

function timeoutOf(req: AdminRequest): number | undefined {
  const text = req.query.get('timeout') ?? (typeof (req.body as { timeout?: unknown })?.timeout === 'string' ? (req.body as { timeout: string }).timeout : undefined);
  if (text === undefined) return undefined;
  const ms = text === '0' ? 0 : parseDuration(text);
  if (ms !== undefined && ms > MAX_DURATION_MS) throw new AdminError(400, `timeout: at most 24d, got ${JSON.stringify(text)}`);
  if (ms === undefined) throw new AdminError(400, `timeout: expected a duration like 30s or 10m, got ${JSON.stringify(text)}`);
  return ms;
}

export function registerAdminApi(admin: AdminServer, src: AdminApiSources): void {
  admin.on('GET', '/api/pools', () => ({ json: { pools: [...src.view.runtime.pools.values()].map((p) => poolView(p)) } }));

  const act = (action: Action) => (req: AdminRequest) => {
    const server = req.params.server!;
    const poolName = req.query.get('pool');
    const timeout = action === 'drain' ? timeoutOf(req) : undefined;
    const done = targets(src.view.runtime.pools, server, poolName).map(({ pool, backend }) => {
      if (action === 'drain') backend.drain(timeout ?? pool.plan.config.drainTimeout);
      else if (action === 'disable') backend.disable();
      else backend.enable();
      return { pool: pool.name, state: backend.state, activeRequests: backend.active, longLived: backend.longLivedCount };
    });
    src.logger.warn(`admin ${action}`, { backend: server, pools: poolName ?? `all (${done.length})`, timeout: timeout === undefined ? undefined : `${timeout}ms` });
    persist(src);
    return { json: { server, action, pools: done } };
  };
  admin.on('POST', '/api/backends/:server/weight', (req) => {
    const server = req.params.server!;
    const poolName = req.query.get('pool');
    const weight = weightOf(req);
    const done = targets(src.view.runtime.pools, server, poolName).map(({ pool, backend }) => {
      backend.weightOverride = weight ?? undefined;
      return { pool: pool.name, weight: backend.weight, configured: backend.server.weight };
    });
    src.logger.warn('admin weight', { backend: server, pools: poolName ?? `all (${done.length})`, weight: weight ?? 'configured' });
    persist(src);
    return { json: { server, action: 'weight', pools: done } };
  });
  admin.on('POST', '/api/backends/:server/drain', act('drain'));
  admin.on('POST', '/api/backends/:server/enable', act('enable'));
  admin.on('POST', '/api/backends/:server/disable', act('disable'));
}
