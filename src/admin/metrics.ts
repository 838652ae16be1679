// Prometheus metrics on a dedicated prom-client Registry (STYLE.md habit 13). Per-request work is a few Map
// lookups and additions into plain numbers, no allocation: prom-client's labelled children hash their labels on
// every inc()/observe(), which the bench/peers profile showed per request. The request counter is handed to
// prom-client at scrape time (collect); the duration histogram is a RouteHistogram, which formats exactly as a
// prom-client Histogram does. Backend gauges are read from the pools at scrape time.
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { TIMEOUT_KINDS, type ClientTimeoutCounts } from '../frontend/client-deadlines.js';
import type { RequestRecord } from '../logging/request-record.js';
import type { AuthProtection } from '../proxy/auth-protection/protection.js';
import type { Mitigations } from '../proxy/mitigations.js';
import type { LoadedCertificate } from '../tls/certificate.js';
import type { BackendState } from '../upstream/backend.js';
import type { UpstreamPool } from '../upstream/pool.js';
import { VERSION } from '../version.js';
import { RecentPoolCounts } from './recent.js';
import { RouteHistogram } from './route-histogram.js';

/** Status classes as labelled: index = Math.floor(status / 100) for 0..5, and 6 for 499 (client went away). */
const CODES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx', '499'] as const;

/** Requests counted since the last scrape, per (route, pool, backend), by status class index. */
type Pending = Float64Array;

export interface MetricsOptions {
  /**
   * Set in a multi-process instance (src/cluster/): the process's own metrics (CPU, memory, event loop, GC) go to
   * `processRegistry` with this `worker` label, so that one scrape shows them per process while the traffic counters
   * are summed over the processes.
   */
  worker?: string;
  /** Whether this process publishes casgate_backend_up (the process that owns the health state: not a worker). */
  backendState?: boolean;
}

/** The state-set's values (HAProxy's haproxy_server_status style): one 0/1 series each, never a new series per change. */
const BACKEND_STATES: readonly BackendState[] = ['healthy', 'unhealthy', 'draining', 'disabled'];

/** Per-pool sums since the last scrape: [bytes received from clients, bytes sent to them, retried attempts]. */
const RECEIVED = 0;
const SENT = 1;
const RETRIES = 2;

/** What the metrics read at scrape time, besides the pools. */
export interface MetricsSources {
  pinnedSessions: () => number;
  rpcTunnels: () => number;
  /** Access-log lines dropped because the file could not be written (logging/access-log.ts). */
  accessLogDropped?: () => number;
  /** Client connections of the HTTPS listener: open now, and accepted since start. */
  clientConnections?: () => Promise<{ open: number; total: number }>;
  /** The certificates in effect (a reload swaps them). */
  certificates?: () => readonly LoadedCertificate[];
  /** Unexpected exceptions caught in the control plane, by place (logging/control-plane.ts). */
  controlPlaneErrors?: () => ReadonlyMap<string, number>;
  /** Config reloads by result: applied, refused (the config had problems), error (unexpected exception). */
  reloads?: () => Readonly<Record<'ok' | 'refused' | 'error', number>>;
  /** Client deadlines fired, connections shed or refused (frontend/client-deadlines.ts). */
  clients?: ClientTimeoutCounts;
  /** Known-exploit refusals per rule (proxy/mitigations.ts). */
  mitigations?: Mitigations;
  /** Password-spray counters and table sizes (proxy/auth-protection/). */
  authProtection?: AuthProtection;
}

export class Metrics {
  readonly registry = new Registry();
  /** The process's own metrics: `registry` itself in a single process, a registry of their own with a worker label otherwise. */
  readonly processRegistry: Registry;
  private readonly requests: Counter<'route' | 'pool' | 'backend' | 'code'>;
  private readonly duration: RouteHistogram;
  private readonly upstreamErrors: Counter<'pool' | 'backend' | 'error'>;
  /** route → pool → backend → counts not yet handed to prom-client. */
  private readonly pending = new Map<string, Map<string, Map<string, Pending>>>();
  /** pool → [received, sent, retries] not yet handed to prom-client. */
  private readonly poolPending = new Map<string, Float64Array>();
  /** Requests and 5xx per pool over the last minute (status page). */
  readonly recent = new RecentPoolCounts();
  private readonly lastReload: Gauge;

