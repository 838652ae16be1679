// Composition root: builds the long-lived objects (listeners, connection pools, engine, health, admin), starts and
// stops them, and swaps runtimes. Lifecycle: parse → validate (config/load.ts) → provision (runtime/provision.ts)
// → swap (here). Everything that can fail happens before the swap; the swap builds the pools (which cannot fail)
// and hands the new runtime to every consumer in one synchronous pass.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { registerAdminApi } from './admin/api.js';
import { AdminServer } from './admin/server.js';
import { Metrics } from './admin/metrics.js';
import { registerReadinessRoutes } from './admin/readiness.js';
import { registerShieldApi } from './admin/shield.js';
import { restoreState, saveState } from './admin/state-file.js';
import { AdminView, registerStatusRoutes, type LiveCounts } from './admin/status.js';
import { ConfigError } from './config/load.js';
import { restartOnlyChanges, withReloadable } from './config/restart-only.js';
import type { Config } from './config/schema.js';
import { ClientTimeoutCounts } from './frontend/client-deadlines.js';
import { descriptorLimit } from './frontend/descriptor-limit.js';
import { HttpsListener } from './frontend/listener.js';
import { RedirectListener } from './frontend/redirect.js';
import { AccessLog } from './logging/access-log.js';
import { ControlPlaneErrors } from './logging/control-plane.js';
import type { Logger } from './logging/logger.js';
import { addressIn, unmappedIp } from './proxy/address-check.js';
import type { RequestRecord } from './logging/request-record.js';
import { ProxyEngine } from './proxy/engine.js';
import { AuthProtection } from './proxy/auth-protection/protection.js';
import { Mitigations } from './proxy/mitigations.js';
import { PinnedSessions } from './proxy/pinning.js';
import { RpcTunnels } from './proxy/rpc-tunnel.js';
import { logProvisioned, provisionFile } from './runtime/provision.js';
import type { Provisioned, Runtime, RuntimeConsumer } from './runtime/runtime.js';
import { TICKET_KEY_BYTES } from './tls/ticket-keys.js';
import type { CertStore } from './tls/cert-store.js';
import { checkExtendedProtection } from './tls/extended-protection.js';
import type { Backend } from './upstream/backend.js';
import { buildPools } from './upstream/build.js';
import { UpstreamConnections } from './upstream/connections.js';
import { HealthChecker } from './upstream/health/active.js';
import { OutlierDetector } from './upstream/health/outlier.js';
import type { UpstreamPool } from './upstream/pool.js';

export interface GatewayAddresses {
  https: AddressInfo;
  http?: AddressInfo;
  admin: AddressInfo;
}

export interface GatewayOptions {
  logger: Logger;
  /** Overrides `logging.access` (tests pass a collector; undefined = from config). */
  onRecord?: (record: RequestRecord) => void;
  /** Where a reload (SIGHUP, POST /api/reload) reads the config again, with the environment its ${...} come from. */
  source?: { file: string; env?: NodeJS.ProcessEnv };
  /** Default `all`. */
  role?: GatewayRole;
  /** `traffic`: where each attempt's result goes (the primary's outlier detector) instead of a local detector. */
  onBackendResult?: (backend: Backend, ok: boolean, code?: string) => void;
  /** `traffic`: TLS session ticket keys shared by every worker (48 bytes), kept across reloads. */
  ticketKeys?: Buffer;
  /** A worker: makes the auth-protection instance a mirror of the primary's before the listener opens. */
  attachAuthProtection?: (protection: AuthProtection) => void;
  /** Metrics label of this process's own metrics when several processes serve one instance. */
  metricsWorker?: string;
  /** `control`: the workers' side of the admin listener (summed counts, one scrape, restart). */
  cluster?: ClusterAdmin;
  /** More consumers of the runtime, reached by the same one call at start and at every reload (the primary's workers). */
  consumers?: RuntimeConsumer[];
}

