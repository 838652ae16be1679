// The client behind trusted proxies: X-Forwarded-For walked from the right, believed only as far as trusted hops vouch.
import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { addressIn } from '../../src/proxy/address-check.js';
import { entryAddress, forwardedClient } from '../../src/proxy/forwarded-client.js';

const trusted = new BlockList();
trusted.addSubnet('10.0.0.0', 8, 'ipv4');
trusted.addSubnet('fd00::', 8, 'ipv6');
const isTrusted = (ip: string) => addressIn(trusted, ip);

describe('forwardedClient', () => {
  it('is the TCP peer at the edge, whatever the request says', () => {
    expect(forwardedClient('203.0.113.9', '198.51.100.1', isTrusted)).toBe('203.0.113.9');
    expect(forwardedClient('203.0.113.9', undefined, isTrusted)).toBe('203.0.113.9');
  });

  it('is the address a trusted load balancer appended', () => {
    expect(forwardedClient('10.0.0.5', '203.0.113.9', isTrusted)).toBe('203.0.113.9');
    expect(forwardedClient('10.0.0.5', '203.0.113.9:51234', isTrusted)).toBe('203.0.113.9');
  });

  it('never reaches what the client itself wrote to the left of what its proxy appended', () => {
    expect(forwardedClient('10.0.0.5', '198.51.100.66, 10.1.1.1, 203.0.113.9', isTrusted)).toBe('203.0.113.9');
    expect(forwardedClient('10.0.0.5', 'garbage, 203.0.113.9', isTrusted)).toBe('203.0.113.9');
  });

  it('walks through every trusted hop to the first untrusted address', () => {
    expect(forwardedClient('10.0.0.5', '198.51.100.7, 10.2.2.2, 10.1.1.1', isTrusted)).toBe('198.51.100.7');
    expect(forwardedClient('10.0.0.5', '198.51.100.7,10.1.1.1', isTrusted)).toBe('198.51.100.7');
  });

  it('is the left-most address when every hop is trusted (an internal client behind internal proxies)', () => {
    expect(forwardedClient('10.0.0.5', '10.9.9.9, 10.1.1.1', isTrusted)).toBe('10.9.9.9');
  });

  it('stops at the trusted hop that reported something that is not an address', () => {
    expect(forwardedClient('10.0.0.5', 'unknown', isTrusted)).toBe('10.0.0.5');
    expect(forwardedClient('10.0.0.5', '198.51.100.7, unknown, 10.1.1.1', isTrusted)).toBe('10.1.1.1');
    expect(forwardedClient('10.0.0.5', '', isTrusted)).toBe('10.0.0.5');
    expect(forwardedClient('10.0.0.5', '203.0.113.9, ', isTrusted)).toBe('10.0.0.5');
  });

  it('takes IPv6 hops, bracketed or not, and unmaps IPv4-mapped ones', () => {
    expect(forwardedClient('fd00::1', '[2001:DB8::7]:443', isTrusted)).toBe('2001:db8::7');
    expect(forwardedClient('10.0.0.5', '2001:db8::7, fd00::2', isTrusted)).toBe('2001:db8::7');
    expect(forwardedClient('10.0.0.5', '::ffff:203.0.113.9', isTrusted)).toBe('203.0.113.9');
  });

  it('ignores a value longer than any real chain', () => {
    expect(forwardedClient('10.0.0.5', `${'10.1.1.1, '.repeat(500)}203.0.113.9`, isTrusted)).toBe('10.0.0.5');
  });
});

describe('entryAddress', () => {
  it('refuses what is not an address with at most a port', () => {
    for (const bad of ['', 'unknown', '_hidden', '203.0.113', '203.0.113.9:', '203.0.113.9:0', '203.0.113.9:65536', '203.0.113.9:80:80', '[2001:db8::7', '[2001:db8::7]x', '[203.0.113.9]', 'mail.contoso.com', '01.2.3.4']) {
      expect(entryAddress(bad), bad).toBeUndefined();
    }
  });
});
