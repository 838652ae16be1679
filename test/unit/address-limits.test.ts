// Per-address limits: open connections and new connections per second, one log per address per minute.
import { describe, expect, it } from 'vitest';
import { AddressLimits, type AddressLimitKind } from '../../src/frontend/address-limits.js';

function limits(maxConnections: number, maxNewPerSecond: number) {
  const refused = { connections: 0, rate: 0 };
  const reports: Array<[string, AddressLimitKind]> = [];
  const l = new AddressLimits({ maxConnections, maxNewPerSecond }, refused, (a, k) => reports.push([a, k]));
  return { l, refused, reports };
}

describe('AddressLimits', () => {
  it('is off with both limits at 0', () => {
    expect(limits(0, 0).l.enabled).toBe(false);
  });

  it('admits up to maxConnections open per address, others unaffected, again after a release', () => {
    const { l, refused } = limits(2, 0);
    expect([l.admit('a', 0), l.admit('a', 0), l.admit('a', 0), l.admit('b', 0)]).toEqual([true, true, false, true]);
    l.release('a');
    expect(l.admit('a', 0)).toBe(true);
    expect(refused).toEqual({ connections: 1, rate: 0 });
  });

  it('admits maxNewPerSecond new connections per address per second', () => {
    const { l, refused } = limits(0, 3);
    const first = [1, 2, 3, 4].map(() => l.admit('a', 10_100));
    expect(first).toEqual([true, true, true, false]);
    expect(l.admit('a', 11_000)).toBe(true);
    expect(refused.rate).toBe(1);
  });

  it('reports an address once a minute however often it is refused', () => {
    const { l, reports } = limits(1, 0);
    l.admit('a', 0);
    for (let i = 0; i < 5; i++) l.admit('a', 1_000);
    expect(reports).toEqual([['a', 'connections']]);
    l.sweep(61_000);
    l.admit('a', 61_000);
    expect(reports).toHaveLength(2);
  });
});
