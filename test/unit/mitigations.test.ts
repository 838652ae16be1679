// The mitigation rules' config keys and the canonical form they match on (the request tables are in
// test/integration/exchange-mitigations.test.ts, on real sockets).
import { describe, expect, test } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { canonicalForMatching } from '../../src/proxy/mitigations.js';

const BASE = `
listen:
  https: { port: 8443 }
certificates:
  - { cert: c.pem, key: k.pem }
pools:
  cas:
    servers: [{ name: cas1, host: 10.0.0.11 }]
exchange:
  pool: cas
`;

describe('exchange.mitigations config', () => {
  test('every rule is on by default; one is turned off by name', () => {
    expect(parseConfig(BASE, '/etc/casgate/c.yaml', {}).exchange!.mitigations).toEqual({
      proxylogon: true, proxyshell: true, 'proxyshell-email': true, proxynotshell: true, owassrf: true, proxyoracle: true,
    });
    const off = parseConfig(`${BASE}  mitigations: { owassrf: false }\n`, '/etc/casgate/c.yaml', {});
    expect(off.exchange!.mitigations).toMatchObject({ owassrf: false, proxynotshell: true });
  });

  test('an unknown rule name is refused with its line and key path', () => {
    try {
      parseConfig(`${BASE}  mitigations: { proxynotshel: false }\n`, '/etc/casgate/c.yaml', {});
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.join('\n')).toMatch(/c\.yaml:\d+: exchange\.mitigations.*proxynotshel/);
    }
  });
});

describe('canonicalForMatching', () => {
  test.each([
    ['/OWA/%2e%2e/ECP/', '/ecp/', ''],
    ['/owa/.%2e/ecp/x', '/ecp/x', ''],
    ['//a\\\\b/./c', '/a/b/c', ''],
    ['/a/%252e%252e/b', '/b', ''],
    ['/x%u002fy?Email=A%2540B+c', '/x/y', 'email=a@b c'],
    ['/../../etc', '/etc', ''],
    ['http://evil.example/owa/X?Y', '/owa/x', 'y'],
  ])('%s → path %s, query %s', (url, path, query) => {
    const c = canonicalForMatching(url);
    expect(c.path).toBe(path);
    expect(c.query).toBe(query);
  });
});
