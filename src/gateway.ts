// Composition root: builds every runtime object from the parsed config, starts the listeners, and stops them.
// Lifecycle: parse (config/load.ts) → plan (config/plan.ts) → build (here) → start → stop.
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { registerAdminApi } from './admin/api.js';
import { AdminServer } from './admin/server.js';
import { Metrics } from './admin/metrics.js';
import { registerShieldApi } from './admin/shield.js';
import { registerStatusRoutes } from './admin/status.js';
import { buildPlan, blockListOf, publishedHostnames, type Plan } from './config/plan.js';
import type { CertificateConfig, Config } from './config/schema.js';
import { HttpsListener } from './frontend/listener.js';
import { RedirectListener } from './frontend/redirect.js';
import { AccessLog } from './logging/access-log.js';
import type { Logger } from './logging/logger.js';
import { addressIn } from './proxy/address-check.js';
import { ProxyEngine, type RequestRecord } from './proxy/engine.js';
import { AuthProtection } from './proxy/auth-protection/protection.js';
import { Mitigations } from './proxy/mitigations.js';
import { PinnedSessions } from './proxy/pinning.js';
import { RpcTunnels } from './proxy/rpc-tunnel.js';
import { Router } from './router/router.js';
import { CertStore } from './tls/cert-store.js';
import type { LoadedCertificate } from './tls/certificate.js';
import { coverageReport, formatCoverage } from './tls/coverage.js';
import { describeVerdict, fetchPresentedCertificate, type ExtendedProtectionVerdict } from './tls/extended-protection.js';
import { normalizeFingerprint } from './tls/upstream-tls.js';
import { loadPem } from './tls/pem.js';
import { loadPfx } from './tls/pfx.js';
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
}

export function loadCertificates(certs: readonly CertificateConfig[]): LoadedCertificate[] {
  return certs.map((c) => ('pfx' in c ? loadPfx(c.pfx, c.password) : loadPem(c.cert, c.key, c.passphrase)));
}

/** Start-up warnings that need no network: backend TLS verification off, Extended Protection with offloading. */
export function configWarnings(config: Config, plan: Plan): string[] {
  const warnings: string[] = [];
  for (const pool of plan.pools) {
    if (pool.mode === 'bridge' && pool.config.tls.insecure) {
      warnings.push(`pool ${pool.name}: backend certificate verification is OFF (tls.insecure: true); traffic to the CAS can be intercepted`);
    }
  }
  const offloaded = plan.pools.filter((p) => p.service && p.mode === 'offload').map((p) => p.service);
  if (config.exchange && offloaded.length) {
    warnings.push(
      `Exchange services ${offloaded.join(', ')} are SSL-offloaded: Extended Protection (on by default since Exchange 2019 CU14) ` +
        'must be off for them on the CAS, or use exchange.mode: bridge with the same certificate as Exchange',
    );
  }
  return warnings;
}

/** The tables requests are routed by; replaced as a whole on a reload (requests in flight keep their objects). */
interface Runtime {
  config: Config;
  store: CertStore;
  certificates: LoadedCertificate[];
  router: Router;
  pools: Map<string, UpstreamPool>;
}

function logCoverage(config: Config, certificates: LoadedCertificate[], logger: Logger): void {
  for (const line of formatCoverage(coverageReport(publishedHostnames(config), certificates))) {
    (line.startsWith('warning:') ? logger.warn : logger.info)(line.replace(/^warning: /, ''));
  }
}

/** Settings that only take effect on a restart: the listeners are bound once. */
function restartOnlyChanges(before: Config, after: Config): string[] {
  const changed: string[] = [];
  if (JSON.stringify(before.listen) !== JSON.stringify(after.listen)) changed.push('listen');
  if (JSON.stringify(before.admin) !== JSON.stringify(after.admin)) changed.push('admin');
  if (JSON.stringify(before.logging) !== JSON.stringify(after.logging)) changed.push('logging');
  return changed;
}

export class Gateway {
  private constructor(
    private runtime: Runtime,
    readonly addresses: GatewayAddresses,
    private readonly logger: Logger,
    private readonly connections: UpstreamConnections,
    private readonly https: HttpsListener,
    /** Objects that read `router` and `pools` per request; a reload swaps them there. */
    private readonly consumers: Array<{ router: Router; pools: ReadonlyMap<string, UpstreamPool>; redirectRootToOwa?: boolean }>,
    private readonly closers: Array<() => Promise<void> | void>,
    private readonly mitigations: Mitigations,
    private readonly authProtection: AuthProtection,
  ) {}

  get config(): Config {
    return this.runtime.config;
  }

  get pools(): ReadonlyMap<string, UpstreamPool> {
    return this.runtime.pools;
  }

