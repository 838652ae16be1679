// Strict-Transport-Security (tls.hsts): every HTTPS answer carries casgate's policy unless the server behind it sent
// its own (an IIS configured per Microsoft's HSTS guidance for Exchange keeps its value, not doubled); casgate's own
// answers (404, redirects) carry it too; `maxAge: 0` sends none. Real sockets: the mock CAS, and a plain node:http
// server standing in for an IIS that sets the header itself.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { provisionConfig } from '../../src/runtime/provision.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway-harness.js';

let env: CasAndGateway | undefined;
let gw: TestGateway;
let iis: http.Server;

beforeAll(async () => {
  iis = http.createServer((req, res) => {
    res.setHeader('Strict-Transport-Security', 'max-age=600');
    res.end('ok');
  });
  await new Promise<void>((resolve) => iis.listen(0, '127.0.0.1', resolve));
  const iisPort = (iis.address() as AddressInfo).port;
  env = await startCasAndGateway(1, {
    pools: { cas: { health: { enabled: false } }, iis: { health: { enabled: false }, servers: [{ name: 'iis1', host: '127.0.0.1', port: iisPort }] } },
    routes: [{ name: 'own-policy', path: '/ownpolicy', pool: 'iis' }],
    exchange: { redirectRootToOwa: true },
  });
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
  await new Promise((resolve) => iis.close(resolve));
});

describe('tls.hsts', () => {
  test('a proxied answer without a policy gets casgate\'s (one year by default)', async () => {
    const res = await gw.get('/owa/');
    expect(res.status).toBe(302);
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000');
  });

  test('casgate\'s own answers carry it too: a 404, the redirect of /', async () => {
    const missing = await gw.get('/nothing-published-here');
    expect([missing.status, missing.headers['x-casgate-error']]).toEqual([404, 'NO_ROUTE']);
    expect(missing.headers['strict-transport-security']).toBe('max-age=31536000');
    const root = await gw.get('/');
    expect([root.status, root.headers.location]).toEqual([302, '/owa/']);
    expect(root.headers['strict-transport-security']).toBe('max-age=31536000');
  });

  test('a server that sends its own policy keeps it, once', async () => {
    const res = await gw.get('/ownpolicy');
    expect(res.text).toBe('ok');
    expect(res.headers['strict-transport-security']).toBe('max-age=600');
  });

  test('a reload changes the policy in effect', async () => {
    const config = gw.gateway.config;
    expect(gw.gateway.reload(provisionConfig({ ...config, tls: { ...config.tls, hsts: { maxAge: 300, includeSubDomains: false, preload: false } } })).ok).toBe(true);
    try {
      expect((await gw.get('/owa/')).headers['strict-transport-security']).toBe('max-age=300');
    } finally {
      gw.gateway.reload(provisionConfig(config));
    }
  });

  test('maxAge 0 sends none; includeSubDomains and preload are written as browsers read them', async () => {
    const off = await startTestGateway([env!.cas[0]!], { tls: { hsts: { maxAge: 0 } } });
    const full = await startTestGateway([env!.cas[0]!], { tls: { hsts: { maxAge: 63_072_000, includeSubDomains: true, preload: true } } });
    try {
      expect((await off.get('/owa/')).headers['strict-transport-security']).toBeUndefined();
      expect((await full.get('/owa/')).headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains; preload');
    } finally {
      await off.stop();
      await full.stop();
    }
  });
});
