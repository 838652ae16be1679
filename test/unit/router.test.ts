import { describe, expect, test } from 'vitest';
import type { Route } from '../../src/config/route.js';
import { matchPathOf } from '../../src/config/route.js';
import { hostMatches, lowerPath, pathMatches, Router } from '../../src/router/router.js';

function route(name: string, path: string, hosts?: string[]): Route {
  return { name, path, matchPath: matchPathOf(path), pool: name, hosts, firstByteTimeoutMs: 0, idleTimeoutMs: 0 };
}

describe('path matching (IIS rules: case-insensitive, whole segments)', () => {
  test.each([
    ['/owa', '/owa', true],
    ['/owa', '/owa/', true],
    ['/owa', '/owa/auth/logon.aspx', true],
    ['/owa', '/owafoo', false],
    ['/owa', '/ow', false],
    ['/ews/mrsproxy.svc', '/ews/mrsproxy.svc', true],
    ['/ews/mrsproxy.svc', '/ews/mrsproxy.svcx', false],
    ['', '/anything', true],
  ])('prefix %s vs %s → %s', (prefix, path, expected) => {
    expect(pathMatches(prefix, path)).toBe(expected);
  });

  test.each([
    ['/OWA/?a=B', '/owa/'],
    ['/EWS/Exchange.asmx#frag', '/ews/exchange.asmx'],
    ['http://mail.contoso.com/Mapi/emsmdb?x', '/mapi/emsmdb'],
    ['http://mail.contoso.com', '/'],
  ])('lowerPath(%s) = %s', (url, expected) => {
    expect(lowerPath(url)).toBe(expected);
  });
});

describe('host matching', () => {
  test.each([
    ['meet.contoso.com', 'meet.contoso.com', true],
    ['*.contoso.com', 'meet.contoso.com', true],
    ['*.contoso.com', 'a.b.contoso.com', false],
    ['*.contoso.com', 'contoso.com', false],
    ['meet.contoso.com', 'dialin.contoso.com', false],
  ])('%s covers %s → %s', (pattern, host, expected) => {
    expect(hostMatches(pattern, host)).toBe(expected);
  });
});

describe('Router', () => {
  const router = new Router([
    route('ews', '/EWS'),
    route('mrsproxy', '/EWS/mrsproxy.svc'),
    route('owa', '/owa'),
    route('lync', '/', ['meet.contoso.com', 'dialin.contoso.com']),
    route('lync-web', '/', ['*.lync.contoso.com']),
  ]);

  test.each([
    ['mail.contoso.com', '/EWS/Exchange.asmx', 'ews'],
    ['mail.contoso.com', '/ews/MRSProxy.svc', 'mrsproxy'],
    ['mail.contoso.com', '/EWS/mrsproxy.svc/extra', 'mrsproxy'],
    ['mail.contoso.com', '/OWA', 'owa'],
    ['MEET.contoso.com:443', '/contoso/alice', 'lync'],
    ['meet.contoso.com', '/owa/', 'lync'],
    ['web.lync.contoso.com', '/x', 'lync-web'],
    ['mail.contoso.com', '/owafoo', undefined],
    [undefined, '/owa/', 'owa'],
  ])('%s %s → %s', (host, url, expected) => {
    expect(router.match(host, url)?.name).toBe(expected);
  });
});
