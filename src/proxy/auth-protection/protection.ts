// exchange.authProtection as the engine uses it: whether it is on, the account key of a credential, and the store.
// One instance per gateway; a config reload changes the limits and keeps every counter, lock and familiar address.
import { AUTH_PROTECTION_DEFAULTS, type AuthProtectionConfig } from '../../config/schema.js';
import type { Logger } from '../../logging/logger.js';
import type { Runtime, RuntimeConsumer } from '../../runtime/runtime.js';
import { accountKey, type SameUser } from './names.js';
import { AuthProtectionStore, type AuthProtectionSettings } from './store.js';

const SWEEP_MS = 5_000;

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

  key(user: string, domain?: string): string {
    return accountKey(user, domain, this.sameUser);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
