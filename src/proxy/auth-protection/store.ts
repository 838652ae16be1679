// Password-spray protection state (exchange.authProtection): failures per user, failures and distinct user names per
// client address, and the addresses where each user recently logged on ("familiar", as AD FS smart lockout keeps
// them). Over a limit, attempts for that user from unfamiliar addresses, or any credential-bearing attempt from that
// address, are refused by casgate and never reach the CAS, so the AD bad-password count stops climbing.
//
// Memory is bounded: each table holds at most `maxEntries` keys (BoundedTable: two generations of maxEntries / 2).
// What is dropped first is the keys not touched for the longest time that are not locked (a spray over a million
// user names cycles through the failure table and forgets names tried once, long ago); locked keys are carried over
// while they fill less than a quarter of the table, then they too are dropped, oldest first. Familiar addresses are a
// table of their own, written only on a successful logon, so a spray (which cannot succeed) never pushes a real
// user's familiar address out; each user keeps at most FAMILIAR_PER_USER addresses. About 200 bytes per entry: the
// default 100,000 per table is some 60 MB at the very most.
import type { Logger } from '../../logging/logger.js';
import { BoundedTable } from './bounded-table.js';

export interface AuthProtectionSettings {
  /** Failures per user (from unfamiliar addresses) within `window` before the user is locked for `lockout`. */
  userFailures: number;
  /** Failures from one address (any users) within `window` before the address is locked. */
  addressFailures: number;
  /** Distinct user names tried from one address within `window` before the address is locked. */
  addressUsers: number;
  windowMs: number;
  lockoutMs: number;
  /** How long a successful logon makes its address familiar for that user. */
  familiarMs: number;
  /** Cap of each table (users, addresses, familiar users). */
  maxEntries: number;
}

export type Refusal = { reason: 'user' | 'address'; retryAfterMs: number };

interface Counter {
  failures: number;
  windowStart: number;
  lockedUntil: number;
  lockedSince: number;
  /** Distinct names tried (addresses only), capped at the limit + 1. */
  users?: Set<string>;
}

const FAMILIAR_PER_USER = 4;

/** A lock as the primary of a multi-process instance hands it to its workers (src/cluster/). */
export interface LockState {
  kind: 'user' | 'address';
  key: string;
  since: number;
  until: number;
}

/** What a worker's mirror is told by the primary's store: a lock began, an admin cleared one, a logon succeeded. */
export interface StoreEvents {
  lock(lock: LockState): void;
  clear(kind: 'user' | 'address', key: string): void;
  familiar(user: string, address: string, until: number): void;
}

export interface LockView {
  key: string;
  since: string;
  until: string;
  failures: number;
  distinctUsers?: number;
}

export class AuthProtectionStore {
  private readonly users: BoundedTable<Counter>;
  private readonly addresses: BoundedTable<Counter>;
  /** user → address → familiar until (ms). */
  private readonly familiar: BoundedTable<Map<string, number>>;
  /** Locks not yet reported as ended (bounded by the tables). */
  private readonly lockedUsers = new Set<string>();
  private readonly lockedAddresses = new Set<string>();
  readonly totals = { attempts: 0, failures: 0, successes: 0, refusedUser: 0, refusedAddress: 0, lockouts: 0 };
  /** Set on the primary of a multi-process instance: every lock, clear and familiar address goes to the workers. */
  events?: StoreEvents;

  constructor(
    public settings: AuthProtectionSettings,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    const cap = () => this.settings.maxEntries;
    const locked = (c: Counter) => c.lockedUntil > this.now();
    this.users = new BoundedTable(cap, locked);
    this.addresses = new BoundedTable(cap, locked);
    this.familiar = new BoundedTable(cap);
  }

  /** Entries dropped to stay within maxEntries, all tables. */
  get dropped(): number {
    return this.users.dropped + this.addresses.dropped + this.familiar.dropped;
  }

  get sizes(): { users: number; addresses: number; familiar: number } {
    return { users: this.users.size, addresses: this.addresses.size, familiar: this.familiar.size };
  }

  private isFamiliar(user: string, address: string, now: number): boolean {
    const until = this.familiar.peek(user)?.get(address);
    return until !== undefined && until > now;
  }

  /** Before forwarding a credential-bearing request: undefined = let it through. `user` undefined: NTLM type 1 etc. */
  admit(user: string | undefined, address: string): Refusal | undefined {
    const now = this.now();
    if (user !== undefined && this.isFamiliar(user, address, now)) return undefined;
    const a = this.addresses.peek(address);
    if (a && a.lockedUntil > now) {
      this.totals.refusedAddress++;
      return { reason: 'address', retryAfterMs: a.lockedUntil - now };
    }
    if (user === undefined) return undefined;
    const u = this.users.peek(user);
    if (u && u.lockedUntil > now) {
      this.totals.refusedUser++;
      return { reason: 'user', retryAfterMs: u.lockedUntil - now };
    }
    return undefined;
  }

  attempt(): void {
    this.totals.attempts++;
  }

  /** The CAS accepted the credentials: the address becomes familiar for this user. */
  success(user: string, address: string): void {
    const now = this.now();
    this.totals.successes++;
    let addrs = this.familiar.get(user);
    if (!addrs) this.familiar.set(user, (addrs = new Map()));
    addrs.delete(address);
    addrs.set(address, now + this.settings.familiarMs);
    if (addrs.size > FAMILIAR_PER_USER) addrs.delete(addrs.keys().next().value!);
    this.events?.familiar(user, address, now + this.settings.familiarMs);
  }

