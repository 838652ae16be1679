// A worker's auth-protection mirror wired to a primary's store directly (the IPC in between is covered by
// test/integration/auth-protection-workers.test.ts): outcomes go to the primary, which counts them; its locks,
// clears and familiar addresses reach the mirror; a worker reports a success once per half familiar period.
import { describe, expect, test } from 'vitest';
import { memoryLogger } from '../../src/logging/logger.js';
import { AuthProtection } from '../../src/proxy/auth-protection/protection.js';
import { AUTH_PROTECTION_DEFAULTS } from '../../src/config/schema.js';

const CONFIG = { ...AUTH_PROTECTION_DEFAULTS, enabled: true, userFailures: 3, familiar: 3_600_000 };

function pair() {
  const primary = new AuthProtection(CONFIG, memoryLogger());
  const workers = [new AuthProtection(CONFIG, memoryLogger()), new AuthProtection(CONFIG, memoryLogger())];
  const reported: string[] = [];
  primary.store.events = {
    lock: (lock) => workers.forEach((w) => w.store.mirrorLock(lock)),
    clear: (kind, key) => workers.forEach((w) => w.store.clear(kind, key)),
    familiar: (user, address, until) => workers.forEach((w) => w.store.mirrorFamiliar(user, address, until)),
  };
  for (const w of workers) {
    w.attach(
      {
        outcome: (o, user, address) => {
          reported.push(`${o} ${user} ${address}`);
          if (o === 'failure') primary.failure(user, address);
          else primary.success(user, address);
        },
        totals: (d) => primary.addTotals(d),
      },
      primary.store.share(),
    );
  }
  return { primary, workers, reported, close: () => [primary, ...workers].forEach((p) => p.close()) };
}

describe('auth protection across workers', () => {
  test('failures on two workers add up in the primary; the lock reaches both; a clear lifts it on both', () => {
    const { primary, workers: [a, b], close } = pair();
    a!.failure('alice', '198.51.100.1');
    b!.failure('alice', '198.51.100.2');
    expect(a!.store.admit('alice', '198.51.100.3')).toBeUndefined();
    a!.failure('alice', '198.51.100.1');
    expect(primary.store.locks().users.map((l) => l.key)).toEqual(['alice']);
    expect(a!.store.admit('alice', '198.51.100.3')).toMatchObject({ reason: 'user' });
    expect(b!.store.admit('alice', '198.51.100.3')).toMatchObject({ reason: 'user' });
    primary.store.clear('user', 'alice');
    expect(a!.store.admit('alice', '198.51.100.3')).toBeUndefined();
    expect(b!.store.admit('alice', '198.51.100.3')).toBeUndefined();
    close();
  });

  test('a success is reported once per user and address (not once per request); the familiar address passes a lock on every worker', () => {
    const { primary, workers: [a, b], reported, close } = pair();
    for (let i = 0; i < 50; i++) a!.success('carol', '10.0.0.5');
    for (let i = 0; i < 50; i++) b!.success('carol', '10.0.0.5');
    expect(reported).toEqual(['success carol 10.0.0.5']);
    for (let i = 0; i < 3; i++) a!.failure('carol', '203.0.113.9');
    expect(b!.store.admit('carol', '203.0.113.9')).toMatchObject({ reason: 'user' });
    expect(b!.store.admit('carol', '10.0.0.5')).toBeUndefined();
    // The successes not reported one by one reach the primary's totals with the next flush.
    a!.sendTotals();
    b!.sendTotals();
    expect(primary.store.totals).toMatchObject({ successes: 100, failures: 3, refusedUser: 1, lockouts: 1 });
    close();
  });

  test('a new worker starts with the locks and familiar addresses in effect', () => {
    const { primary, close } = pair();
    primary.success('dave', '10.0.0.7');
    for (let i = 0; i < 3; i++) primary.failure('dave', '203.0.113.1');
    const fresh = new AuthProtection(CONFIG, memoryLogger());
    fresh.attach({ outcome: () => undefined, totals: () => undefined }, primary.store.share());
    expect(fresh.store.admit('dave', '203.0.113.2')).toMatchObject({ reason: 'user' });
    expect(fresh.store.admit('dave', '10.0.0.7')).toBeUndefined();
    fresh.close();
    close();
  });
});
