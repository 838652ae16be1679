// The spray-protection store on its own: bounded tables under a spray of 1,000,000 user names, familiar addresses
// that a spray cannot push out, windows, and account keys.
import { describe, expect, test } from 'vitest';
import { memoryLogger } from '../../src/logging/logger.js';
import { accountKey } from '../../src/proxy/auth-protection/names.js';
import { AuthProtectionStore, type AuthProtectionSettings } from '../../src/proxy/auth-protection/store.js';

const SETTINGS: AuthProtectionSettings = {
  userFailures: 5, addressFailures: 1_000_000_000, addressUsers: 1_000_000_000, windowMs: 600_000, lockoutMs: 600_000, familiarMs: 3_600_000, maxEntries: 10_000,
};

describe('AuthProtectionStore', () => {
  test('a spray over 1,000,000 distinct user names from 65,536 addresses keeps every table at its cap, and the real user keeps her familiar address and her lock state', () => {
    let now = 0;
    const store = new AuthProtectionStore(SETTINGS, memoryLogger(), () => now);
    store.success('alice', '10.0.0.5');
    for (let i = 0; i < 5; i++) store.failure('bob', '198.51.100.1'); // bob is locked before the spray
    for (let i = 0; i < 1_000_000; i++) {
      if (i % 10 === 0) now++; // 100 s of spray in all: bob's 600 s lock still runs
      store.failure(`user${i}`, `203.0.${(i >> 8) & 255}.${i & 255}`);
    }
    expect(store.sizes.users).toBeLessThanOrEqual(SETTINGS.maxEntries);
    expect(store.sizes.addresses).toBeLessThanOrEqual(SETTINGS.maxEntries);
    expect(store.sizes.familiar).toBe(1);
    expect(store.dropped).toBeGreaterThan(1_000_000 - 2 * SETTINGS.maxEntries);
    // Locked entries are dropped last: bob is still refused from an unfamiliar address; alice is welcome at home.
    expect(store.admit('bob', '198.51.100.9')).toMatchObject({ reason: 'user' });
    expect(store.admit('alice', '10.0.0.5')).toBeUndefined();
  }, 30_000);

  test('a user is refused from unfamiliar addresses after N failures, never from a familiar one; the lock ends after `lockout`', () => {
    let now = 1_000;
    const logger = memoryLogger();
    const store = new AuthProtectionStore({ ...SETTINGS, userFailures: 3, lockoutMs: 5_000, windowMs: 10_000 }, logger, () => now);
    store.success('alice', '10.0.0.5');
    store.failure('alice', '10.0.0.5'); // her own typo at home does not count towards the user lock
    store.failure('alice', '192.0.2.1');
    store.failure('alice', '192.0.2.2');
    expect(store.admit('alice', '192.0.2.3')).toBeUndefined();
    store.failure('alice', '192.0.2.3');
    expect(store.admit('alice', '192.0.2.4')).toEqual({ reason: 'user', retryAfterMs: 5_000 });
    expect(store.admit('alice', '10.0.0.5')).toBeUndefined();
    now += 5_001;
    expect(store.admit('alice', '192.0.2.4')).toBeUndefined();
    store.sweep();
    expect(logger.lines.some((l) => l.includes('user lockout ended user=alice'))).toBe(true);
  });

  test('failures older than the window are forgotten', () => {
    let now = 0;
    const store = new AuthProtectionStore({ ...SETTINGS, userFailures: 3, windowMs: 10_000 }, memoryLogger(), () => now);
    store.failure('carol', '192.0.2.1');
    store.failure('carol', '192.0.2.1');
    now += 10_001;
    store.failure('carol', '192.0.2.1');
    store.failure('carol', '192.0.2.1');
    expect(store.admit('carol', '192.0.2.9')).toBeUndefined();
    store.failure('carol', '192.0.2.1');
    expect(store.admit('carol', '192.0.2.9')?.reason).toBe('user');
  });

  test('an address is refused after M failures or K distinct names', () => {
    const store = new AuthProtectionStore({ ...SETTINGS, addressFailures: 4, addressUsers: 2 }, memoryLogger());
    store.failure('a', '192.0.2.1');
    store.failure('b', '192.0.2.1');
    expect(store.admit(undefined, '192.0.2.1')).toBeUndefined();
    store.failure('c', '192.0.2.1');
    expect(store.admit('anyone', '192.0.2.1')?.reason).toBe('address');
    for (let i = 0; i < 4; i++) store.failure('same', '192.0.2.2');
    expect(store.admit(undefined, '192.0.2.2')?.reason).toBe('address');
  });
});

describe('accountKey', () => {
  test.each([
    ['alice', undefined, 'name', 'alice'],
    ['CONTOSO\\Alice', undefined, 'name', 'alice'],
    ['Alice@Contoso.lab', undefined, 'name', 'alice'],
    ['alice', 'CONTOSO', 'name', 'alice'],
    ['CONTOSO\\Alice', undefined, 'exact', 'contoso\\alice'],
    ['alice', 'CONTOSO', 'exact', 'contoso\\alice'],
    ['Alice@Contoso.lab', undefined, 'exact', 'alice@contoso.lab'],
  ] as const)('%s (domain %s, %s) → %s', (name, domain, mode, key) => expect(accountKey(name, domain, mode)).toBe(key));
});
