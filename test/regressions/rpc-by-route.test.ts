// Issue 15, item 8: `routes: [{ path: /rpc/, pool: x }]` passed `check`, then answered Outlook Anywhere with
// `404 RPC_OUT_DATA is only published on /rpc`: only the Exchange preset's `rpc` service tunnelled. Now a route whose
// path is /rpc (or under it) carries Outlook Anywhere, as does any route with `rpc: true`; `rpc: false` opts out.
// The RPC path decides on the same canonical target and strict Host as every other request.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { type TestGateway } from '../helpers/gateway-harness.js';
import { rawHttps } from '../helpers/raw-https.js';

let cas: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;

beforeAll(async () => {
  env = await startCasAndGateway(1, {
    // The preset without its rpc service: Outlook Anywhere is published by plain routes only.
    exchange: { services: ['owa', 'ecp', 'ews'], adminNetworks: ['10.0.0.0/8'] },
    pools: { cas: { health: { enabled: false } } },
    routes: [
      { name: 'oa', path: '/rpc/', pool: 'cas' },
      { name: 'oa-elsewhere', path: '/outlook', pool: 'cas', rpc: true },
      { name: 'not-oa', path: '/plain', pool: 'cas', rpc: false },
    ],
  });
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

const rpcHead = (target: string, hostLines = ['Host: mail.contoso.lab'], method = 'RPC_OUT_DATA') =>
  [`${method} ${target} HTTP/1.1`, ...hostLines, 'Content-Length: 0', 'User-Agent: MSRPC', '', ''].join('\r\n');

describe('Outlook Anywhere on a plain route', () => {
  test.each(['RPC_OUT_DATA', 'RPC_IN_DATA'])('%s on a route for /rpc/ reaches the CAS (its NTLM demand)', async (method) => {
    const before = cas.stats().requests;
    const res = await rawHttps(gw.port, rpcHead('/rpc/rpcproxy.dll?cas1.contoso.lab:6001', undefined, method));
    expect(res.status, res.raw.slice(0, 300)).toBe(401);
    expect(res.headers['x-feserver']).toBe('cas1');
    expect(cas.stats().requests).toBe(before + 1);
  });

  test('a route marked rpc: true carries it too; rpc: false answers 404 without reaching the CAS', async () => {
    let before = cas.stats().requests;
    const on = await rawHttps(gw.port, rpcHead('/outlook/rpcproxy.dll?cas1.contoso.lab:6001'));
    // Tunnelled: the mock CAS itself answers (it serves RPC on /rpc/rpcproxy.dll only, hence its 404).
    expect(on.headers['x-feserver'], on.raw.slice(0, 300)).toBe('cas1');
    expect(cas.stats().requests).toBe(before + 1);
    before = cas.stats().requests;
    const off = await rawHttps(gw.port, rpcHead('/plain/rpcproxy.dll?cas1.contoso.lab:6001'));
    expect(off.status).toBe(404);
    expect(off.body).toContain('RPC_OUT_DATA is not published at this path');
    expect(cas.stats().requests).toBe(before);
  });
});

describe('the RPC path decides on the canonical target and a strict Host', () => {
  test.each([
    ['/rpc/../ecp/rpcproxy.dll', 404],
    ['/rpc/..%2fecp/rpcproxy.dll', 400],
    ['/rpc/..;/ecp/', 400],
    ['/rpc/..\\ecp\\', 400],
    ['/../rpc/rpcproxy.dll', 400],
  ])('%s is %i and never reaches the CAS', async (target, status) => {
    const before = cas.stats().requests;
    const res = await rawHttps(gw.port, rpcHead(target));
    expect(res.status, res.raw.slice(0, 300)).toBe(status);
    expect(cas.stats().requests).toBe(before);
  });

  test.each([[['Host: mail.contoso.lab', 'Host: mail.contoso.lab']], [['Host: evil example']], [['Host: a@b']], [[]]])(
    'Host lines %j are a 400',
    async (hostLines) => {
      const before = cas.stats().requests;
      const res = await rawHttps(gw.port, rpcHead('/rpc/rpcproxy.dll?cas1.contoso.lab:6001', hostLines));
      expect(res.status, res.raw.slice(0, 300)).toBe(400);
      expect(cas.stats().requests).toBe(before);
    },
  );

  test('the CAS receives the canonical target', async () => {
    // The mock CAS answers RPC methods on exactly /rpc/rpcproxy.dll (404 on anything else): its NTLM demand means it
    // received the canonical path.
    const res = await rawHttps(gw.port, rpcHead('/owa/../%72pc/./rpcproxy.dll?cas1.contoso.lab:6001'));
    expect(res.status, res.raw.slice(0, 300)).toBe(401);
    expect(res.headers['x-feserver']).toBe('cas1');
  });
});
