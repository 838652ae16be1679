import { describe, expect, test } from 'vitest';
import { clientResponseHeaders, upstreamRequestHeaders, type ForwardContext } from '../../src/proxy/headers.js';

const ctx: ForwardContext = { clientIp: '198.51.100.7', trustForwarded: false, listenerPort: 443, fallbackHost: 'cas1' };

function asObject(flat: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < flat.length; i += 2) (out[flat[i]!.toLowerCase()] ??= []).push(flat[i + 1]!);
  return out;
}

describe('upstreamRequestHeaders', () => {
  test('strips hop-by-hop fields, Connection tokens and Expect; keeps Host; sets X-Forwarded-*', () => {
    const out = asObject(
      upstreamRequestHeaders(
        ['Host', 'mail.contoso.com', 'Connection', 'keep-alive, X-Hop', 'X-Hop', '1', 'Keep-Alive', '5', 'Transfer-Encoding', 'chunked',
          'Expect', '100-continue', 'Upgrade', 'h2c', 'TE', 'trailers', 'Proxy-Authorization', 'x', 'Cookie', 'a=1', 'Cookie', 'b=2'],
        ctx,
      ),
    );
    expect(Object.keys(out).sort()).toEqual(['cookie', 'host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-proto']);
    expect(out.host).toEqual(['mail.contoso.com']);
    expect(out.cookie).toEqual(['a=1', 'b=2']);
    expect(out['x-forwarded-for']).toEqual(['198.51.100.7']);
    expect(out['x-forwarded-proto']).toEqual(['https']);
    expect(out['x-forwarded-host']).toEqual(['mail.contoso.com']);
    expect(out['x-forwarded-port']).toEqual(['443']);
  });

  test('incoming X-Forwarded-* are dropped from untrusted peers and appended to from trusted ones', () => {
    const raw = ['Host', 'h', 'X-Forwarded-For', '10.1.1.1', 'X-Forwarded-For', '10.2.2.2', 'X-Forwarded-Proto', 'http'];
    expect(asObject(upstreamRequestHeaders(raw, ctx))['x-forwarded-for']).toEqual(['198.51.100.7']);
    const trusted = asObject(upstreamRequestHeaders(raw, { ...ctx, trustForwarded: true }));
    expect(trusted['x-forwarded-for']).toEqual(['10.1.1.1, 10.2.2.2, 198.51.100.7']);
    expect(trusted['x-forwarded-proto']).toEqual(['https']);
  });

  test('HTTP/1.0 without Host gets the backend host', () => {
    expect(asObject(upstreamRequestHeaders([], ctx)).host).toEqual(['cas1']);
  });

  test('the validated Host (an absolute-form authority) replaces the Host line, and is X-Forwarded-Host', () => {
    const out = asObject(upstreamRequestHeaders(['Host', 'other.example', 'X-Forwarded-Host', 'evil.example'], { ...ctx, host: 'mail.contoso.com' }));
    expect(out.host).toEqual(['mail.contoso.com']);
    expect(out['x-forwarded-host']).toEqual(['mail.contoso.com']);
    expect(asObject(upstreamRequestHeaders([], { ...ctx, host: 'mail.contoso.com' })).host).toEqual(['mail.contoso.com']);
  });

  test('the input array is not modified', () => {
    const raw = ['Host', 'h', 'Connection', 'close'];
    upstreamRequestHeaders(raw, ctx);
    expect(raw).toEqual(['Host', 'h', 'Connection', 'close']);
  });
});

describe('clientResponseHeaders', () => {
  test('keeps repeated WWW-Authenticate and Set-Cookie lines apart, drops hop-by-hop', () => {
    const raw = ['WWW-Authenticate', 'Negotiate', 'WWW-Authenticate', 'NTLM', 'Set-Cookie', 'MapiContext=1', 'Set-Cookie', 'MapiSequence=2',
      'Connection', 'close, X-Internal', 'X-Internal', 'secret', 'Transfer-Encoding', 'chunked', 'Keep-Alive', 'timeout=5'].map((s) => Buffer.from(s));
    expect(clientResponseHeaders(raw)).toEqual(['WWW-Authenticate', 'Negotiate', 'WWW-Authenticate', 'NTLM', 'Set-Cookie', 'MapiContext=1', 'Set-Cookie', 'MapiSequence=2']);
  });
});
