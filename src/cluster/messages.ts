// What the primary and its workers say to each other over the cluster IPC channel (structured clone, so Dates in
// certificates and Buffers in ticket keys travel as they are). One union per direction; `t` names the message.
import type { LiveCounts } from '../admin/status.js';
import type { Config } from '../config/schema.js';
import type { ShieldShare, TotalsDelta } from '../proxy/auth-protection/protection.js';
import type { LockState } from '../proxy/auth-protection/store.js';
import type { LoadedCertificate } from '../tls/certificate.js';
import type { BackendSnapshot } from '../upstream/backend.js';

/** One backend's state, keyed by pool name and server name. */
export interface BackendState {
  pool: string;
  backend: string;
  state: BackendSnapshot;
}

/**
 * What a worker needs to build its runtime without reading a file: the config and what provisioning read (the
 * certificates with their keys, the CA files). The worker assembles plan, router and TLS contexts from it.
 */
export interface RuntimeTransfer {
  file: string;
  config: Config;
  certificates: LoadedCertificate[];
  caFiles: Map<string, string>;
}

/** Metrics as prom-client's getMetricsAsJSON() gives them (the input of AggregatorRegistry.aggregate). */
export type MetricsJson = unknown[];

export type ToWorker =
  /** First message: everything a worker needs to serve; it reads no file itself. */
  | { t: 'init'; worker: number; runtime: RuntimeTransfer; ticketKeys: Buffer; states: BackendState[]; shield: ShieldShare }
  /** The primary's auth-protection store locked a user or an address (exchange.authProtection). */
  | { t: 'authLock'; lock: LockState }
  /** An admin cleared a user's or an address's failures and lock on the primary. */
  | { t: 'authClear'; kind: 'user' | 'address'; key: string }
  /** A logon succeeded: the address is familiar for the user until `until` (ms). */
  | { t: 'authFamiliar'; user: string; address: string; until: number }
  /** A reload the primary applied: the new config and certificates, and every backend's state under it. */
  | { t: 'runtime'; runtime: RuntimeTransfer; states: BackendState[] }
  | { t: 'state'; states: BackendState[] }
  /** The primary closed a backend's long-lived exchanges (health down with closeOnDown, drain deadline). */
  | { t: 'closeLongLived'; pool: string; backend: string; reason: string; minAgeMs: number }
  | { t: 'ticketKeys'; keys: Buffer }
  /** Replaced by a new worker: stop accepting, finish, keep long-lived exchanges until timeoutMs, exit. */
  | { t: 'retire'; timeoutMs: number }
  /** logrotate moved the access log file: open it again at its path. */
  | { t: 'reopenLogs' }
    /** Instance shutdown: close everything now and exit. */
  | { t: 'stop' }
  | { t: 'query'; id: number; what: 'counts' | 'metrics' };

export type FromWorker =
  /** The worker's message handler is in place: the primary sends `init`. */
  | { t: 'ready' }
  | { t: 'listening'; https: string; http?: string }
  /** A failed attempt, or the first success after failures (the primary's outlier detector decides). */
  | { t: 'result'; pool: string; backend: string; ok: boolean; code?: string }
  /** The CAS refused or accepted credentials (exchange.authProtection): the primary's store counts it. */
  | { t: 'authOutcome'; outcome: 'failure' | 'success'; user: string; address: string }
  /** Attempts, refusals and successes not reported one by one, since the worker's last report. */
  | { t: 'authTotals'; delta: TotalsDelta }
  | { t: 'reply'; id: number; counts?: LiveCounts; metrics?: MetricsJson }
  /** `init` failed (a listen error such as EADDRINUSE carries its code); the worker exits. */
  | { t: 'failed'; error: string; code?: string };
