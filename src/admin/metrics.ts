// Prometheus metrics on a dedicated prom-client Registry (STYLE.md habit 13). Per-request work is a few Map
// lookups and additions into plain numbers, no allocation: prom-client's labelled children hash their labels on
// every inc()/observe(), which the bench/peers profile showed per request. The request counter is handed to
// prom-client at scrape time (collect); the duration histogram is a RouteHistogram, which formats exactly as a
// prom-client Histogram does. Backend gauges are read from the pools at scrape time.
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { TIMEOUT_KINDS, type ClientTimeoutCounts } from '../frontend/client-deadlines.js';
import type { RequestRecord } from '../logging/request-record.js';
import type { UpstreamPool } from '../upstream/pool.js';
import { RouteHistogram } from './route-histogram.js';

/** Status classes as labelled: index = Math.floor(status / 100) for 0..5, and 6 for 499 (client went away). */
const CODES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx', '499'] as const;

/** Requests counted since the last scrape, per (route, pool, backend), by status class index. */
type Pending = Float64Array;

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'pool' | 'backend' | 'code'>;
  private readonly duration: RouteHistogram;
  private readonly upstreamErrors: Counter<'pool' | 'backend' | 'error'>;
  /** route → pool → backend → counts not yet handed to prom-client. */
  private readonly pending = new Map<string, Map<string, Map<string, Pending>>>();

  constructor(
    pools: () => Iterable<UpstreamPool>,
    extra: {
      pinnedSessions: () => number;
      rpcTunnels: () => number;
      /** Unexpected exceptions caught in the control plane, by place (logging/control-plane.ts). */
      controlPlaneErrors?: () => ReadonlyMap<string, number>;
      /** Config reloads by result: applied, refused (the config had problems), error (unexpected exception). */
      reloads?: () => Readonly<Record<'ok' | 'refused' | 'error', number>>;
      /** Client deadlines fired, connections shed or refused (frontend/client-deadlines.ts). */
      clients?: ClientTimeoutCounts;
    },
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'casgate_' });
    const pending = this.pending;
    this.requests = new Counter({
      name: 'casgate_requests_total',
      help: 'Requests answered, by route, pool, backend and status class (499 = client went away).',
      labelNames: ['route', 'pool', 'backend', 'code'],
      registers,
      collect() {
        for (const [route, pools] of pending) {
          for (const [pool, backends] of pools) {
            for (const [backend, counts] of backends) {
              for (let c = 0; c < counts.length; c++) {
                if (counts[c]! > 0) this.inc({ route, pool, backend, code: CODES[c]! }, counts[c]!);
                counts[c] = 0;
              }
            }
          }
        }
      },
    });
    this.duration = new RouteHistogram(
      'casgate_request_duration_seconds',
      'Time from request head to the end of the response, by route. Long polls land in the top buckets by design.',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    );
    this.registry.registerMetric(this.duration as unknown as Metric);
    this.upstreamErrors = new Counter({
      name: 'casgate_upstream_errors_total',
      help: 'Failed attempts to reach a backend, by error code (a retried request counts each failed attempt).',
      labelNames: ['pool', 'backend', 'error'],
      registers,
    });
    new Gauge({
      name: 'casgate_backend_up',
      help: '1 when the backend is healthy in this pool, 0 when unhealthy, draining or disabled.',
      labelNames: ['pool', 'backend', 'state'],
      registers,
      collect() {
        this.reset();
        for (const pool of pools()) for (const b of pool.backends) this.set({ pool: pool.name, backend: b.name, state: b.state }, b.state === 'healthy' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'casgate_backend_active_requests',
      help: 'Requests in flight per pool and backend.',
      labelNames: ['pool', 'backend'],
      registers,
      collect() {
        this.reset();
        for (const pool of pools()) for (const b of pool.backends) this.set({ pool: pool.name, backend: b.name }, b.active);
      },
    });
    new Gauge({
      name: 'casgate_pinned_connections',
      help: 'Client connections holding backend connections of their own (NTLM/Negotiate).',
      registers,
      collect() {
        this.set(extra.pinnedSessions());
      },
    });
    // Counts kept by their owners (plain numbers), handed over at scrape time.
    const { controlPlaneErrors, reloads } = extra;
    if (controlPlaneErrors) {
      new Counter({
        name: 'casgate_control_plane_errors_total',
        help: 'Unexpected exceptions caught in the control plane (reload, admin, health, extended-protection, signal); casgate kept serving.',
        labelNames: ['where'],
        registers,
        collect() {
          this.reset();
          for (const [where, n] of controlPlaneErrors()) this.inc({ where }, n);
        },
      });
    }
    if (reloads) {
      new Counter({
        name: 'casgate_config_reloads_total',
        help: 'Config reloads by result: ok (applied), refused (problems in the config; the running one stays), error (unexpected).',
        labelNames: ['result'],
        registers,
        collect() {
          this.reset();
          for (const [result, n] of Object.entries(reloads())) this.inc({ result }, n);
        },
      });
    }
    new Gauge({
      name: 'casgate_rpc_tunnels_open',
      help: 'Outlook Anywhere (RPC over HTTP) channels open.',
      registers,
      collect() {
        this.set(extra.rpcTunnels());
      },
    });
    const clients = extra.clients;
    if (clients) {
      // Plain numbers counted by the listener and the RPC tunnel, copied at scrape time.
      new Counter({
        name: 'casgate_client_timeouts_total',
        help: 'Client connections cut by a deadline, by kind: handshake, head (408), body (408, too slow), idle (keep-alive).',
        labelNames: ['kind'],
        registers,
        collect() {
          this.reset();
          for (const kind of TIMEOUT_KINDS) this.inc({ kind }, clients.timeouts[kind]);
        },
      });
      new Counter({
        name: 'casgate_connections_exhausted_total',
        help: 'New connections turned away near the descriptor limit: shed (503 GATEWAY_EXHAUSTED) or refused (closed at accept).',
        labelNames: ['action'],
        registers,
        collect() {
          this.reset();
          this.inc({ action: 'shed' }, clients.exhausted.shed);
          this.inc({ action: 'refused' }, clients.exhausted.refused);
        },
      });
      new Counter({
        name: 'casgate_connections_limited_total',
        help: 'New connections reset by a per-address limit (listen.https.perAddress), by limit: connections or rate.',
        labelNames: ['limit'],
        registers,
        collect() {
          this.reset();
          this.inc({ limit: 'connections' }, clients.limited.connections);
          this.inc({ limit: 'rate' }, clients.limited.rate);
        },
      });
    }
  }

  observe(r: RequestRecord): void {
    const status = r.status >= 100 && r.status < 600 ? r.status : 0;
    const route = r.route ?? 'none';
    let pools = this.pending.get(route);
    if (!pools) this.pending.set(route, (pools = new Map()));
    const pool = r.pool ?? 'none';
    let backends = pools.get(pool);
    if (!backends) pools.set(pool, (backends = new Map()));
    const backend = r.backend ?? 'none';
    let counts = backends.get(backend);
    if (!counts) backends.set(backend, (counts = new Float64Array(CODES.length)));
    counts[status === 499 ? 6 : Math.floor(status / 100)]!++;
    this.duration.observe(route, r.durationMs / 1000);
  }

  upstreamError(pool: string, backend: string, error: string): void {
    this.upstreamErrors.labels(pool, backend, error).inc();
  }
}
