// What the admin API's /api/status returns and the status page draws: plain data, so that status.ts (which builds it
// from the runtime) and status-page.ts (which renders it) both depend on it and not on each other.

/** One backend as the admin API and the status page show it. */
export interface BackendView {
  name: string;
  address: string;
  state: string;
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
  backends: BackendView[];
}

export interface CertificateView {
  source: string;
  names: string[];
  notAfter: string;
  sha256Fingerprint: string;
}

export interface GatewayStatus {
  pools: PoolView[];
  pinnedConnections: number;
  rpcTunnels: number;
  certificates: CertificateView[];
}
