// casgate behind a load balancer listed in listen.trustForwardedFrom: the client is the address the balancer names in
// X-Forwarded-For, for route allow lists, password-spray limits and the access log; the CAS gets the chain with the
// balancer appended. From anyone else X-Forwarded-For decides nothing. Real sockets: the balancer is a client bound
// to 127.0.0.2, an untrusted client one bound to 127.0.0.3.
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { openTls } from '../helpers/raw-tls.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { behindBalancer } from '../helpers/behind-balancer.js';
import { testCertificates, type TestGateway } from '../helpers/gateway-harness.js';

let gw: TestGateway;
let env: CasAndGateway | undefined;
const agents: Agent[] = [];

beforeAll(async () => {
  env = await startCasAndGateway(1, (cas) => ({
    ...behindBalancer(cas),
    exchange: { authProtection: { enabled: true, userFailures: 100, addressFailures: 2, addressUsers: 100, window: '1h', lockout: '1h', familiar: '1h' } },
  }));
  gw = env.gw;
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await env?.stop();
});

function from(localAddress: string) {
  const agent = new Agent({ localAddress, connect: { ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' } });
  agents.push(agent);
  return async (path: string, headers: Record<string, string> = {}) => {
    const res = await request(`${gw.url}${path}`, { dispatcher: agent, headers: { host: 'mail.contoso.lab', ...headers } });
    const text = await res.body.text();
    return { status: res.statusCode, error: res.headers['x-casgate-error'], text };
  };
}
const balancer = from('127.0.0.2');
const stranger = from('127.0.0.3');
const basic = (cred: string) => ({ authorization: 'Basic ' + Buffer.from(cred).toString('base64') });

describe('the client behind a trusted load balancer', () => {
  test('a route allow list decides on the client the balancer names, not on the balancer', async () => {
    const inside = await balancer('/intranet/page', { 'x-forwarded-for': '10.1.2.3' });
    expect(inside.error).toBeUndefined();
    expect(gw.records.at(-1)).toMatchObject({ route: 'intranet-only', backend: 'int1', clientIp: '10.1.2.3', peerIp: '127.0.0.2' });
    const outside = await balancer('/intranet/page', { 'x-forwarded-for': '10.1.2.3, 203.0.113.9' });
    expect([outside.status, outside.error]).toEqual([403, 'FORBIDDEN_NETWORK']);
    expect(gw.records.at(-1)).toMatchObject({ clientIp: '203.0.113.9', peerIp: '127.0.0.2' });
  });

  test('an untrusted client naming an allowed address gets nowhere, and its record names only its own address', async () => {
    const forged = await stranger('/intranet/page', { 'x-forwarded-for': '10.1.2.3' });
    expect([forged.status, forged.error]).toEqual([403, 'FORBIDDEN_NETWORK']);
    const record = gw.records.at(-1)!;
    expect(record.clientIp).toBe('127.0.0.3');
    expect(record.peerIp).toBeUndefined();
  });

  test('the CAS gets the chain with the balancer appended', async () => {
    const echo = JSON.parse((await balancer('/EWS/x', { 'x-forwarded-for': '203.0.113.20', ...basic('alice:Passw0rd') })).text) as { headers: Record<string, string> };
    expect(echo.headers['x-forwarded-for']).toBe('203.0.113.20, 127.0.0.2');
  });

  test('password-spray limits lock the guessing client, not the balancer every other user comes through', async () => {
    const guesser = { 'x-forwarded-for': '203.0.113.50' };
    expect((await balancer('/EWS/Exchange.asmx', { ...guesser, ...basic('alice:Winter2026') })).status).toBe(401);
    expect((await balancer('/EWS/Exchange.asmx', { ...guesser, ...basic('alice:Spring2026') })).status).toBe(401);
    const refused = await balancer('/EWS/Exchange.asmx', { ...guesser, ...basic('alice:Summer2026') });
    expect([refused.status, refused.error]).toEqual([429, 'AUTH_ADDRESS_LOCKED']);
    // Another user behind the same balancer signs in as usual.
    expect((await balancer('/EWS/Exchange.asmx', { 'x-forwarded-for': '198.51.100.8', ...basic('alice:Passw0rd') })).status).toBe(200);
    const view = (await (await fetch(`${gw.adminUrl}/api/auth-protection`)).json()) as { locked: { addresses: Array<{ key: string }> } };
    expect(view.locked.addresses.map((a) => a.key)).toEqual(['203.0.113.50']);
  });

  test('Outlook Anywhere (the RPC tunnel, not the engine) counts the same client', async () => {
    /** A Basic RPC_IN_DATA guess through the balancer for a client it names: the status casgate or the CAS answered. */
    const rpcGuess = async (forwardedFor: string, password: string) => {
      const c = await openTls(gw.port, { localAddress: '127.0.0.2' });
      try {
        const auth = Buffer.from(`CONTOSO\\bob:${password}`).toString('base64');
        c.write(
          ['RPC_IN_DATA /rpc/rpcproxy.dll?cas1.contoso.lab:6001 HTTP/1.1', 'Host: mail.contoso.lab', 'Content-Length: 1073741824',
            `Authorization: Basic ${auth}`, `X-Forwarded-For: ${forwardedFor}`, '', ''].join('\r\n'),
        );
        await eventually(() => /HTTP\/1\.1 [2-5]\d\d/.test(c.text()) && c.closed(), { what: 'answer' });
        return Number(/HTTP\/1\.1 ([2-5]\d\d)/.exec(c.text())![1]);
      } finally {
        c.destroy();
      }
    };
    expect(await rpcGuess('203.0.113.60', 'Wrong-1')).toBe(401);
    expect(await rpcGuess('203.0.113.60', 'Wrong-2')).toBe(401);
    expect(await rpcGuess('203.0.113.60', 'Wrong-3')).toBe(429);
    expect(await rpcGuess('203.0.113.61', 'Wrong-4')).toBe(401);
    const view = (await (await fetch(`${gw.adminUrl}/api/auth-protection`)).json()) as { locked: { addresses: Array<{ key: string }> } };
    expect(view.locked.addresses.map((a) => a.key)).toContain('203.0.113.60');
    expect(view.locked.addresses.map((a) => a.key)).not.toContain('127.0.0.2');
  });
});

describe('source-ip balancing behind a trusted load balancer', () => {
  let pair: CasAndGateway | undefined;
  afterAll(async () => pair?.stop());

  test('hashes the client the balancer names: clients spread over the servers, each one stays on its own', async () => {
    pair = await startCasAndGateway(2, {
      listen: { trustForwardedFrom: ['127.0.0.2'] },
      pools: { cas: { health: { enabled: false }, balance: 'source-ip' } },
    });
    const agent = new Agent({ localAddress: '127.0.0.2', connect: { ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' } });
    agents.push(agent);
    const serverFor = async (client: string) => {
      const res = await request(`${pair!.gw.url}/owa/`, { dispatcher: agent, headers: { host: 'mail.contoso.lab', 'x-forwarded-for': client } });
      await res.body.dump();
      return String(res.headers['x-feserver']);
    };
    const first = new Map<string, string>();
    for (let i = 1; i <= 16; i++) first.set(`198.51.100.${i}`, await serverFor(`198.51.100.${i}`));
    // All through one balancer address, yet both servers take clients (16 clients all on one: 2 chances in 65,536).
    expect(new Set(first.values())).toEqual(new Set(['cas1', 'cas2']));
    for (const [client, server] of first) expect(await serverFor(client)).toBe(server);
  });
});
