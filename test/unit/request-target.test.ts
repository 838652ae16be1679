// The canonical request target: what casgate routes and checks ACLs on is exactly what the CAS receives.
import { describe, expect, test } from 'vitest';
import { canonicalTarget } from '../../src/router/request-target.js';

const ACCEPTED: Array<[sent: string, path: string, query?: string]> = [
  // Common case: untouched.
  ['/owa/', '/owa/'],
  ['/', '/'],
  ['/EWS/Exchange.asmx', '/EWS/Exchange.asmx'],
  ['/owa/auth/15.2.1118/themes/resources/favicon.ico', '/owa/auth/15.2.1118/themes/resources/favicon.ico'],
  ['/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice%40contoso.com&DeviceId=ABC&DeviceType=iPhone', '/Microsoft-Server-ActiveSync', '?Cmd=Ping&User=alice%40contoso.com&DeviceId=ABC&DeviceType=iPhone'],
  ['/owa/?ae=Item&t=IPM.Note&id=a@b.c', '/owa/', '?ae=Item&t=IPM.Note&id=a@b.c'],
  ['/owa/?x=/../ecp/', '/owa/', '?x=/../ecp/'],
  ['/mapi/emsmdb/?MailboxId=1b2c@contoso.com', '/mapi/emsmdb/', '?MailboxId=1b2c@contoso.com'],
  ['/rpc/rpcproxy.dll?EXCH01.contoso.lab:6001', '/rpc/rpcproxy.dll', '?EXCH01.contoso.lab:6001'],
  ['/owa/?', '/owa/', '?'],
  ['/a.b/c.d', '/a.b/c.d'],
  ['/.well-known/x', '/.well-known/x'],
  // Unreserved characters decoded, other escapes kept with upper-case hex.
  ['/%6Fwa/', '/owa/'],
  ['/owa/%7euser', '/owa/~user'],
  ['/owa/a%20b', '/owa/a%20b'],
  ['/owa/a%3ab', '/owa/a%3Ab'],
  ['/owa/%c3%a9t%C3%A9', '/owa/%C3%A9t%C3%A9'],
  ['/owa/%25', '/owa/%25'],
  ['/owa/%252e%252e/', '/owa/%252e%252e/'],
  // Dot segments and empty segments.
  ['/owa/../ecp/', '/ecp/'],
  ['/owa/./ecp', '/owa/ecp'],
  ['/owa/.', '/owa/'],
  ['/owa/x/..', '/owa/'],
  ['/owa/%2e%2e/ecp/', '/ecp/'],
  ['/owa/.%2e/ecp/', '/ecp/'],
  ['/owa/%2E./ecp/', '/ecp/'],
  ['/OWA/%2e/ECP/', '/OWA/ECP/'],
  ['//ecp/', '/ecp/'],
  ['/owa//../ecp/', '/ecp/'],
  ['/owa///', '/owa/'],
];

const REFUSED: Array<[sent: string, reason: RegExp]> = [
  ['/owa/%2E%2E%2Fecp/', /encoded slash/],
  ['/owa/..%2fecp/', /encoded slash/],
  ['/owa/..\\ecp\\', /backslash/],
  ['/owa/..%5cecp/', /encoded backslash/],
  ['/owa/..%5Cecp/', /encoded backslash/],
  ['/EWS/..;/ecp/', /;/],
  ['/EWS/..%3b/ecp/', /;/],
  ['/owa/x;jsessionid=1', /;/],
  ['/..', /above the root/],
  ['/../ecp/', /above the root/],
  ['/owa/../../ecp/', /above the root/],
  ['/%2e%2e/ecp/', /above the root/],
  ['/..%2e', /dot or a space/],
  ['/owa/%zz', /malformed percent/],
  ['/owa/%2', /malformed percent/],
  ['/owa/%', /malformed percent/],
  ['/owa/%u002e%u002e/ecp/', /malformed percent/],
  ['/owa/%00', /control/],
  ['/owa/%0d%0a', /control/],
  ['/owa/%7f', /control/],
  ['/owa/a b', /control/],
  ['/owa/\x01', /control/],
  ['/owa/\xe9', /non-ASCII/],
  ['/owa/?a=\x00', /query/],
  ['/owa/?a=\xe9', /query/],
  ['/owa/#frag', /fragment/],
  ['/owa/?x#frag', /fragment/],
  ['/owa/%c0%ae%c0%ae/ecp/', /UTF-8/],
  ['/owa/%e0%80%ae/', /UTF-8/],
  ['/owa/%ff', /UTF-8/],
  ['/owa/%ef%bc%8e%ef%bc%8e/ecp/', /look-alike/],
  ['/owa/..%ef%bc%8fecp/', /look-alike/],
  ['/owa/..%EF%BC%BCecp/', /look-alike/],
  ['/owa/..%e2%88%95ecp/', /look-alike/],
  ['/ecp./', /dot or a space/],
  ['/owa/.../ecp/', /dot or a space/],
  ['/ecp%20/', /dot or a space/],
  ['/ecp%2e/', /dot or a space/],
  ['*', /asterisk/],
  ['owa/', /not an absolute path/],
  ['', /not an absolute path/],
  ['mail.contoso.lab:443', /not an absolute path/],
  ['http:///owa/', /without a host/],
  ['http://user@evil.example/owa/', /user information/],
  ['http://mail.contoso.lab#x', /fragment/],
  ['http://mail.contoso.lab?a#x', /fragment/],
];

describe('canonicalTarget', () => {
  test.each(ACCEPTED)('%j is %j', (sent, path, query = '') => {
    expect(canonicalTarget(sent)).toEqual({ ok: true, path, query });
  });

  test.each(REFUSED)('%j is refused', (sent, reason) => {
    const result = canonicalTarget(sent);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  test('the common case returns the target itself, not a copy', () => {
    const sent = ['/owa/', 'service.svc'].join('');
    const result = canonicalTarget(sent);
    expect(result.ok && result.path).toBe(sent);
  });

  test('canonical output is a fixed point: normalising it again changes nothing', () => {
    for (const [sent] of ACCEPTED) {
      const first = canonicalTarget(sent);
      if (!first.ok) throw new Error(sent);
      expect(canonicalTarget(first.path + first.query)).toEqual(first);
    }
  });

  test('absolute-form: the authority is returned, the path canonicalised, the query kept', () => {
    expect(canonicalTarget('http://evil.example/owa/x')).toEqual({ ok: true, path: '/owa/x', query: '', authority: 'evil.example' });
    expect(canonicalTarget('HTTPS://mail.contoso.lab:443/owa/../ecp/?a=1')).toEqual({
      ok: true,
      path: '/ecp/',
      query: '?a=1',
      authority: 'mail.contoso.lab:443',
    });
    expect(canonicalTarget('http://mail.contoso.lab')).toEqual({ ok: true, path: '/', query: '', authority: 'mail.contoso.lab' });
    expect(canonicalTarget('http://mail.contoso.lab?x')).toEqual({ ok: true, path: '/', query: '?x', authority: 'mail.contoso.lab' });
    expect(canonicalTarget('http://mail.contoso.lab/owa/%2e%2e%2fecp').ok).toBe(false);
    expect(canonicalTarget('ftp://mail.contoso.lab/owa/').ok).toBe(false);
  });
});