/**
 * What this process does. `all`: everything, one process (`workers: 1`, tests, the lab). With workers (src/cluster/):
 * `control` is the primary (admin listener, health probes, outlier verdicts, reloads; no client traffic) and
 * `traffic` a worker (the HTTPS and HTTP listeners; backend state arrives from the primary).
 */
export type GatewayRole = 'all' | 'control' | 'traffic';

/** What the primary adds to the admin listener; implemented in src/cluster/primary.ts. */
export interface ClusterAdmin {
  /** Counts summed over the workers. */
  live(): Promise<LiveCounts>;
  /** One Prometheus scrape for the instance: the primary's registry and every worker's, aggregated. */
  metrics(primary: Metrics): Promise<string>;
  /** Extra admin routes (/api/workers, /api/restart). */
  register(admin: AdminServer): void;
  /** Workers listening now. */
  serving(): number;
  /** Why not every worker is alive and serving, or undefined. */
  workersProblem(): string | undefined;
}

export interface ReloadResult {
  ok: boolean;
  /** Why the file was refused: every problem, each with file, line and key path. */
  problems?: string[];
  /** Keys that changed but need a restart (listen, admin, logging). */
  notApplied?: string[];
  /** The reload hit an unexpected exception (logged with its stack, counted); the running config stays. */
  internalError?: boolean;
}

/** The front end's certificates follow the runtime: the default context and SNI both. */
class FrontendCertificates implements RuntimeConsumer {
  store?: CertStore;
  /** The ticket key in effect came from tls.ticketKeyFile. */
  private keyFromFile = false;

  constructor(private readonly https: () => HttpsListener | undefined) {}

  apply(runtime: Runtime): void {
    const first = this.store === undefined;
    this.store = runtime.store;
    // At start the listener is created with these options; afterwards its default context is replaced.
    const server = first ? undefined : this.https()?.server;
    if (server) {
      // A new default context comes with new random ticket keys: put back the key file's (re-read, so a rotated file
      // takes effect) or the keys in effect, so that a reload does not end every client's resumable session. A key
      // file removed from the config means a random key again.
      const keys = runtime.ticketKey ?? (this.keyFromFile ? randomBytes(TICKET_KEY_BYTES) : server.getTicketKeys());
      server.setSecureContext(runtime.store.serverOptions());
      server.setTicketKeys(keys);
    }
    this.keyFromFile = runtime.ticketKey !== undefined;
  }

  readonly sniCallback = (name: string, cb: Parameters<CertStore['sniCallback']>[1]): void => this.store!.sniCallback(name, cb);
}

export class Gateway {
  private runtime!: Runtime;
  private readonly reloads = { ok: 0, refused: 0, error: 0 };

  private constructor(
    private readonly logger: Logger,
    private readonly connections: UpstreamConnections,
    /** Everything that serves from the runtime, in the order apply() reaches them. */
    private readonly consumers: readonly RuntimeConsumer[],
    readonly controlPlane: ControlPlaneErrors,
    private readonly source: GatewayOptions['source'],
  ) {}

  addresses!: GatewayAddresses;
  private closers: Array<() => Promise<void> | void> = [];
  /** This process's metrics (a worker hands them to the primary, which aggregates one scrape). */
  metrics!: Metrics;
  private https: HttpsListener | undefined;
  private pins!: PinnedSessions;
  private rpc!: RpcTunnels;
  private outlier!: OutlierDetector;
  /** exchange.authProtection: the store on the primary and a single process, a mirror on a worker. */
  authProtection!: AuthProtection;
  private frontend!: FrontendCertificates;
  /** Opens the access log file again (after logrotate moved it); false when the log is not a file. */
  reopenLogs: () => Promise<boolean> = async () => false;
  /** Told of every reload applied (metrics: time of the last good config). */
  private onReloaded?: () => void;

  get config(): Config {
    return this.runtime.config;
  }

  get pools(): ReadonlyMap<string, UpstreamPool> {
    return this.runtime.pools;
  }

  get reloadCounts(): Readonly<Record<'ok' | 'refused' | 'error', number>> {
    return this.reloads;
  }

