// Prometheus metrics on a dedicated prom-client Registry (STYLE.md habit 13). Per-request work is two cached
// label children, no allocation per request; backend gauges are read from the pools at scrape time.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestRecord } from '../proxy/engine.js';
import type { UpstreamPool } from '../upstream/pool.js';

type CounterChild = ReturnType<Counter<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'pool' | 'backend' | 'code'>;
  private readonly duration: Histogram<'route'>;
  private readonly upstreamErrors: Counter<'pool' | 'backend' | 'error'>;
  private readonly requestChildren = new Map<string, CounterChild>();
  private readonly durationChildren = new Map<string, HistogramChild>();

  constructor(pools: () => Iterable<UpstreamPool>, extra: { pinnedSessions: () => number; rpcTunnels: () => number }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'casgate_' });
    this.requests = new Counter({
      name: 'casgate_requests_total',
      help: 'Requests answered, by route, pool, backend and status class (499 = client went away).',
      labelNames: ['route', 'pool', 'backend', 'code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'casgate_request_duration_seconds',
      help: 'Time from request head to the end of the response, by route. Long polls land in the top buckets by design.',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
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
    new Gauge({
      name: 'casgate_rpc_tunnels_open',
      help: 'Outlook Anywhere (RPC over HTTP) channels open.',
      registers,
      collect() {
        this.set(extra.rpcTunnels());
      },
    });
  }

  observe(r: RequestRecord): void {
    const status = r.status >= 100 && r.status < 600 ? r.status : 0;
    const code = status === 499 ? '499' : `${Math.floor(status / 100)}xx`;
    const key = `${r.route}\0${r.pool}\0${r.backend}\0${code}`;
    let child = this.requestChildren.get(key);
    if (!child) {
      child = this.requests.labels(r.route ?? 'none', r.pool ?? 'none', r.backend ?? 'none', code);
      this.requestChildren.set(key, child);
    }
    child.inc();
    const route = r.route ?? 'none';
    let hist = this.durationChildren.get(route);
    if (!hist) {
      hist = this.duration.labels(route);
      this.durationChildren.set(route, hist);
    }
    hist.observe(r.durationMs / 1000);
  }

  upstreamError(pool: string, backend: string, error: string): void {
    this.upstreamErrors.labels(pool, backend, error).inc();
  }
}