  static async start(config: Config, { logger, onRecord }: GatewayOptions): Promise<Gateway> {
    const certificates = loadCertificates(config.certificates);
    const store = new CertStore(certificates);
    logCoverage(config, certificates, logger);

    const plan = buildPlan(config);
    for (const warning of configWarnings(config, plan)) logger.warn(warning);
    const connections = new UpstreamConnections();
    const pools = buildPools(plan.pools, connections);
    const router = new Router(plan.routes);
    const runtime: Runtime = { config, store, certificates, router, pools };

    const pins = new PinnedSessions(connections);
    const trusted = blockListOf(config.listen.trustForwardedFrom);
    const isTrustedProxy = (ip: string) => addressIn(trusted, ip);
    const rpcOptions = { router, pools: pools as ReadonlyMap<string, UpstreamPool>, logger, isTrustedProxy };
    const rpc = new RpcTunnels(rpcOptions);
    let gateway: Gateway | undefined;
    // Health reads the pools in effect, so a reload needs no hook: probers follow the new pools.
    const currentPools = (): ReadonlyMap<string, UpstreamPool> => gateway?.pools ?? pools;
    const health = new HealthChecker({ pools: currentPools, connections, logger });
    const outlier = new OutlierDetector({ pools: currentPools, logger });
    const mitigations = new Mitigations(config.exchange?.mitigations, logger);
    const authProtection = new AuthProtection(config.exchange?.authProtection, logger);
    const metrics = new Metrics(() => currentPools().values(), { pinnedSessions: () => pins.count, rpcTunnels: () => rpc.open, mitigations, authProtection });
    const accessLog = onRecord ? undefined : AccessLog.open(config.logging.access, config.logging.format);
    const engineOptions = {
      router,
      pools: pools as ReadonlyMap<string, UpstreamPool>,
      pins,
      isTrustedProxy,
      redirectRootToOwa: config.exchange?.redirectRootToOwa ?? false,
      mitigations,
      authProtection,
      onRecord: (record: RequestRecord) => {
        metrics.observe(record);
        if (onRecord) onRecord(record);
        else accessLog?.write(record);
      },
      onBackendResult: (backend: Backend, ok: boolean, code?: string) => {
        if (!ok) metrics.upstreamError(backend.pool, backend.name, code ?? 'unknown');
        outlier.onResult(backend, ok, code);
      },
    };
    const engine = new ProxyEngine(engineOptions);

    const closers: Array<() => Promise<void> | void> = [];
    const https = new HttpsListener({
      address: config.listen.https.address,
      port: config.listen.https.port,
      // SNI goes through the runtime so that a reload can swap the certificates without rebinding.
      tls: { ...store.serverOptions(), SNICallback: (name, cb) => (gateway?.runtime.store ?? store).sniCallback(name, cb) },
      keepAliveTimeoutMs: config.listen.https.keepAliveTimeout,
      headersTimeoutMs: config.listen.https.headersTimeout,
      maxHeaderSize: config.listen.https.maxHeaderSize,
      onRequest: engine.handle,
      onRpcConnection: (socket: TLSSocket, head: Buffer) => rpc.accept(socket, head),
    });
    const admin = new AdminServer(config.admin.address, config.admin.port, config.admin.token);
    try {
      const httpsAddress = await https.listen();
      closers.push(() => https.close());
      let httpAddress: AddressInfo | undefined;
      if (config.listen.http) {
        const fallbackHost = config.exchange?.hostnames[0] ?? 'localhost';
        const redirect = new RedirectListener(config.listen.http.address, config.listen.http.port, () => httpsAddress.port, fallbackHost);
        httpAddress = await redirect.listen();
        closers.push(() => redirect.close());
      }
      const statusSources = {
        get pools() {
          return gateway!.runtime.pools;
        },
        get config() {
          return gateway!.runtime.config;
        },
        get certificates() {
          return gateway!.runtime.certificates;
        },
        metrics,
        pins,
        rpc,
        mitigations,
        authProtection,
      };
      registerStatusRoutes(admin, statusSources);
      registerAdminApi(admin, { pools: currentPools, logger });
      registerShieldApi(admin, authProtection);
      admin.on('POST', '/api/reload', () => {
        const result = gateway!.reloadFromFile();
        return { status: result.ok ? 200 : 422, json: result };
      });
      const adminAddress = await admin.listen();
      closers.push(() => admin.close(), () => authProtection.close());
      closers.push(() => rpc.closeAll('shutdown'), () => connections.close(), () => accessLog?.flush());
      health.start();
      closers.push(() => health.stop(), () => outlier.stop(), () => {
        for (const p of currentPools().values()) for (const b of p.backends) b.dispose();
      });
      logger.info('casgate listening', {
        https: `${httpsAddress.address}:${httpsAddress.port}`,
        http: httpAddress ? `${httpAddress.address}:${httpAddress.port}` : 'off',
        admin: `${adminAddress.address}:${adminAddress.port}`,
        routes: plan.routes.length,
        pools: plan.pools.length,
      });
      gateway = new Gateway(runtime, { https: httpsAddress, http: httpAddress, admin: adminAddress }, logger, connections, https, [engineOptions, rpcOptions], closers, mitigations, authProtection);
      void checkExtendedProtection(pools, store, logger);
      return gateway;
    } catch (err) {
      for (const close of closers.reverse()) await close();
      await connections.close();
      throw err;
    }
  }

