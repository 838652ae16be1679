// One CAS server as seen by one pool. Health belongs to the (pool, backend) pair, not to the address:
// cas1 can be down for /EWS and up for /owa at the same time (STYLE.md habit 1).
//
// Three independent inputs decide whether a backend takes new work, each owned by one writer:
//   - health   (active probes, health/active.ts): up, or down with the probe's answer as the reason;
//   - ejection (passive outlier detection, health/outlier.ts): ejected for a while after consecutive failures;
//   - admin    (admin API): enabled, draining (finishes what it has, takes nothing new) or disabled.
// `state` is the one word shown to people; `available()` is the one question balancers ask.
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { ServerConfig } from '../config/schema.js';
import type { Origin } from './connections.js';

export type BackendState = 'healthy' | 'unhealthy' | 'draining' | 'disabled';
export type AdminState = 'enabled' | 'draining' | 'disabled';

/** A backend in slow start never gets less than this share of its weight (Envoy's min_weight_percent is 10%). */
export const SLOW_START_MIN_FACTOR = 0.1;

/**
 * When a backend goes down, HTTP requests in flight for less than this are left to finish (an ordinary SOAP call
 * on a server entering maintenance still completes); older ones (long polls, streams) are cut so that their
 * clients reconnect elsewhere. RPC tunnels are always cut. A drain deadline cuts everything left.
 */
export const CLOSE_ON_DOWN_MIN_AGE_MS = 5_000;

/** Closes one long-lived exchange unless it is younger than `minAgeMs`; returns false when it left it open. */
export type LongLivedCloser = (reason: string, minAgeMs: number) => void | boolean;

/** The three inputs of a backend's state, as the primary of a multi-process instance sends them to its workers. */
export interface BackendSnapshot {
  healthUp: boolean;
  healthReason: string;
  ejected: boolean;
  ejectReason: string;
  admin: AdminState;
  adminReason: string;
}

/** Told of every change of a backend's state and of every close of its long-lived exchanges (src/cluster/). */
export interface BackendObserver {
  changed(backend: Backend): void;
  closedLongLived(backend: Backend, reason: string, minAgeMs: number): void;
}

export class Backend {
  /** Requests in flight through this pool. */
  active = 0;
  /** Client connections pinned to this backend by NTLM/Negotiate. */
  pinned = 0;
  /** Failed active health probes and outlier ejections since this backend was built (metrics counters). */
  probeFailures = 0;
  ejections = 0;
  /** Value of the affinity cookie that designates this backend (`cookie` policy); opaque, stable across restarts. */
  readonly affinityId: string;
  /** 32-bit seed of this backend for rendezvous hashing (`source-ip` policy). */
  readonly hashSeed: number;
  /** Smooth weighted round-robin accumulator (balancer scratch; one pool, one balancer per backend). */
  swrrCurrent = 0;

  private healthUp = true;
  private healthReason = '';
  private ejected = false;
  private ejectReason = '';
  private admin: AdminState = 'enabled';
  private adminReason = '';
  /** Cached `healthUp && !ejected && admin === 'enabled'`, so available() is two field reads. */
  private inService = true;
  /** performance.now() at which slow start ends; 0 = not ramping. */
  private rampUntil = 0;
  /** Ramp period after the backend returns to service (ms); 0 = full weight at once. Set by its pool. */
  slowStartMs = 0;
  private drainTimer: NodeJS.Timeout | undefined;
  /**
   * Closers of long-lived exchanges (RPC tunnels, MAPI/ActiveSync/EWS long polls) riding this backend. A closer
   * returns false when it let its exchange finish instead (a request that has only just started).
   */
  private readonly longLived = new Set<LongLivedCloser>();
  /** Set by the primary of a multi-process instance, which mirrors this backend's state into its workers. */
  observer: BackendObserver | undefined;

  constructor(
    readonly pool: string,
    /** Replaced on a config reload that keeps this backend (weight, limits). */
    public server: ServerConfig,
    readonly origin: Origin,
    readonly dispatcher: Dispatcher,
  ) {
    const digest = createHash('sha256').update(`casgate:${server.name}`).digest();
    this.affinityId = digest.subarray(0, 9).toString('base64url');
    this.hashSeed = digest.readUInt32BE(12);
  }

  get name(): string {
    return this.server.name;
  }

  /** The one question balancers ask: healthy for this pool, not ejected, not draining or disabled, not full. */
  available(): boolean {
    return this.inService && (this.server.maxConnections === 0 || this.active < this.server.maxConnections);
  }

  /** The word shown in the status page, the API and the metrics. An ejected backend shows as unhealthy. */
  get state(): BackendState {
    if (this.admin !== 'enabled') return this.admin;
    return this.healthUp && !this.ejected ? 'healthy' : 'unhealthy';
  }

  /**
   * Kept for callers that set a state by hand (tests, scripts): `disabled`/`draining` are admin states (no drain
   * deadline), `unhealthy` marks health down, `healthy` clears all three inputs.
   */
  set state(next: BackendState) {
    if (next === 'healthy') {
      this.healthUp = true;
      this.ejected = false;
      this.setAdmin('enabled', '');
    } else if (next === 'unhealthy') this.setHealth(false, this.healthReason || 'marked unhealthy');
    else this.setAdmin(next, `${next} by hand`);
    this.update();
  }