  constructor(pools: () => Iterable<UpstreamPool>, extra: MetricsSources, opts: MetricsOptions = {}) {
    const registers = [this.registry];
    this.processRegistry = opts.worker === undefined ? this.registry : new Registry();
    // Unprefixed, as prom-client names them (process_cpu_seconds_total, nodejs_heap_size_used_bytes, ...): the
    // names stock Node.js dashboards query. With workers, labelled by process (see MetricsOptions).
    collectDefaultMetrics({ register: this.processRegistry, ...(opts.worker === undefined ? {} : { labels: { worker: opts.worker } }) });
    new Gauge({
      name: 'casgate_build_info',
      // With workers, the primary's value (first in the aggregation) describes the instance; the workers' copies repeat it.
      aggregator: 'first',
      help: 'Always 1; the labels say which casgate and which Node.js are running.',
      labelNames: ['version', 'node'],
      registers,
    }).set({ version: VERSION, node: process.versions.node }, 1);
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
    if (opts.backendState !== false) new Gauge({
      name: 'casgate_backend_up',
      aggregator: 'first',
      help: '1 when the backend takes new requests in this pool (healthy), 0 when unhealthy, draining or disabled.',
      labelNames: ['pool', 'backend'],
      registers,
      collect() {
        this.reset();
        for (const pool of pools()) for (const b of pool.backends) this.set({ pool: pool.name, backend: b.name }, b.state === 'healthy' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'casgate_backend_state',
      aggregator: 'first',
      help: 'State-set: 1 for the state the backend is in (healthy, unhealthy, draining, disabled), 0 for the others.',
      labelNames: ['pool', 'backend', 'state'],
      registers,
      collect() {
        this.reset();
        for (const pool of pools()) {
          for (const b of pool.backends) for (const state of BACKEND_STATES) this.set({ pool: pool.name, backend: b.name, state }, b.state === state ? 1 : 0);
        }
      },
    });
    new Counter({
      name: 'casgate_health_probe_failures_total',
      help: 'Active health probes that failed, per pool and backend.',
      labelNames: ['pool', 'backend'],
      registers,
      collect() {
        // The counts live on the backends (one increment per probe, no label hashing); handed over at scrape time.
        this.reset();
        for (const pool of pools()) for (const b of pool.backends) this.inc({ pool: pool.name, backend: b.name }, b.probeFailures);
      },
    });
    new Counter({
      name: 'casgate_outlier_ejections_total',
      help: 'Times passive health ejected the backend from the pool after consecutive failures of real traffic.',
      labelNames: ['pool', 'backend'],
      registers,
      collect() {
        this.reset();
        for (const pool of pools()) for (const b of pool.backends) this.inc({ pool: pool.name, backend: b.name }, b.ejections);
      },
    });
    new Gauge({
      name: 'casgate_backend_pinned_connections',
      help: 'Client connections pinned to the backend by NTLM/Negotiate, per pool and backend.',
      labelNames: ['pool', 'backend'],
      registers,
      collect() {
        this.reset();
        for (const pool of pools()) for (const b of pool.backends) this.set({ pool: pool.name, backend: b.name }, b.pinned);
      },
    });
    const poolPending = this.poolPending;
    const poolCounter = (name: string, help: string, index: number) =>
      new Counter({
        name,
        help,
        labelNames: ['pool'],
        registers,
        collect() {
          for (const [pool, sums] of poolPending) {
            if (sums[index]! > 0) this.inc({ pool }, sums[index]!);
            sums[index] = 0;
          }
        },
      });
    poolCounter('casgate_pool_received_bytes_total', 'Bytes read from clients (request heads and bodies) for requests routed to the pool.', RECEIVED);
    poolCounter('casgate_pool_sent_bytes_total', 'Bytes written to clients (response heads and bodies) for requests routed to the pool.', SENT);
    poolCounter('casgate_retries_total', 'Requests sent to another backend after a failed attempt (each extra attempt counts).', RETRIES);
    if (extra.clientConnections) {
      const connections = extra.clientConnections;
      new Gauge({
        name: 'casgate_client_connections_open',
        help: 'Client connections open on the HTTPS listener (handshaking, idle, in a request or an RPC channel).',
        registers,
        async collect() {
          this.set((await connections()).open);
        },
      });
      new Counter({
        name: 'casgate_client_connections_total',
        help: 'Client connections accepted by the HTTPS listener since start.',
        registers,
        async collect() {
          this.reset();
          this.inc((await connections()).total);
        },
      });
    }
    if (extra.certificates) {
      const certificates = extra.certificates;
      new Gauge({
        name: 'casgate_certificate_not_after_seconds',
        aggregator: 'first',
        help: 'Expiry (notAfter) of each served certificate, Unix time; alert on it minus time() < 30 days.',
        labelNames: ['file', 'subject'],
        registers,
        collect() {
          this.reset();
          // A PEM pair's source is "cert + key": the certificate file is the one that expires.
          for (const c of certificates()) this.set({ file: c.source.split(' + ')[0]!, subject: c.subjectCommonName ?? c.dnsNames[0] ?? '' }, Math.floor(c.notAfter.getTime() / 1000));
        },
      });
    }
    this.lastReload = new Gauge({
      name: 'casgate_config_last_reload_success_timestamp_seconds',
      aggregator: 'first',
      help: 'Unix time the configuration in effect was loaded (start, or the last successful reload).',
      registers,
    });
    this.lastReload.set(Date.now() / 1000);
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
        aggregator: 'first',
        help: 'Config reloads by result: ok (applied), refused (problems in the config; the running one stays), error (unexpected).',
        labelNames: ['result'],
        registers,
        collect() {
          this.reset();
          for (const [result, n] of Object.entries(reloads())) this.inc({ result }, n);
        },
      });
    }
    const accessLogDropped = extra.accessLogDropped;
    if (accessLogDropped) {
      new Counter({
        name: 'casgate_access_log_dropped_lines_total',
        help: 'Access-log lines dropped because the log file could not be written (disk full); the file is tried again every 5 s.',
        registers,
        collect() {
          this.reset();
          this.inc(accessLogDropped());
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
    const mitigations = extra.mitigations;
    if (mitigations) {
      new Counter({
        name: 'casgate_mitigation_refusals_total',
        help: 'Requests refused (403) by an exchange.mitigations rule, by rule and CVE list.',
        labelNames: ['rule', 'cve'],
        registers,
        collect() {
          // Totals are kept by Mitigations (across reloads); handed over whole at scrape time.
          this.reset();
          for (const { rule, refusals } of mitigations.rules) this.inc({ rule: rule.name, cve: rule.cves.join(',') }, refusals);
        },
      });
    }
    const protection = extra.authProtection;
    if (protection) {
      // Totals live in the store (kept across reloads); each counter is set from them at scrape time.
      const totals = protection.store.totals;
      const counter = (name: string, help: string, read: () => Array<[Record<string, string>, number]>, labelNames: string[] = []) =>
        new Counter({
          name,
          help,
          labelNames,
          registers,
          collect() {
            this.reset();
            for (const [labels, value] of read()) this.inc(labels, value);
          },
        });
      counter('casgate_auth_attempts_total', 'Requests carrying a user name (Basic, NTLM type 3, OWA form) let through to the CAS.', () => [[{}, totals.attempts]]);
      counter('casgate_auth_failures_total', 'Logons the CAS refused (401 after credentials, OWA reason=2).', () => [[{}, totals.failures]]);
      counter('casgate_auth_refusals_total', 'Credential-bearing requests casgate refused itself, by reason (user or address over a limit).', () => [
        [{ reason: 'user' }, totals.refusedUser],
        [{ reason: 'address' }, totals.refusedAddress],
      ], ['reason']);
      counter('casgate_auth_lockouts_total', 'Users and addresses that went over a spray limit.', () => [[{}, totals.lockouts]]);
      new Gauge({
        name: 'casgate_auth_protection_entries',
        help: 'Entries held by the spray-protection tables (each capped at maxEntries).',
        labelNames: ['table'],
        registers,
        collect() {
          for (const [table, n] of Object.entries(protection.store.sizes)) this.set({ table }, n);
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
    let sums = this.poolPending.get(pool);
    if (!sums) this.poolPending.set(pool, (sums = new Float64Array(3)));
    sums[RECEIVED]! += r.bytesReceived;
    sums[SENT]! += r.bytesSent;
    if (r.attempts > 1) sums[RETRIES]! += r.attempts - 1;
    if (r.pool) this.recent.observe(r.pool, status);
  }

  /** A configuration reload was applied (casgate_config_reloads_total counts every result). */
  reloadSucceeded(): void {
    this.lastReload.set(Date.now() / 1000);
  }

  upstreamError(pool: string, backend: string, error: string): void {
    this.upstreamErrors.labels(pool, backend, error).inc();
  }
}
