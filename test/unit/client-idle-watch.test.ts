// The route's idle limit on client connections during a request (src/proxy/client-idle-watch.ts): a connection is
// cut only after a full limit without a byte read or written, never while it moves, and never once unwatched.
import type { Socket } from 'node:net';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { ClientIdleWatch } from '../../src/proxy/client-idle-watch.js';

function fakeSocket() {
  const s = { bytesRead: 0, bytesWritten: 0, destroyed: false, destroy: () => void (s.destroyed = true) };
  return s;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(0);
});
afterEach(() => {
  vi.useRealTimers();
});

test('a silent connection is cut after the limit, a moving one is not; a cut comes at most a quarter and a sweep late', () => {
  const watch = new ClientIdleWatch(1_000);
  const silent = fakeSocket();
  const moving = fakeSocket();
  watch.watch(silent as unknown as Socket, 60_000);
  watch.watch(moving as unknown as Socket, 60_000);
  const cutAt = (s: { destroyed: boolean }, until: number): number => {
    while (Date.now() < until) {
      vi.advanceTimersByTime(1_000);
      if (s.destroyed) return Date.now();
    }
    return Infinity;
  };
  for (let t = 0; t < 59_000; t += 1_000) {
    moving.bytesWritten += 100;
    vi.advanceTimersByTime(1_000);
  }
  expect(silent.destroyed).toBe(false); // 59 s of silence: not yet
  const silentCut = cutAt(silent, 200_000);
  expect(silentCut).toBeGreaterThanOrEqual(60_000);
  expect(silentCut).toBeLessThanOrEqual(62_000); // watched from the first sweep on, and checked at the limit exactly
  // The moving one went quiet after its last write at 59 s.
  expect(moving.destroyed).toBe(false);
  const movingCut = cutAt(moving, 300_000);
  expect(movingCut).toBeGreaterThanOrEqual(59_000 + 60_000);
  expect(movingCut).toBeLessThanOrEqual(59_000 + 60_000 + 15_000 + 1_000);
});

test('reads count as much as writes; an unwatched request and a limit of 0 are never cut', () => {
  const watch = new ClientIdleWatch(1_000);
  const reading = fakeSocket();
  const done = fakeSocket();
  const unlimited = fakeSocket();
  watch.watch(reading as unknown as Socket, 5_000);
  const w = watch.watch(done as unknown as Socket, 5_000)!;
  expect(watch.watch(unlimited as unknown as Socket, 0)).toBeUndefined();
  watch.unwatch(w);
  for (let i = 0; i < 30; i++) {
    reading.bytesRead += 1;
    vi.advanceTimersByTime(1_000);
  }
  expect([reading.destroyed, done.destroyed, unlimited.destroyed]).toEqual([false, false, false]);
  vi.advanceTimersByTime(5_000);
  expect(reading.destroyed).toBe(false); // read from last at 30 s
  vi.advanceTimersByTime(3_000);
  expect(reading.destroyed).toBe(true);
});
