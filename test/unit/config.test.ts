import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { formatDuration, parseDuration } from '../../src/config/duration.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadAdminSettings, parseConfig } from '../../src/config/load.js';
import { buildPlan } from '../../src/config/plan.js';

const MINIMAL = `
listen:
  https: { port: 8443 }
certificates:
  - pfx: certs/mail.pfx
    password: \${PFX_PASSWORD}
pools:
  cas:
    servers:
      - { name: cas1, host: 10.0.0.11 }
      - { name: cas2, host: 10.0.0.12, port: 8080 }
exchange:
  pool: cas
  hostnames: [mail.contoso.com, AUTODISCOVER.contoso.com]
`;

function problems(text: string, env: NodeJS.ProcessEnv = { PFX_PASSWORD: 'x' }): string[] {
  try {
    parseConfig(text, '/etc/casgate/casgate.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the config to be refused');
}

describe('durations', () => {
  test.each([
    ['500ms', 500], ['5s', 5000], ['30m', 1_800_000], ['1h', 3_600_000], ['1h30m', 5_400_000], ['0', 0], ['1.5s', 1500],
  ])('%s = %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  test.each(['5', '5 seconds', 's', '-1s', ''])('%s is refused', (text) => expect(parseDuration(text)).toBeUndefined());
  test('format round-trips', () => expect(formatDuration(5_400_500)).toBe('1h30m500ms'));
});

describe('parseConfig', () => {
  test('fills defaults, substitutes ${ENV}, resolves paths against the config folder', () => {
    const config = parseConfig(MINIMAL, '/etc/casgate/casgate.yaml', { PFX_PASSWORD: 's3cret' });
    expect(config.certificates[0]).toEqual({ pfx: '/etc/casgate/certs/mail.pfx', password: 's3cret' });
    expect(config.pools.cas!.servers[0]).toMatchObject({ port: 80, httpsPort: 443, weight: 1, maxConnections: 0 });
    expect(config.pools.cas!.servers[1]!.port).toBe(8080);
    expect(config.pools.cas!.balance).toBe('least-conn');
    expect(config.pools.cas!.health).toMatchObject({ interval: 5000, timeout: 4000, fall: 3, rise: 2 });
    expect(config.listen.https).toMatchObject({ address: '0.0.0.0', port: 8443, keepAliveTimeout: 120_000, maxHeaderSize: 65_536 });
    expect(config.admin).toMatchObject({ address: '127.0.0.1', port: 9090 });
    expect(config.exchange!.hostnames).toEqual(['mail.contoso.com', 'autodiscover.contoso.com']);
    expect(config.exchange!.services).toHaveLength(10);
  });

  test('every problem is listed with file, line and key path', () => {
    const text = `listen:
  https: { port: 8443, bogus: 1 }
certificates:
  - pfx: x.pfx
    password: \${MISSING_SECRET}
pools:
  cas:
    servers:
      - { name: cas1, host: 10.0.0.1 }
      - { name: cas2, port: 99999 }
    health: { interval: 5 seconds }
routes:
  - { path: owa, pool: cas }
`;
    expect(problems(text, {})).toEqual([
      '/etc/casgate/casgate.yaml:5: certificates[0].password: environment variable MISSING_SECRET is not set',
      '/etc/casgate/casgate.yaml:2: listen.https.bogus: unknown key',
      '/etc/casgate/casgate.yaml:10: pools.cas.servers[1].host: required',
      '/etc/casgate/casgate.yaml:10: pools.cas.servers[1].port: expected a port from 1 to 65535',
      '/etc/casgate/casgate.yaml:11: pools.cas.health.interval: expected a duration like 500ms, 5s, 30m or 1h, got "5 seconds"',
      '/etc/casgate/casgate.yaml:13: routes[0].path: must start with /',
    ]);
  });

  test('references to pools that do not exist are refused', () => {
    expect(problems(MINIMAL.replace('pool: cas', 'pool: nope') + 'routes:\n  - { path: /x, pool: other }\n')).toEqual([
      '/etc/casgate/casgate.yaml:13: exchange.pool: no pool named "nope" under pools',
      '/etc/casgate/casgate.yaml:16: routes[0].pool: no pool named "other" under pools',
    ]);
  });

  test('an unknown key is reported at its own line, with the known key it most likely meant', () => {
    const text = `listen: {}
certificates:
  - pfx: x.pfx
pools:
  cas:
    servers: [{ name: cas1, host: h }]
    helth:
      interval: 2s
    Balance: round-robin
    frobnicate: 1
logging:
  formt: json
`;
    expect(problems(text)).toEqual([
      '/etc/casgate/casgate.yaml:7: pools.cas.helth: unknown key; did you mean "health"?',
      '/etc/casgate/casgate.yaml:9: pools.cas.Balance: unknown key; did you mean "balance"?',
      '/etc/casgate/casgate.yaml:10: pools.cas.frobnicate: unknown key',
      '/etc/casgate/casgate.yaml:12: logging.formt: unknown key; did you mean "format"?',
    ]);
  });

  test('an enum error names the accepted values in words and what was written', () => {
    expect(problems(MINIMAL + 'logging:\n  format: xml\n  level: loud\n')).toEqual([
      '/etc/casgate/casgate.yaml:17: logging.level: expected debug, info, warn or error, got "loud"',
      '/etc/casgate/casgate.yaml:16: logging.format: expected text, json or w3c, got "xml"',
    ]);
  });

  test('cross-reference errors are reported together with schema errors', () => {
    const text = MINIMAL.replace('pool: cas', 'pool: nope') + 'routes:\n  - { path: /x, pool: other }\nlogging: { format: xml }\n';
    expect(problems(text)).toEqual([
      '/etc/casgate/casgate.yaml:17: logging.format: expected text, json or w3c, got "xml"',
      '/etc/casgate/casgate.yaml:13: exchange.pool: no pool named "nope" under pools',
      '/etc/casgate/casgate.yaml:16: routes[0].pool: no pool named "other" under pools',
    ]);
  });

  test('a YAML syntax error names the line', () => {
    expect(problems('listen:\n  https: { port: 1\n')[0]).toMatch(/^\/etc\/casgate\/casgate\.yaml:\d+: /);
  });

  test('insecure backend TLS together with a pin is a contradiction', () => {
    expect(problems(MINIMAL.replace('  cas:\n', '  cas:\n    tls: { insecure: true, fingerprint256: "' + 'AB'.repeat(32) + '" }\n'))[0]).toContain(
      'pools.cas.tls.insecure: insecure: true contradicts ca/fingerprint256',
    );
  });

  test('tls.ticketKeyRotation: 12 hours unless set; less than a second refused (every rotation costs each client a full handshake)', () => {
    expect(parseConfig(MINIMAL, 'c.yaml', { PFX_PASSWORD: 'x' }).tls.ticketKeyRotation).toBe(12 * 3600_000);
    expect(parseConfig(`${MINIMAL}tls: { ticketKeyRotation: 30m }\n`, 'c.yaml', { PFX_PASSWORD: 'x' }).tls.ticketKeyRotation).toBe(1_800_000);
    expect(problems(`${MINIMAL}tls: { ticketKeyRotation: 500ms }\n`)).toEqual([expect.stringMatching(/tls\.ticketKeyRotation: at least 1s/)]);
  });

  test('tls.hsts: one year unless set; preload only with includeSubDomains and a year, refused with its key path', () => {
    expect(parseConfig(MINIMAL, 'c.yaml', { PFX_PASSWORD: 'x' }).tls.hsts).toEqual({ maxAge: 31_536_000, includeSubDomains: false, preload: false });
    expect(parseConfig(`${MINIMAL}tls: { hsts: { maxAge: 0 } }\n`, 'c.yaml', { PFX_PASSWORD: 'x' }).tls.hsts.maxAge).toBe(0);
    expect(problems(`${MINIMAL}tls: { hsts: { preload: true } }\n`)).toEqual([expect.stringMatching(/:\d+: tls\.hsts: preload needs includeSubDomains: true/)]);
    expect(problems(`${MINIMAL}tls: { hsts: { maxAge: 99999999 } }\n`)).toEqual([expect.stringMatching(/tls\.hsts\.maxAge/)]);
  });

  test('the example config in the repository is valid', () => {
    const text = readFileSync(new URL('../../config/casgate.example.yaml', import.meta.url), 'utf8');
    expect(() => parseConfig(text, 'config/casgate.example.yaml', { PFX_PASSWORD: 'x', CASGATE_ADMIN_TOKEN: 'x'.repeat(32) })).not.toThrow();
  });
});

describe('Exchange preset', () => {
  test('one pool per service from the same servers; MRSProxy bridged; PowerShell shares EWS health', () => {
    const plan = buildPlan(parseConfig(MINIMAL, 'c.yaml', { PFX_PASSWORD: 'x' }));
    expect(plan.pools.map((p) => p.name)).toEqual([
      'cas/owa', 'cas/ecp', 'cas/ews', 'cas/mapi', 'cas/rpc', 'cas/activesync', 'cas/oab', 'cas/autodiscover', 'cas/powershell', 'cas/mrsproxy',
    ]);
    const byName = Object.fromEntries(plan.pools.map((p) => [p.name, p]));
    expect(byName['cas/mrsproxy']).toMatchObject({ mode: 'bridge', healthPath: '/EWS/healthcheck.htm' });
    expect(byName['cas/owa']).toMatchObject({ mode: 'offload', healthPath: '/owa/healthcheck.htm', probeHost: 'mail.contoso.com' });
    expect(byName['cas/powershell']).toMatchObject({ healthPath: undefined, healthFrom: 'cas/ews' });
    const routes = Object.fromEntries(plan.routes.map((r) => [r.name, r]));
    expect(routes['exchange/activesync']).toMatchObject({ firstByteTimeoutMs: 3_600_000, idleTimeoutMs: 3_600_000 });
    expect(routes['exchange/ecp']!.allow).toBeDefined();
    expect(routes['exchange/owa']!.allow).toBeUndefined();
  });

  test("a custom route's timeouts default to OWA's from the one table; an rpc route's to rpc's; both can be set", () => {
    const text = MINIMAL + 'routes:\n  - { name: app, path: /app, pool: cas }\n  - { name: oa, path: /oa, pool: cas, rpc: true }\n  - { name: slow, path: /slow, pool: cas, timeouts: { firstByte: 5m, idle: 0 } }\n';
    const routes = Object.fromEntries(buildPlan(parseConfig(text, 'c.yaml', { PFX_PASSWORD: 'x' })).routes.map((r) => [r.name, r]));
    expect(routes.app).toMatchObject({ firstByteTimeoutMs: 120_000, idleTimeoutMs: 120_000 });
    expect(routes['exchange/owa']).toMatchObject({ firstByteTimeoutMs: 120_000, idleTimeoutMs: 120_000 });
    expect(routes.oa).toMatchObject({ firstByteTimeoutMs: 1_800_000, idleTimeoutMs: 1_800_000 });
    expect(routes.slow).toMatchObject({ firstByteTimeoutMs: 300_000, idleTimeoutMs: 0 });
  });
});

describe('loadAdminSettings (the command line reaching a running instance)', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'casgate-admin-')), 'casgate.yaml');
  writeFileSync(file, `${MINIMAL}admin: { port: 9191, token: "\${ADMIN_TOKEN}" }\n`);

  test('reads the admin block alone: the PFX password the service has in its environment is not needed', () => {
    expect(loadAdminSettings(file, { ADMIN_TOKEN: 'a-token-of-sixteen-chars' })).toEqual({ address: '127.0.0.1', port: 9191, token: 'a-token-of-sixteen-chars' });
  });

  test('a variable the admin block names must be set, and is named with its line and key path', () => {
    expect(() => loadAdminSettings(file, {})).toThrow(ConfigError);
    try {
      loadAdminSettings(file, {});
    } catch (err) {
      expect((err as ConfigError).problems[0]).toMatch(/casgate\.yaml:\d+: admin\.token: environment variable ADMIN_TOKEN is not set/);
    }
  });
});
