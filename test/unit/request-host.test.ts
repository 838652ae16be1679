// Strict Host: one line, a DNS name, IPv4 or [IPv6], an optional port 1-65535.
import { describe, expect, test } from 'vitest';
import { parseHost, requestHost } from '../../src/router/request-host.js';

describe('parseHost', () => {
  test.each([
    ['mail.contoso.com', 'mail.contoso.com'],
    ['MAIL.Contoso.com:443', 'mail.contoso.com'],
    ['mail.contoso.com.', 'mail.contoso.com'],
    ['cas_01', 'cas_01'],
    ['192.0.2.1:8443', '192.0.2.1'],
    ['[2001:db8::1]', '[2001:db8::1]'],
    ['[2001:DB8::1]:443', '[2001:db8::1]'],
    [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
  ])('%j is valid, named %j', (value, name) => {
    expect(parseHost(value)).toEqual({ ok: true, host: value, name });
  });

  test.each([
    '', '.', ':443', 'a b', 'a/b', 'a\\b', 'a@b', 'a,b', 'a;b', 'a?b', 'a#b', 'a%2eb', 'a..b', '.a', 'a:', 'a:0', 'a:65536', 'a:1:2',
    'a:-1', 'a:+80', 'a:0x50', 'a:443 ', 'ä.com', 'a\x00', '[::1', '[::1]a', '[1.2.3]', '[::1]:', `${'a'.repeat(64)}.com`, 'a'.repeat(262),
  ])('%j is refused', (value) => {
    expect(parseHost(value).ok).toBe(false);
  });
});

describe('requestHost', () => {
  test('one Host line; two are refused whatever their values', () => {
    expect(requestHost(['Host', 'a.b', 'Accept', '*/*'], '1.1', false)).toEqual({ ok: true, host: 'a.b', name: 'a.b' });
    expect(requestHost(['host', 'a.b', 'HOST', 'a.b'], '1.1', false)).toMatchObject({ ok: false, reason: 'more than one Host' });
  });

  test('HTTP/1.1 needs a Host; HTTP/1.0 may do without', () => {
    expect(requestHost(['Accept', '*/*'], '1.1', false).ok).toBe(false);
    expect(requestHost(['Accept', '*/*'], '1.0', false)).toEqual({ ok: true });
  });

  test('X-Forwarded-Host is validated from trusted peers only, every element', () => {
    const raw = ['Host', 'a.b', 'X-Forwarded-Host', 'ok.example, bad example'];
    expect(requestHost(raw, '1.1', false).ok).toBe(true);
    expect(requestHost(raw, '1.1', true)).toMatchObject({ ok: false, reason: 'X-Forwarded-Host: invalid character in Host' });
    expect(requestHost(['Host', 'a.b', 'x-forwarded-host', 'ok.example, edge.example:8443'], '1.1', true).ok).toBe(true);
  });
});