  static async start(provisioned: Provisioned, options: GatewayOptions): Promise<Gateway> {
    const { logger, onRecord, source } = options;
    const role = options.role ?? 'all';
    const config = provisioned.config;
    // A worker's primary has logged coverage and warnings once for the instance.
    if (role !== 'traffic') logProvisioned(provisioned, logger);
    const controlPlane = new ControlPlaneErrors(logger);
    const connections = new UpstreamConnections();
    const pins = new PinnedSessions(connections);
    // Reloadable (restart-only.ts): the list in effect is replaced at every apply.
    let trusted = provisioned.plan.trustedProxies;
    const isTrustedProxy = (ip: string) => addressIn(trusted, ip);
    const clientCounts = new ClientTimeoutCounts();
    const health = new HealthChecker({ connections, logger, onError: (err) => controlPlane.report('health', err) });
    const outlier = new OutlierDetector({ logger });
    const view = new AdminView();
    // Both follow the runtime (apply); their counters, locks and familiar addresses outlive every reload.
    const mitigations = new Mitigations(config.exchange?.mitigations, logger);
    const authProtection = new AuthProtection(config.exchange?.authProtection, logger);
    options.attachAuthProtection?.(authProtection);
    let gateway: Gateway | undefined;
    const metrics = new Metrics(() => view.runtime.pools.values(), {
      pinnedSessions: () => pins.count,
      accessLogDropped: () => accessLog?.droppedLines ?? 0,
      rpcTunnels: () => rpc.open,
      controlPlaneErrors: () => controlPlane.byPlace,
      reloads: () => gateway?.reloadCounts ?? { ok: 0, refused: 0, error: 0 },
      clients: clientCounts,
      clientConnections: async () => ({ open: https ? await https.openConnections() : 0, total: https?.connectionsTotal ?? 0 }),
      certificates: () => view.runtime.certificates,
      mitigations,
      // A worker's counts go to the primary, whose metrics carry the instance's totals.
      ...(role === 'traffic' ? {} : { authProtection }),
    }, { ...(options.metricsWorker !== undefined ? { worker: options.metricsWorker } : {}), backendState: role !== 'traffic' });
    const accessLog = onRecord
      ? undefined
      : AccessLog.open(config.logging.access, config.logging.format, {
          onError: (err) => logger.error('access log write failed; lines are dropped and the file tried again every 5 s', { file: config.logging.access, error: err.message }),
          onRecovered: (linesLost) => logger.warn('access log written again', { file: config.logging.access, linesLost }),
        });
    // Every finished request, from the engine and from the Outlook Anywhere tunnel alike.
    const record = (finished: RequestRecord) => {
      metrics.observe(finished);
      if (onRecord) onRecord(finished);
      else accessLog?.write(finished);
    };
    // Outlook Anywhere goes around the engine: the tunnel applies the same mitigations and spray limits to each head,
    // and records each head as the engine records a request.
    const rpc = new RpcTunnels({ logger, isTrustedProxy, headersTimeoutMs: config.listen.https.headersTimeout, counts: clientCounts, mitigations, authProtection, onRecord: record });
    const engine = new ProxyEngine({
      pins,
      isTrustedProxy,
      mitigations,
      authProtection,
      onRecord: record,
      onBackendResult: (backend: Backend, ok: boolean, code?: string) => {
        if (!ok) metrics.upstreamError(backend.pool, backend.name, code ?? 'unknown');
        if (options.onBackendResult) options.onBackendResult(backend, ok, code);
        else outlier.onResult(backend, ok, code);
      },
    });
    let https: HttpsListener | undefined;
    const certificates = new FrontendCertificates(() => https);
    let admin: AdminServer | undefined;
    // The two settings of the restart-only blocks that a reload does apply (restart-only.ts).
    const reloadable: RuntimeConsumer = {
      apply: (runtime) => {
        trusted = runtime.plan.trustedProxies;
        admin?.setToken(runtime.config.admin.token);
      },
    };
    gateway = new Gateway(logger, connections, [reloadable, certificates, mitigations, authProtection, engine, rpc, health, outlier, view, ...(options.consumers ?? [])], controlPlane, source);
    Object.assign(gateway, { metrics, pins, rpc, outlier, authProtection, frontend: certificates, quiet: role === 'traffic' });
    gateway.swap(provisioned);
    gateway.onReloaded = () => metrics.reloadSucceeded();
    // Before the first request and probe: a server drained or disabled before a restart stays so.
    const stateFile = config.admin.stateFile;
    // Workers take every backend's state from the primary, which restores the file.
    if (stateFile && role !== 'traffic') restoreState(stateFile, gateway.pools, logger);

    const closers = gateway.closers;
    // The primary of a multi-process instance listens for no client: its workers do (src/cluster/).
    https = role === 'control' ? undefined : new HttpsListener({
      address: config.listen.https.address,
      port: config.listen.https.port,
      // SNI goes through the consumer so that a reload can swap the certificates without rebinding.
      tls: {
        ...provisioned.store.serverOptions(),
        // Shared by every casgate behind one address (tls.ticketKeyFile), or by every worker (the primary's keys);
        // without either OpenSSL makes a random one.
        ...(options.ticketKeys ?? provisioned.ticketKey ? { ticketKeys: options.ticketKeys ?? provisioned.ticketKey } : {}),
        SNICallback: certificates.sniCallback,
      },
      keepAliveTimeoutMs: config.listen.https.keepAliveTimeout,
      handshakeTimeoutMs: config.listen.https.handshakeTimeout,
      headersTimeoutMs: config.listen.https.headersTimeout,
      bodyGraceMs: config.listen.https.bodyGrace,
      bodyMinRate: config.listen.https.bodyMinRate,
      maxHeaderSize: config.listen.https.maxHeaderSize,
      descriptorLimit: descriptorLimit(),
      counts: clientCounts,
      perAddress: config.listen.https.perAddress,
      // A load balancer in front carries every client: limiting its address would limit them all.
      unlimited: (address: string) => isTrustedProxy(unmappedIp(address)),
      onAddressLimited: (address: string, kind: string, limit: number) =>
        logger.warn('client address over its limit: new connections reset (logged once a minute per address)', {
          client: unmappedIp(address),
          limit: kind === 'rate' ? `${limit} new connections per second` : `${limit} open connections`,
        }),
      onRequest: engine.handle,
      onRpcConnection: (socket: TLSSocket, head: Buffer) => rpc.accept(socket, head),
    });
    // Node's HTTP server hands CONNECT to 'connect' listeners (and destroys the socket when there is none).
    https?.server.on('connect', engine.handleConnect);
    gateway.https = https;
    admin = role === 'traffic' ? undefined : new AdminServer(config.admin.address, config.admin.port, config.admin.token, (err) => controlPlane.report('admin', err));
    const self = gateway;
    try {
      const listener = https;
      const httpsAddress = listener ? await listener.listen() : NO_ADDRESS;
      if (listener) {
        closers.push(() => listener.close());
        // A worker that joins a listening socket gets Node's cluster copy of the first worker's ticket keys: the
        // primary's current keys win.
        if (options.ticketKeys) listener.server.setTicketKeys(options.ticketKeys);
      }
      let httpAddress: AddressInfo | undefined;
      if (config.listen.http && role !== 'control') {
        const redirect = new RedirectListener(config.listen.http.address, config.listen.http.port, () => httpsAddress.port, () => self.runtime.publishedHosts);
        httpAddress = await redirect.listen();
        closers.push(() => redirect.close());
      }
      let adminAddress = NO_ADDRESS;
      // logrotate's postrotate (or SIGUSR1, see cli.ts): open the access log file again at its path.
      self.reopenLogs = async () => (await accessLog?.reopen()) ?? false;
      if (admin) {
        const cluster = options.cluster;
        registerStatusRoutes(admin, { view, metrics, pins, rpc, mitigations, authProtection, ...(cluster ? { live: () => cluster.live(), metricsText: () => cluster.metrics(metrics) } : {}) });
        registerReadinessRoutes(admin, {
          routes: () => view.runtime.router.routes,
          pools: () => view.runtime.pools,
          listening: () => (listener ? listener.server.listening : (cluster?.serving() ?? 0) > 0),
          ...(cluster ? { workersProblem: () => cluster.workersProblem() } : {}),
        });
        registerAdminApi(admin, { view, logger, saveState: stateFile ? () => saveState(stateFile, self.runtime.pools.values()) : undefined });
        registerShieldApi(admin, authProtection);
        admin.on('POST', '/api/logs/reopen', async () => ({ json: { reopened: (await self.reopenLogs()) ?? false } }));
        admin.on('POST', '/api/reload', () => {
          const result = self.reloadFromFile();
          return { status: result.ok ? 200 : result.internalError ? 500 : 422, json: result };
        });
        cluster?.register(admin);
        adminAddress = await admin.listen();
        closers.push(() => admin.close());
      }
      closers.push(() => authProtection.close());
      closers.push(() => rpc.closeAll('shutdown'), () => connections.close(), () => accessLog?.close());
      // Health has one owner per instance: the process with the admin listener (workers follow its verdicts).
      if (role !== 'traffic') health.start();
      closers.push(() => health.stop(), () => outlier.stop(), () => {
        for (const p of self.runtime.pools.values()) for (const b of p.backends) b.dispose();
      });
      // With workers, the primary says it once every worker listens (src/cluster/primary.ts).
      if (role === 'all') {
        logger.info('casgate listening', {
          https: `${httpsAddress.address}:${httpsAddress.port}`,
          http: httpAddress ? `${httpAddress.address}:${httpAddress.port}` : 'off',
          admin: `${adminAddress.address}:${adminAddress.port}`,
          routes: provisioned.plan.routes.length,
          pools: provisioned.plan.pools.length,
        });
      }
      gateway.addresses = { https: httpsAddress, http: httpAddress, admin: adminAddress };
      if (role !== 'traffic') gateway.checkExtendedProtection();
      return gateway;
    } catch (err) {
      for (const close of closers.reverse()) await close();
      await connections.close();
      throw err;
    }
  }

