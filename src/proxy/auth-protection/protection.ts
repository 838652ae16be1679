// exchange.authProtection as the engine uses it: whether it is on, the account key of a credential, and the store.
// One instance per gateway; a config reload changes the limits and keeps every counter, lock and familiar address.
//
// With several workers (src/cluster/) the primary's instance is the one store: it counts, locks, logs, serves the API
// and the admin clear. A worker's instance is a mirror for the per-request decision (no IPC round trip on the request
// path): it reports each outcome to the primary (attached()) and is told of every lock, clear and familiar address
// the primary's store makes (store.mirror*). A request can therefore be decided on state one IPC message old: a
// guess that arrives on a worker while the lock that the previous failure caused is on its way is let through.
import { AUTH_PROTECTION_DEFAULTS, type AuthProtectionConfig } from '../../config/schema.js';
import type { Logger } from '../../logging/logger.js';
import type { Runtime, RuntimeConsumer } from '../../runtime/runtime.js';
import { accountKey, type SameUser } from './names.js';
import { AuthProtectionStore, type AuthProtectionSettings, type LockState } from './store.js';

const SWEEP_MS = 5_000;
/** How often a worker hands its attempt and refusal counts to the primary. */
const TOTALS_MS = 1_000;

/** A worker's counts since its last report (the primary adds them to its totals). */
export interface TotalsDelta {
  attempts: number;
  successes: number;
  refusedUser: number;
  refusedAddress: number;
}

/** What a worker sends its primary: every counted outcome, and its counts now and then. */
export interface RemoteShield {
  outcome(outcome: 'failure' | 'success', user: string, address: string): void;
  totals(delta: TotalsDelta): void;
}

/** The primary's state a new worker starts its mirror with. */
export interface ShieldShare {
  locks: LockState[];
  familiar: Array<[string, string, number]>;
}

function settingsOf(c: AuthProtectionConfig): AuthProtectionSettings {
  return {
    userFailures: c.userFailures,
    addressFailures: c.addressFailures,
    addressUsers: c.addressUsers,
    windowMs: c.window,
    lockoutMs: c.lockout,
    familiarMs: c.familiar,
    maxEntries: c.maxEntries,
  };
}

export class AuthProtection implements RuntimeConsumer {
  enabled = false;
  refuseWith: 429 | 401 = 429;
  private sameUser: SameUser = 'name';
  readonly store: AuthProtectionStore;
  private timer?: NodeJS.Timeout;
  /** On a worker: where outcomes go (the primary counts them). */
  private remote?: RemoteShield;
  private flush?: NodeJS.Timeout;

  constructor(config: AuthProtectionConfig | undefined, logger: Logger, now?: () => number) {
    this.store = new AuthProtectionStore(settingsOf(config ?? AUTH_PROTECTION_DEFAULTS), logger, now);
    this.configure(config);
  }

  configure(config: AuthProtectionConfig | undefined): void {
    this.enabled = config?.enabled ?? false;
    if (!config) return;
    this.store.settings = settingsOf(config);
    this.refuseWith = config.refuseWith;
    this.sameUser = config.sameUser;
    if (this.enabled && !this.timer) {
      // Reports lockouts that ended; unref'd: never keeps the process alive.
      this.timer = setInterval(() => this.store.sweep(), SWEEP_MS);
      this.timer.unref();
    }
  }

  /** At start and at every reload: new limits; counters, locks and familiar addresses stay. */
  apply(runtime: Pick<Runtime, 'config'>): void {
    this.configure(runtime.config.exchange?.authProtection);
  }

  /**
   * Makes this instance a worker's mirror: outcomes go to `remote`, the store starts from the primary's `share`.
   * Called before the worker listens.
   */
  attach(remote: RemoteShield, share: ShieldShare | undefined): void {
    this.remote = remote;
    if (share) this.mirror(share);
    this.flush = setInterval(() => this.sendTotals(), TOTALS_MS);
    this.flush.unref();
  }

  mirror(share: ShieldShare): void {
    for (const lock of share.locks) this.store.mirrorLock(lock);
    for (const [user, address, until] of share.familiar) this.store.mirrorFamiliar(user, address, until);
  }

  /** Attempts, unreported successes and refusals counted here since the last call, handed to the primary. */
  sendTotals(): void {
    const t = this.store.totals;
    if (!this.remote || t.attempts + t.successes + t.refusedUser + t.refusedAddress === 0) return;
    this.remote.totals({ attempts: t.attempts, successes: t.successes, refusedUser: t.refusedUser, refusedAddress: t.refusedAddress });
    t.attempts = t.successes = t.refusedUser = t.refusedAddress = 0;
  }

  /** The primary: a worker's counts. */
  addTotals(d: TotalsDelta): void {
    const t = this.store.totals;
    t.attempts += d.attempts;
    t.successes += d.successes;
    t.refusedUser += d.refusedUser;
    t.refusedAddress += d.refusedAddress;
  }

  /** The CAS refused the credentials. */
  failure(user: string, address: string): void {
    if (this.remote) this.remote.outcome('failure', user, address);
    else this.store.failure(user, address);
  }

  /**
   * The CAS accepted the credentials. A worker reports a success only when it makes the address familiar or renews
   * it (less than half of `familiar` left): one message per user and address per half period, not one per request.
   */
  success(user: string, address: string): void {
    if (!this.remote) return this.store.success(user, address);
    const now = Date.now();
    const familiarMs = this.store.settings.familiarMs;
    if (this.store.familiarUntil(user, address) - now > familiarMs / 2) {
      this.store.totals.successes++;
      return;
    }
    this.store.mirrorFamiliar(user, address, now + familiarMs);
    this.remote.outcome('success', user, address);
  }

  key(user: string, domain?: string): string {
    return accountKey(user, domain, this.sameUser);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.flush) {
      clearInterval(this.flush);
      this.sendTotals();
    }
    this.flush = undefined;
  }
}
