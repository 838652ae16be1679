// What the admin API's /api/status returns and the status page draws: plain data, so that status.ts (which builds it
// from the runtime), status-page.ts and client.ts (which render it) depend on it and not on each other.
import type { RecentCounts } from './recent.js';
import type { AuthProtectionView, MitigationView } from './shield.js';

/** One backend as the admin API and the status page show it. */
export interface BackendView {
  name: string;
  address: string;
  state: string;
  /** ISO time the backend entered its state. */
  since: string;
  reason: string;
  weight: number;
  /** Weight in effect now: lower while a recovered backend ramps up (slow start). */
  effectiveWeight: number;
  slowStart: boolean;
  maxConnections: number;
  activeRequests: number;
  pinnedConnections: number;
  longLived: number;
}

export interface PoolView {
  name: string;
  balance: string;
  mode: string;
  healthPath?: string;
  healthFrom?: string;
  available: number;
  /** Requests and 5xx answers of the last 60 s (status page and /api/status). */
  lastMinute?: RecentCounts;
  backends: BackendView[];
}

export interface CertificateView {
  source: string;
  names: string[];
  notAfter: string;
  /** Whole days until notAfter (negative once expired), as `casgate check` counts them. */
  daysLeft: number;
  sha256Fingerprint: string;
}

/** status.ts gatewayStatus(): what the page needs of it (the JSON may carry more). */
export interface GatewayStatus {
  version: string;
  node: string;
  uptimeSeconds: number;
  pools: PoolView[];
  pinnedConnections: number;
  rpcTunnels: number;
  certificates: CertificateView[];
  /** exchange.mitigations: the rules in effect and what each refused (admin/shield.ts). */
  mitigations: MitigationView[];
  /** exchange.authProtection: on or off, and what it holds (admin/shield.ts). */
  authProtection: AuthProtectionView;
}

/** "3d 4h", "5m 12s": how long a state has lasted, as the status page and `casgate status` write it. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}