  /**
   * Reads the config file again, provisions it and swaps it in. Never throws: a config with problems is refused
   * (every problem logged and returned), an unexpected exception is logged with its stack and counted, and in both
   * cases the running configuration keeps serving.
   */
  reloadFromFile(): ReloadResult {
    if (!this.source) return { ok: false, problems: ['this gateway was not started from a config file'] };
    const { file, env } = this.source;
    try {
      return this.reload(provisionFile(file, env ?? process.env));
    } catch (err) {
      if (err instanceof ConfigError) {
        this.reloads.refused++;
        this.logger.error('reload refused; the running configuration stays', { file, problems: err.problems.length });
        for (const p of err.problems) this.logger.error(p);
        return { ok: false, problems: err.problems };
      }
      this.reloads.error++;
      this.controlPlane.report('reload', err);
      return { ok: false, internalError: true, problems: [`${file}: reload failed: ${(err as Error).message}; the running configuration stays`] };
    }
  }

  /**
   * Applies a provisioned config: certificates, pools, routes and their settings. Backends whose address is
   * unchanged keep their state; requests and tunnels in flight finish on the objects they started with. Listener,
   * admin and logging changes need a restart and are reported as not applied.
   */
  reload(next: Provisioned): ReloadResult {
    const notApplied = restartOnlyChanges(this.runtime.config, next.config);
    // Keep the listener settings that are in effect, so that a later reload compares against what really runs.
    this.swap({ ...next, config: { ...next.config, ...withReloadable(this.runtime.config, next.config) } });
    this.reloads.ok++;
    this.onReloaded?.();
    if (!this.quiet) {
      logProvisioned(next, this.logger);
      if (notApplied.length) this.logger.warn('reload: these settings need a restart and were not applied', { keys: notApplied.join(',') });
    }
    this.logger.info('configuration reloaded', { routes: next.plan.routes.length, pools: next.plan.pools.length });
    return { ok: true, ...(notApplied.length ? { notApplied } : {}) };
  }

