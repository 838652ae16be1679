// Composition root: builds every runtime object from the parsed config, starts the listeners, and stops them.
// Lifecycle: parse (config/load.ts) → plan (config/plan.ts) → build (here) → start → stop.
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { AdminServer } from './admin/server.js';
import { Metrics } from './admin/metrics.js';
import { registerStatusRoutes } from './admin/status.js';
import { buildPlan, blockListOf, publishedHostnames, type Plan } from './config/plan.js';
import type { CertificateConfig, Config } from './config/schema.js';
import { HttpsListener } from './frontend/listener.js';
import { RedirectListener } from './frontend/redirect.js';
import { AccessLog } from './logging/access-log.js';
import type { Logger } from './logging/logger.js';
import { ProxyEngine, type RequestRecord } from './proxy/engine.js';
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
import { Backend } from './upstream/backend.js';
import { createBalancer } from './upstream/balancer/index.js';
import { originOf, UpstreamConnections } from './upstream/connections.js';
import { UpstreamPool } from './upstream/pool.js';

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

export class Gateway {
  private constructor(
    readonly config: Config,
    readonly pools: ReadonlyMap<string, UpstreamPool>,
    readonly addresses: GatewayAddresses,
    private readonly closers: Array<() => Promise<void> | void>,
  ) {}

  static async start(config: Config, { logger, onRecord }: GatewayOptions): Promise<Gateway> {
    const certificates = loadCertificates(config.certificates);
    const store = new CertStore(certificates);
    for (const line of formatCoverage(coverageReport(publishedHostnames(config), certificates))) {
      (line.startsWith('warning:') ? logger.warn : logger.info)(line.replace(/^warning: /, ''));
    }

    const plan = buildPlan(config);
    for (const warning of configWarnings(config, plan)) logger.warn(warning);
    const connections = new UpstreamConnections();
    const pools = new Map<string, UpstreamPool>();
    for (const p of plan.pools) {
      const backends = p.config.servers.map((s) => {
        const origin = originOf(s, p.mode, p.config.tls);
        return new Backend(p.name, s, origin, connections.shared(origin));
      });
      pools.set(p.name, new UpstreamPool(p, backends, createBalancer(p.config.balance)));
    }

    const pins = new PinnedSessions(connections);
    const router = new Router(plan.routes);
    const rpc = new RpcTunnels({ router, pools, logger, isTrustedProxy: () => false });
    const metrics = new Metrics(() => pools.values(), { pinnedSessions: () => pins.count, rpcTunnels: () => rpc.open });
    const accessLog = onRecord ? undefined : AccessLog.open(config.logging.access, config.logging.format);
    const trusted = blockListOf(config.listen.trustForwardedFrom);
    const engine = new ProxyEngine({
      router,
      pools,
      pins,
      isTrustedProxy: (ip) => trusted.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4'),
      redirectRootToOwa: config.exchange?.redirectRootToOwa ?? false,
      onRecord: (record) => {
        metrics.observe(record);
        if (onRecord) onRecord(record);
        else accessLog?.write(record);
      },
      onBackendResult: (backend, ok, code) => {
        if (!ok) metrics.upstreamError(backend.pool, backend.name, code ?? 'unknown');
      },
    });

    const closers: Array<() => Promise<void> | void> = [];
    const https = new HttpsListener({
      address: config.listen.https.address,
      port: config.listen.https.port,
      tls: store.serverOptions(),
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
      const gatewayPools = pools;
      registerStatusRoutes(admin, { pools: gatewayPools, metrics, pins, rpc, config, certificates });
      const adminAddress = await admin.listen();
      closers.push(() => admin.close());
      closers.push(() => rpc.closeAll('shutdown'), () => connections.close(), () => accessLog?.flush());
      logger.info('casgate listening', {
        https: `${httpsAddress.address}:${httpsAddress.port}`,
        http: httpAddress ? `${httpAddress.address}:${httpAddress.port}` : 'off',
        admin: `${adminAddress.address}:${adminAddress.port}`,
        routes: plan.routes.length,
        pools: plan.pools.length,
      });
      void checkExtendedProtection(pools, store, logger);
      return new Gateway(config, pools, { https: httpsAddress, http: httpAddress, admin: adminAddress }, closers);
    } catch (err) {
      for (const close of closers.reverse()) await close();
      await connections.close();
      throw err;
    }
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
