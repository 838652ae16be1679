// Health of casgate itself, for keepalived's track_script, an L4 balancer or a monitoring system: `/healthz` says
// the process answers; `/ready` says it can serve, i.e. it listens and every route (every published Exchange service)
// has at least one backend in service. No token, like /metrics: both are read-only and say nothing secret.
import type { Route } from '../config/route.js';
import type { UpstreamPool } from '../upstream/pool.js';
import type { AdminServer } from './server.js';

export interface ReadinessSources {
  /** The routes and pools in effect now (a reload replaces both). */
  routes(): readonly Route[];
  pools(): ReadonlyMap<string, UpstreamPool>;
  /** The HTTPS listener is bound and accepting (with workers: at least one worker serves). */
  listening(): boolean;
  /** With workers: why the instance is not all alive (a worker missing), or undefined when it is. */
  workersProblem?(): string | undefined;
}

export interface RouteReadiness {
  route: string;
  /** The Exchange service (owa, ews, ...) for a route of the Exchange preset. */
  service?: string;
  pool: string;
  available: number;
  backends: number;
}

export interface Readiness {
  ready: boolean;
  listening: boolean;
  routes: RouteReadiness[];
  /** One sentence per reason the node is not ready, naming the service or route. */
  problems: string[];
}

export function readiness(src: ReadinessSources): Readiness {
  const pools = src.pools();
  const listening = src.listening();
  const problems: string[] = listening ? [] : ['the HTTPS listener is not accepting connections'];
  const routes = src.routes().map((r): RouteReadiness => {
    const backends = pools.get(r.pool)?.backends ?? [];
    const available = backends.filter((b) => b.available()).length;
    if (available === 0) {
      const what = r.service ? `Exchange service ${r.service}` : `route ${r.name}`;
      problems.push(`${what} (pool ${r.pool}) has no available backend (${backends.length} configured)`);
    }
    return { route: r.name, ...(r.service ? { service: r.service } : {}), pool: r.pool, available, backends: backends.length };
  });
  return { ready: problems.length === 0, listening, routes, problems };
}

export function registerReadinessRoutes(admin: AdminServer, src: ReadinessSources): void {
  // The admin server answers only while the process runs its event loop: that is all /healthz claims.
  // With workers it also says that every worker is there (a dead one is replaced within seconds).
  admin.on('GET', '/healthz', () => {
    const problem = src.workersProblem?.();
    return problem ? { status: 503, text: `${problem}\n` } : { text: 'ok\n' };
  });
  admin.on('GET', '/ready', () => {
    const r = readiness(src);
    return { status: r.ready ? 200 : 503, json: r };
  });
}
