// What the admin API's /api/status returns and the status page draws: plain data, so that status.ts (which builds it
// from the runtime) and status-page.ts (which renders it) both depend on it and not on each other.
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
