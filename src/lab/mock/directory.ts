// The mock CAS's user directory: names, passwords and an AD-style account lockout, so that a wrong password or an
// unknown user fails a logon as it does against Active Directory, and a password spray can lock accounts (the
// benchmark counts them). Loaded from config/lab-users.yaml unless a test passes its own.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parseDuration } from '../../config/duration.js';

export interface DirectoryConfig {
  /** NetBIOS domain (CONTOSO) and DNS domain (contoso.lab): the accepted name forms. */
  domain: string;
  dnsDomain: string;
  lockout: { threshold: number; durationMs: number; observationWindowMs: number };
  users: ReadonlyArray<{ name: string; password: string }>;
}

export const LAB_USERS_FILE = fileURLToPath(new URL('../../../config/lab-users.yaml', import.meta.url));

export function loadDirectoryFile(file: string = LAB_USERS_FILE): DirectoryConfig {
  const raw = parse(readFileSync(file, 'utf8')) as {
    domain?: unknown;
    dnsDomain?: unknown;
    lockout?: { threshold?: unknown; duration?: unknown; observationWindow?: unknown };
    users?: Array<{ name?: unknown; password?: unknown }>;
  };
  const text = (v: unknown, key: string): string => {
    if (typeof v !== 'string' || v === '') throw new Error(`${file}: ${key}: expected text`);
    return v;
  };
  const ms = (v: unknown, key: string, fallback: number): number => {
    if (v === undefined) return fallback;
    const n = v === 0 || v === '0' ? 0 : typeof v === 'string' ? parseDuration(v) : undefined;
    if (n === undefined) throw new Error(`${file}: ${key}: expected a duration like 30m`);
    return n;
  };
  const threshold = raw.lockout?.threshold ?? 10;
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0) throw new Error(`${file}: lockout.threshold: expected a whole number`);
  return {
    domain: text(raw.domain, 'domain'),
    dnsDomain: text(raw.dnsDomain, 'dnsDomain'),
    lockout: {
      threshold,
      durationMs: ms(raw.lockout?.duration, 'lockout.duration', 30 * 60_000),
      observationWindowMs: ms(raw.lockout?.observationWindow, 'lockout.observationWindow', 30 * 60_000),
    },
    users: (raw.users ?? []).map((u, i) => ({ name: text(u.name, `users[${i}].name`), password: text(u.password, `users[${i}].password`) })),
  };
}

interface Account {
  name: string;
  password: string;
  badPasswords: number;
  firstBadAt: number;
  lockedUntil: number;
  /** Total bad passwords since start (what reached "AD" for this account), and lockouts. */
  totalBad: number;
  lockouts: number;
}

export type LogonResult = { ok: true; account: string } | { ok: false; reason: 'unknown-user' | 'bad-password' | 'locked' };

export interface DirectoryStats {
  successes: number;
  failures: number;
  lockouts: number;
  /** Accounts locked now. */
  locked: string[];
  /** Bad passwords since start, per account that had any. */
  badPasswords: Record<string, number>;
  unknownUsers: number;
}

export class Directory {
  private readonly accounts = new Map<string, Account>();
  private successes = 0;
  private failures = 0;
  private unknownUsers = 0;

  constructor(readonly config: DirectoryConfig, private readonly now: () => number = Date.now) {
    for (const u of config.users) {
      this.accounts.set(u.name.toLowerCase(), { name: u.name, password: u.password, badPasswords: 0, firstBadAt: 0, lockedUntil: 0, totalBad: 0, lockouts: 0 });
    }
  }

  /** `alice`, `CONTOSO\alice`, `contoso.lab\alice`, `alice@contoso.lab`; `domain` is NTLM's separate domain field. */
  find(name: string, domain = ''): Account | undefined {
    let user = name;
    let dom = domain;
    const slash = user.indexOf('\\');
    if (slash !== -1) {
      dom = user.slice(0, slash);
      user = user.slice(slash + 1);
    }
    const at = user.lastIndexOf('@');
    if (at !== -1) {
      dom = user.slice(at + 1);
      user = user.slice(0, at);
    }
    const d = dom.toLowerCase();
    if (d !== '' && d !== this.config.domain.toLowerCase() && d !== this.config.dnsDomain.toLowerCase()) return undefined;
    return this.accounts.get(user.toLowerCase());
  }

  /**
   * One logon attempt: `check(password)` says whether the client proved this password (a plain comparison for
   * Basic and forms, an NTLMv2 recomputation for NTLM). Counts bad passwords and locks like AD.
   */
  logon(name: string, domain: string, check: (password: string) => boolean): LogonResult {
    const account = this.find(name, domain);
    if (!account) {
      this.failures++;
      this.unknownUsers++;
      return { ok: false, reason: 'unknown-user' };
    }
    const now = this.now();
    if (account.lockedUntil > now) {
      this.failures++;
      return { ok: false, reason: 'locked' };
    }
    if (check(account.password)) {
      account.badPasswords = 0;
      this.successes++;
      return { ok: true, account: account.name };
    }
    this.failures++;
    account.totalBad++;
    const { threshold, durationMs, observationWindowMs } = this.config.lockout;
    if (account.badPasswords === 0 || now - account.firstBadAt > observationWindowMs) {
      account.badPasswords = 0;
      account.firstBadAt = now;
    }
    account.badPasswords++;
    if (threshold > 0 && account.badPasswords >= threshold) {
      account.lockedUntil = now + durationMs;
      account.badPasswords = 0;
      account.lockouts++;
    }
    return { ok: false, reason: 'bad-password' };
  }

  /** `DOMAIN\name` as IIS reports the authenticated user. */
  qualified(account: string): string {
    return `${this.config.domain}\\${account}`;
  }

  stats(): DirectoryStats {
    const now = this.now();
    const badPasswords: Record<string, number> = {};
    const locked: string[] = [];
    let lockouts = 0;
    for (const a of this.accounts.values()) {
      if (a.totalBad > 0) badPasswords[a.name] = a.totalBad;
      if (a.lockedUntil > now) locked.push(a.name);
      lockouts += a.lockouts;
    }
    return { successes: this.successes, failures: this.failures, lockouts, locked, badPasswords, unknownUsers: this.unknownUsers };
  }

  /** Unlock every account and forget bad-password counts (control `directory-reset`, between bench rounds). */
  reset(): void {
    for (const a of this.accounts.values()) Object.assign(a, { badPasswords: 0, firstBadAt: 0, lockedUntil: 0, totalBad: 0, lockouts: 0 });
    this.successes = this.failures = this.unknownUsers = 0;
  }
}