  /** The swap: nothing in here reads a file or can refuse the config. */
  private swap(next: Provisioned): void {
    const previous = this.runtime?.pools;
    const pools = buildPools(next.plan.pools, this.connections, next.caFiles, previous);
    if (previous) {
      const kept = new Set([...pools.values()].flatMap((p) => p.backends));
      for (const old of previous.values()) for (const b of old.backends) if (!kept.has(b)) b.dispose();
    }
    this.runtime = { ...next, pools };
    for (const consumer of this.consumers) consumer.apply(this.runtime);
  }

  private checkExtendedProtection(): void {
    const { pools, store } = this.runtime;
    this.controlPlane.guard('extended-protection', () => checkExtendedProtection(pools, store, this.logger));
  }

  async stop(): Promise<void> {
    for (const close of [...this.closers].reverse()) await close();
  }

  /** A worker: the primary logs coverage, warnings and restart-only changes for the instance. */
  private quiet = false;

  /** The provisioned config in effect (the primary hands it to a new worker). */
  get provisioned(): Provisioned {
    return this.runtime;
  }

  /** A worker's report of one attempt (the primary's outlier detector gives one verdict for the instance). */
  reportBackendResult(pool: string, backend: string, ok: boolean, code?: string): void {
    const b = this.runtime.pools.get(pool)?.find(backend);
    if (b) this.outlier.onResult(b, ok, code);
  }