  /** When `address` stops being familiar for `user` (ms; 0: not familiar). */
  familiarUntil(user: string, address: string): number {
    return this.familiar.peek(user)?.get(address) ?? 0;
  }

  /** A worker's mirror: the primary saw a logon succeed (or this worker did, and reported it). Not counted. */
  mirrorFamiliar(user: string, address: string, until: number): void {
    let addrs = this.familiar.get(user);
    if (!addrs) this.familiar.set(user, (addrs = new Map()));
    addrs.delete(address);
    addrs.set(address, until);
    if (addrs.size > FAMILIAR_PER_USER) addrs.delete(addrs.keys().next().value!);
  }

  /** A worker's mirror: the primary locked a user or an address (not logged, not counted here: the primary does). */
  mirrorLock(lock: LockState): void {
    const table = lock.kind === 'user' ? this.users : this.addresses;
    const c = this.touch(table, lock.key, this.now());
    c.lockedSince = lock.since;
    c.lockedUntil = Math.max(c.lockedUntil, lock.until);
  }

  /** Every lock in effect and every familiar address: what a new worker starts its mirror with. */
  share(): { locks: LockState[]; familiar: Array<[string, string, number]> } {
    const now = this.now();
    const locks: LockState[] = [];
    for (const [set, table, kind] of [[this.lockedUsers, this.users, 'user'], [this.lockedAddresses, this.addresses, 'address']] as const) {
      for (const key of set) {
        const c = table.peek(key);
        if (c && c.lockedUntil > now) locks.push({ kind, key, since: c.lockedSince, until: c.lockedUntil });
      }
    }
    const familiar: Array<[string, string, number]> = [];
    for (const [user, addrs] of this.familiar.entries()) for (const [address, until] of addrs) if (until > now) familiar.push([user, address, until]);
    return { locks, familiar };
  }

  /** The CAS refused the credentials (401 after credentials, OWA reason=2). */
  failure(user: string, address: string): void {
    const now = this.now();
    const s = this.settings;
    this.totals.failures++;
    // A user's own mistakes from a familiar address do not lock the user out of casgate (AD still counts them).
    if (!this.isFamiliar(user, address, now)) {
      const u = this.touch(this.users, user, now);
      u.failures++;
      if (u.failures >= s.userFailures && u.lockedUntil <= now) this.lock(u, now, 'user', user, this.lockedUsers);
    }
    const a = this.touch(this.addresses, address, now);
    a.failures++;
    a.users ??= new Set();
    if (a.users.size <= s.addressUsers) a.users.add(user);
    if ((a.failures >= s.addressFailures || a.users.size > s.addressUsers) && a.lockedUntil <= now) {
      this.lock(a, now, 'address', address, this.lockedAddresses);
    }
  }

  private lock(c: Counter, now: number, kind: 'user' | 'address', key: string, set: Set<string>): void {
    c.lockedUntil = now + this.settings.lockoutMs;
    c.lockedSince = now;
    set.add(key);
    this.totals.lockouts++;
    this.events?.lock({ kind, key, since: now, until: c.lockedUntil });
    this.logger.warn(`auth protection: ${kind} locked out`, {
      [kind]: key,
      failures: c.failures,
      ...(c.users ? { users: c.users.size } : {}),
      until: new Date(c.lockedUntil).toISOString(),
    });
  }

  /** The counter for `key` (kept young: in use), its window restarted when expired. */
  private touch(table: BoundedTable<Counter>, key: string, now: number): Counter {
    let c = table.get(key);
    if (!c) {
      c = { failures: 0, windowStart: now, lockedUntil: 0, lockedSince: 0 };
      table.set(key, c);
    } else if (now - c.windowStart > this.settings.windowMs) {
      c.failures = 0;
      c.windowStart = now;
      c.users = undefined;
    }
    return c;
  }

  /** Logs the end of lockouts that expired; called by a timer (and before views). */
  sweep(): void {
    const now = this.now();
    for (const [set, table, kind] of [[this.lockedUsers, this.users, 'user'], [this.lockedAddresses, this.addresses, 'address']] as const) {
      for (const key of set) {
        const c = table.peek(key);
        if (c && c.lockedUntil > now) continue;
        set.delete(key);
        this.logger.info(`auth protection: ${kind} lockout ended`, { [kind]: key, ...(c ? {} : { note: 'cleared or dropped' }) });
      }
    }
  }

  /** Admin: forget a user's or an address's failures and lock. True when there was something to clear. */
  clear(kind: 'user' | 'address', key: string): boolean {
    const table = kind === 'user' ? this.users : this.addresses;
    const had = table.delete(key);
    const set = kind === 'user' ? this.lockedUsers : this.lockedAddresses;
    if (set.delete(key)) this.logger.warn(`auth protection: ${kind} lockout cleared by an admin`, { [kind]: key });
    this.events?.clear(kind, key);
    return had;
  }

  locks(): { users: LockView[]; addresses: LockView[] } {
    const now = this.now();
    const view = (set: Set<string>, table: BoundedTable<Counter>): LockView[] =>
      [...set].flatMap((key) => {
        const c = table.peek(key);
        if (!c || c.lockedUntil <= now) return [];
        return [{
          key,
          since: new Date(c.lockedSince).toISOString(),
          until: new Date(c.lockedUntil).toISOString(),
          failures: c.failures,
          ...(c.users ? { distinctUsers: c.users.size } : {}),
        }];
      });
    return { users: view(this.lockedUsers, this.users), addresses: view(this.lockedAddresses, this.addresses) };
  }
}
