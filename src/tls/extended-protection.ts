// Extended Protection (on by default since Exchange 2019 CU14) binds Windows authentication to the TLS channel
// the client sees. Through SSL bridging it only works when casgate presents the same certificate as the CAS
// (EXCHANGE.md, Certificates). At start, casgate connects to each bridged Exchange backend once and compares.
import { connect } from 'node:tls';
import type { PoolPlan } from '../config/plan.js';
import type { Logger } from '../logging/logger.js';
import type { CertStore } from './cert-store.js';
import { normalizeFingerprint } from './upstream-tls.js';

/** What the check reads of a pool (upstream/pool.ts's UpstreamPool is one; tls/ sits below upstream/). */
export interface BridgedPool {
  name: string;
  plan: Pick<PoolPlan, 'service' | 'mode' | 'probeHost'>;
  backends: readonly { name: string; origin: { url: string; host: string; port: number; tls: { servername?: string } } }[];
}

export interface PresentedCertificate {
  fingerprint256: string;
  subject: string;
}

/** The certificate a backend presents (no verification: this is a comparison, not a trust decision). */
export function fetchPresentedCertificate(host: string, port: number, servername: string | undefined, timeoutMs = 5000): Promise<PresentedCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const cert = socket.getPeerCertificate();
      socket.destroy();
      resolve({ fingerprint256: normalizeFingerprint(cert.fingerprint256 ?? ''), subject: [cert.subject?.CN ?? ''].flat().join(', ') });
    });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)));
    socket.on('error', reject);
  });
}

export type ExtendedProtectionVerdict =
  | { kind: 'same'; backend: string }
  | { kind: 'different'; backend: string; presented: PresentedCertificate }
  | { kind: 'unreachable'; backend: string; error: string };

export function describeVerdict(pool: string, served: string, v: ExtendedProtectionVerdict): { level: 'info' | 'warn'; message: string } {
  switch (v.kind) {
    case 'same':
      return { level: 'info', message: `pool ${pool}: ${v.backend} presents the certificate casgate serves; Extended Protection can work over bridging` };
    case 'different':
      return {
        level: 'warn',
        message:
          `pool ${pool}: ${v.backend} presents certificate ${v.presented.fingerprint256} (CN=${v.presented.subject}), casgate serves ${served}: ` +
          'Extended Protection will reject Windows authentication through casgate; bind the exported certificate on the CAS or turn Extended Protection off',
      };
    case 'unreachable':
      return { level: 'warn', message: `pool ${pool}: could not compare ${v.backend}'s certificate for Extended Protection: ${v.error}` };
  }
}

/**
 * For bridged Exchange pools, compare each backend's certificate with the one casgate serves for the published
 * name (Extended Protection needs them equal). The gateway runs it in the background at start and after each reload;
 * it reports, never blocks. One connection per backend address, however many pools share it.
 */
export async function checkExtendedProtection(pools: ReadonlyMap<string, BridgedPool>, store: Pick<CertStore, 'certificateFor'>, logger: Logger): Promise<void> {
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