  /** Replaces the TLS session ticket keys (48 bytes), now and after every reload. */
  setTicketKeys(keys: Buffer): void {
    // FrontendCertificates puts the keys in effect back after each reload's setSecureContext.
    this.https?.server.setTicketKeys(keys);
  }

  /** This process's share of the counts the status page shows. */
  liveCounts(): LiveCounts {
    const backends: LiveCounts['backends'] = {};
    for (const pool of this.runtime.pools.values()) {
      for (const b of pool.backends) backends[`${pool.name}/${b.name}`] = { active: b.active, pinned: b.pinned, longLived: b.longLivedCount };
    }
    const lastMinute: NonNullable<LiveCounts['lastMinute']> = {};
    for (const name of this.runtime.pools.keys()) {
      const { requests, errors } = this.metrics.recent.lastMinute(name);
      lastMinute[name] = { requests, errors };
    }
    return { backends, pinnedConnections: this.pins.count, rpcTunnels: this.rpc.open, lastMinute };
  }

  /**
   * Leaves service gracefully (a worker being replaced): stops accepting at once, lets requests in flight finish and
   * long-lived exchanges (RPC channels, Pings, NotificationWait) run until they end or `timeoutMs` passes, then
   * closes what is left and stops. Idle keep-alive connections are closed as they fall idle.
   */
  async retire(timeoutMs: number): Promise<void> {
    const https = this.https;
    if (!https) return this.stop();
    let closed = false;
    // Resolves once every connection has ended: keep-alive ones as they fall idle, long-lived ones when they end.
    const stopped = new Promise<void>((resolve) => https.server.close(() => resolve())).then(() => (closed = true));
    const deadline = Date.now() + timeoutMs;
    while (!closed && Date.now() < deadline) {
      https.server.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!closed) {
      this.logger.warn('drain timeout: closing the connections left', { rpcTunnels: this.rpc.open });
      this.rpc.closeAll('worker restart');
      for (const pool of this.runtime.pools.values()) for (const b of pool.backends) b.closeLongLived('worker restart');
      https.server.closeAllConnections();
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 2_000))]);
    }
    await this.stop();
  }
}

/** The address of a listener this process does not run. */
const NO_ADDRESS: AddressInfo = { address: '', family: '', port: 0 };