  /** Why the backend is not healthy: admin action, probe status and body snippet, or passive-health error. */
  get reason(): string {
    const parts: string[] = [];
    if (this.admin !== 'enabled' && this.adminReason) parts.push(this.adminReason);
    if (!this.healthUp) parts.push(this.healthReason);
    if (this.ejected) parts.push(this.ejectReason);
    return parts.join('; ');
  }

  get healthy(): boolean {
    return this.healthUp;
  }

  get isEjected(): boolean {
    return this.ejected;
  }

  get adminState(): AdminState {
    return this.admin;
  }

  snapshot(): BackendSnapshot {
    return {
      healthUp: this.healthUp,
      healthReason: this.healthReason,
      ejected: this.ejected,
      ejectReason: this.ejectReason,
      admin: this.admin,
      adminReason: this.adminReason,
    };
  }

  /**
   * Takes the state another process decided (a worker following its primary). No drain timer: the primary's timer
   * fires there and its closing of the long-lived exchanges is sent here (closeLongLived).
   */
  restore(s: BackendSnapshot): void {
    this.healthUp = s.healthUp;
    this.healthReason = s.healthReason;
    this.ejected = s.ejected;
    this.ejectReason = s.ejectReason;
    if (s.admin !== this.admin) {
      clearTimeout(this.drainTimer);
      this.drainTimer = undefined;
      this.admin = s.admin;
    }
    this.adminReason = s.adminReason;
    this.update();
  }

  /** Active health's verdict. Returns true when it changed (the checker logs edges only). */
  setHealth(up: boolean, reason: string): boolean {
    const changed = up !== this.healthUp;
    this.healthUp = up;
    this.healthReason = up ? '' : reason;
    if (changed) this.update();
    return changed;
  }

  /** Passive health's verdict. Returns true when it changed. */
  setEjected(ejected: boolean, reason = ''): boolean {
    const changed = ejected !== this.ejected;
    this.ejected = ejected;
    this.ejectReason = ejected ? reason : '';
    if (changed) this.update();
    return changed;
  }

  /**
   * Stop sending new work; what is in flight finishes. After `timeoutMs` (0 = never) the long-lived exchanges
   * still open are closed so their clients reconnect elsewhere. The backend stays draining until enable().
   */
  drain(timeoutMs: number, reason = 'draining (admin)'): void {
    this.setAdmin('draining', reason);
    if (timeoutMs > 0) {
      this.drainTimer = setTimeout(() => {
        this.drainTimer = undefined;
        const closed = this.closeLongLived('drain timeout');
        this.adminReason = `${reason}; drain timeout reached, ${closed} long-lived connection(s) closed`;
        this.observer?.changed(this);
      }, timeoutMs);
      this.drainTimer.unref();
    }
  }

  disable(reason = 'disabled (admin)'): void {
    this.setAdmin('disabled', reason);
  }

  enable(): void {
    this.setAdmin('enabled', '');
  }

  /** Cancels timers (gateway stop). */
  dispose(): void {
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
  }

  private setAdmin(state: AdminState, reason: string): void {
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    this.admin = state;
    this.adminReason = reason;
    this.update();
  }

  private update(): void {
    this.observer?.changed(this);
    const state = this.state;
    if (state !== this.lastState) {
      this.lastState = state;
      this.stateSince = Date.now();
    }
    const was = this.inService;
    this.inService = this.healthUp && !this.ejected && this.admin === 'enabled';
    if (this.inService && !was && this.slowStartMs > 0) {
      this.rampUntil = performance.now() + this.slowStartMs;
    } else if (!this.inService) {
      this.rampUntil = 0;
    }
  }

  /** Slow-start share of full weight, 0.1..1; 1 once the ramp is over (or without slow start). */
  slowStartFactor(now: number): number {
    if (this.rampUntil === 0) return 1;
    const left = this.rampUntil - now;
    if (left <= 0) {
      this.rampUntil = 0;
      return 1;
    }
    return Math.max(SLOW_START_MIN_FACTOR, 1 - left / this.slowStartMs);
  }

  /** True while the backend's share is ramping up after it returned to service. */
  get rampingUp(): boolean {
    return this.rampUntil !== 0 && this.slowStartFactor(performance.now()) < 1;
  }

  /** Date.now() when `state` last changed (status page: "healthy since ..."). */
  stateSince = Date.now();
  private lastState: BackendState = 'healthy';

  /** Weight set through the admin API (kept by a reload that keeps this backend); undefined = the configured one. */
  weightOverride: number | undefined;

  /** The weight in effect: the admin's, else the configured one. */
  get weight(): number {
    return this.weightOverride ?? this.server.weight;
  }

  /** Weight scaled by slow start; every policy balances on this. */
  effectiveWeight(now: number): number {
    return this.weight * this.slowStartFactor(now);
  }

  /** Registers a long-lived exchange; returns the function that unregisters it. */
  trackLongLived(close: LongLivedCloser): () => void {
    this.longLived.add(close);
    return () => this.longLived.delete(close);
  }

  get longLivedCount(): number {
    return this.longLived.size;
  }

  /** Closes every long-lived exchange on this backend so its clients reconnect elsewhere; returns how many it closed. */
  closeLongLived(reason: string, minAgeMs = 0): number {
    this.observer?.closedLongLived(this, reason, minAgeMs);
    let closed = 0;
    for (const close of [...this.longLived]) {
      if (close(reason, minAgeMs) === false) continue;
      this.longLived.delete(close);
      closed++;
    }
    return closed;
  }
}
