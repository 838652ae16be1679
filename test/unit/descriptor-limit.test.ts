// casgate run warns at start when the descriptor limit cannot hold 20,000 long-lived requests (2 descriptors each).
import { describe, expect, it } from 'vitest';
import { connectionCeilings, descriptorLimit, descriptorLimitWarning, longLivedCapacity } from '../../src/frontend/descriptor-limit.js';

const limits = (soft: string, hard: string): string =>
  `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                ${hard}                files\n`;

describe('descriptor limit', () => {
  it('reads the soft limit from /proc/self/limits', () => {
    expect(descriptorLimit(() => limits('20000', '20000'))).toBe(20_000);
    expect(descriptorLimit(() => limits('unlimited', 'unlimited'))).toBe(Infinity);
    expect(descriptorLimit(() => 'nothing')).toBeUndefined();
    expect(descriptorLimit(() => { throw new Error('no /proc'); })).toBeUndefined();
    expect(descriptorLimit()).toBeGreaterThan(0); // this machine
  });

  it('counts 2 descriptors per long-lived request after a reserve', () => {
    expect(longLivedCapacity(20_000)).toBe(9_500);
    expect(longLivedCapacity(41_000)).toBe(20_000);
    expect(longLivedCapacity(500)).toBe(0);
  });

  it('warns below 20,000 long-lived requests, with the limit to set', () => {
    expect(descriptorLimitWarning(20_000)).toMatch(/descriptor limit 20000 holds about 9500 long-lived requests.*LimitNOFILE=41000/);
    expect(descriptorLimitWarning(41_000)).toBeUndefined();
    expect(descriptorLimitWarning(1_048_576)).toBeUndefined();
    expect(descriptorLimitWarning(undefined)).toBeUndefined();
  });

  it('sheds client connections at the long-lived capacity and refuses them half a reserve later', () => {
    expect(connectionCeilings(65_536)).toEqual({ shedAt: longLivedCapacity(65_536), refuseAt: 32_768 });
    // Small limits keep a quarter in reserve (at least 32): 256 → 64 kept, 96 served, 32 more shed.
    expect(connectionCeilings(256)).toEqual({ shedAt: 96, refuseAt: 128 });
    expect(connectionCeilings(undefined)).toBeUndefined();
    expect(connectionCeilings(Infinity)).toBeUndefined();
  });
});