  /** Where `reloadFromFile` reads the config; set by the `run` verb. */
  configFile?: string;
  private loadFile?: (file: string) => Config;

  setConfigSource(file: string, load: (file: string) => Config): void {
    this.configFile = file;
    this.loadFile = load;
  }

  /** Reads the config file again and applies it; a config that fails to load leaves the running one in place. */
  reloadFromFile(): { ok: boolean; problems?: string[]; notApplied?: string[] } {
    if (!this.configFile || !this.loadFile) return { ok: false, problems: ['this gateway was not started from a config file'] };
    let next: Config;
    try {
      next = this.loadFile(this.configFile);
    } catch (err) {
      const problems = (err as { problems?: string[] }).problems ?? [(err as Error).message];
      this.logger.error('reload refused; the running configuration stays', { file: this.configFile, problems: problems.length });
      for (const p of problems) this.logger.error(p);
      return { ok: false, problems };
    }
    return this.reload(next);
  }

  /**
   * Applies a new validated config: certificates, pools, routes and their settings. Backends whose address is
   * unchanged keep their state; requests and tunnels in flight finish on the objects they started with. Listener,
   * admin and logging changes need a restart and are reported as not applied.
   */
  reload(next: Config): { ok: boolean; problems?: string[]; notApplied?: string[] } {
    let certificates: LoadedCertificate[];
    try {
      certificates = loadCertificates(next.certificates);
    } catch (err) {
      this.logger.error('reload refused; the running configuration stays', { error: (err as Error).message });
      return { ok: false, problems: [(err as Error).message] };
    }
    const store = new CertStore(certificates);
    const plan = buildPlan(next);
    const pools = buildPools(plan.pools, this.connections, this.runtime.pools);
    const router = new Router(plan.routes);
    const notApplied = restartOnlyChanges(this.runtime.config, next);
    // Keep the listener settings that are in effect, so that a later reload compares against what really runs.
    const effective: Config = { ...next, listen: this.runtime.config.listen, admin: this.runtime.config.admin, logging: this.runtime.config.logging };
    this.https.server.setSecureContext(store.serverOptions());
    const kept = new Set([...pools.values()].flatMap((p) => p.backends));
    for (const old of this.runtime.pools.values()) for (const b of old.backends) if (!kept.has(b)) b.dispose();
    this.runtime = { config: effective, store, certificates, router, pools };
    for (const consumer of this.consumers) {
      consumer.router = router;
      consumer.pools = pools;
      if ('redirectRootToOwa' in consumer) consumer.redirectRootToOwa = next.exchange?.redirectRootToOwa ?? false;
    }
    this.mitigations.configure(next.exchange?.mitigations);
    // Limits change; counters, locks and familiar addresses stay.
    this.authProtection.configure(next.exchange?.authProtection);
    logCoverage(next, certificates, this.logger);
    for (const warning of configWarnings(next, plan)) this.logger.warn(warning);
    if (notApplied.length) this.logger.warn('reload: these settings need a restart and were not applied', { keys: notApplied.join(',') });
    this.logger.info('configuration reloaded', { routes: plan.routes.length, pools: plan.pools.length });
    void checkExtendedProtection(pools, store, this.logger);
    return { ok: true, ...(notApplied.length ? { notApplied } : {}) };
  }

  async stop(): Promise<void> {
    for (const close of [...this.closers].reverse()) await close();
  }
}

/**
 * For bridged Exchange pools, compare each backend's certificate with the one casgate serves for the published
 * name (Extended Protection needs them equal). Runs in the background at start; reports, never blocks.
 */
async function checkExtendedProtection(pools: ReadonlyMap<string, UpstreamPool>, store: CertStore, logger: Logger): Promise<void> {
  const seen = new Map<string, Promise<ExtendedProtectionVerdict>>();
  for (const pool of pools.values()) {
    if (!pool.plan.service || pool.plan.mode !== 'bridge') continue;
    const served = normalizeFingerprint(store.certificateFor(pool.plan.probeHost).sha256Fingerprint);
    for (const b of pool.backends) {
      const key = b.origin.url;
      if (!seen.has(key)) {
        seen.set(
          key,
          fetchPresentedCertificate(b.origin.host, b.origin.port, b.origin.tls.servername ?? pool.plan.probeHost).then(
            (presented): ExtendedProtectionVerdict =>
              presented.fingerprint256 === served ? { kind: 'same', backend: b.name } : { kind: 'different', backend: b.name, presented },
            (err: Error): ExtendedProtectionVerdict => ({ kind: 'unreachable', backend: b.name, error: err.message }),
          ),
        );
      }
      const { level, message } = describeVerdict(pool.name, served, await seen.get(key)!);
      logger[level](message);
    }
  }
}
