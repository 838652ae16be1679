// The allocation-free header classification (src/proxy/headers.ts) must give exactly what the first version gave,
// which lower-cased every name: kept here as headers-reference.ts and compared on generated header lists.
import { describe, expect, test } from 'vitest';
import { clientResponseHeaders, equalsLower, rawHeader, upstreamRequestHeaders } from '../../src/proxy/headers.js';
import { oldClient, oldRawHeader, oldUpstream } from '../helpers/headers-reference.js';

const NAMES = [
  'Host', 'HOST', 'host', 'Connection', 'CONNECTION', 'Keep-Alive', 'TE', 'te', 'Trailer', 'Upgrade', 'Expect', 'Transfer-Encoding',
  'Proxy-Connection', 'Proxy-Authenticate', 'Proxy-Authorization', 'X-Forwarded-For', 'x-forwarded-FOR', 'X-Forwarded-Proto',
  'X-Forwarded-Host', 'X-Forwarded-Port', 'X-Foo', 'x-foo', 'Cookie', 'Authorization', 'Content-Length', 'User-Agent', 'X-Fo',
  'Hast', 'Tf', 'Connectiom', 'X-Forwarded-Fox', 'Proxy-Connectiom', 'Set-Cookie', 'WWW-Authenticate', 'Keep_Alive',
];
const CONNECTION_VALUES = ['close', 'keep-alive', 'Keep-Alive, X-Foo', 'x-foo,  cookie ,', 'Host', 'X-Forwarded-For', 'upgrade', '', ' , '];

function rng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
}

function randomHeaders(r: () => number): string[] {
  const out: string[] = [];
  const n = Math.floor(r() * 10);
  for (let i = 0; i < n; i++) {
    const name = NAMES[Math.floor(r() * NAMES.length)]!;
    const value = /^connection$/i.test(name) ? CONNECTION_VALUES[Math.floor(r() * CONNECTION_VALUES.length)]! : `v${i}`;
    out.push(name, value);
  }
  return out;
}

describe('header rewrite gives what the lower-casing version gave', () => {
  test('equalsLower', () => {
    expect(equalsLower('Content-Length', 'content-length')).toBe(true);
    expect(equalsLower('CONTENT-LENGTH', 'content-length')).toBe(true);
    expect(equalsLower('Content_Length', 'content-length')).toBe(false);
    expect(equalsLower('Host', 'hosts')).toBe(false);
    expect(equalsLower('@', '`')).toBe(false);
  });

  test('5,000 generated requests and responses', () => {
    const r = rng(42);
    for (let k = 0; k < 5_000; k++) {
      const raw = randomHeaders(r);
      const ctx = { clientIp: '192.0.2.1', trustForwarded: r() < 0.5, listenerPort: 443, fallbackHost: 'cas1' };
      expect(upstreamRequestHeaders(raw, ctx), JSON.stringify(raw)).toEqual(oldUpstream(raw, ctx));
      const buffers = raw.map((s) => Buffer.from(s, 'latin1'));
      expect(clientResponseHeaders(buffers), JSON.stringify(raw)).toEqual(oldClient(buffers));
      for (const name of ['host', 'connection', 'x-foo']) expect(rawHeader(raw, name)).toEqual(oldRawHeader(raw, name));
    }
  });
});
