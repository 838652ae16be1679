// exchange.authProtection on real sockets: a real gateway in front of a mock CAS whose directory checks passwords,
// clients on distinct 127.x.y.z source addresses. Basic, NTLM and OWA-form failures are counted per user and per
// address; over a limit the attempt is refused by casgate (429, Retry-After) and the CAS sees no further guess, while
// the user's familiar address keeps working; windows expire; an admin clears a lock; a reload keeps the state.
import { Agent, Client, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { provisionConfig } from '../../src/runtime/provision.js';
import { eventually } from '../helpers/eventually.js';
import { ntlmHandshake } from '../helpers/ntlm-client.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { testCertificates, type TestGateway } from '../helpers/gateway-harness.js';

let cas: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;
const agents: Array<Agent | Client> = [];

const LIMITS = { enabled: true, userFailures: 3, addressFailures: 8, addressUsers: 4, window: '1500ms', lockout: '1500ms', familiar: '1h' };

beforeAll(async () => {
  env = await startCasAndGateway(1, { pools: { cas: { health: { enabled: false } } }, exchange: { authProtection: LIMITS } });
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await env?.stop();
});

// undici binds the client socket by the Client/Agent option `localAddress` (not a `connect` option).
const tls = { ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' };
const tlsTo = (localAddress: string) => ({ localAddress, connect: tls });

function from(localAddress: string) {
  const agent = new Agent(tlsTo(localAddress));
  agents.push(agent);
  return async (path: string, opts: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {}) => {
    const res = await request(`${gw.url}${path}`, { dispatcher: agent, method: opts.method ?? 'GET', headers: { host: 'mail.contoso.lab', ...opts.headers }, body: opts.body });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  };
}

const basic = (cred: string) => ({ authorization: 'Basic ' + Buffer.from(cred).toString('base64') });
const badPasswords = (user: string) => cas.stats().directory.badPasswords[user] ?? 0;
const owaForm = (username: string, password: string) => ({
  method: 'POST' as const,
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ destination: 'https://mail.contoso.lab/owa/', flags: '4', forcedownlevel: '0', username, password, passwordText: '', isUtf8: '1' }).toString(),
});
const adminPost = (path: string, token = 'test-admin-token-0123456789') =>
  fetch(`${gw.adminUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
const view = async () =>
  (await (await fetch(`${gw.adminUrl}/api/auth-protection`)).json()) as {
    enabled: boolean;
    locked: { users: Array<{ key: string; since: string; failures: number }>; addresses: Array<{ key: string; distinctUsers?: number }> };
    totals: Record<string, number>;
  };

describe('password-spray protection', () => {
  test('Basic: after 3 failures from unfamiliar addresses the user is refused with 429 and the CAS gets no 4th guess; the familiar address keeps working', async () => {
    const home = from('127.0.0.10');
    expect((await home('/EWS/Exchange.asmx', { headers: basic('alice:Passw0rd') })).status).toBe(200); // familiar from now on
    const before = badPasswords('alice');
    const attacker1 = from('127.0.1.1');
    const attacker2 = from('127.0.1.2');
    expect((await attacker1('/EWS/Exchange.asmx', { headers: basic('alice:Winter2026') })).status).toBe(401);
    expect((await attacker2('/EWS/Exchange.asmx', { headers: basic('CONTOSO\\alice:Spring2026') })).status).toBe(401);
    expect((await attacker1('/EWS/Exchange.asmx', { headers: basic('alice@contoso.lab:Summer2026') })).status).toBe(401);
    // Three spellings, one account: locked. Even the right password from an unfamiliar address is refused here.
    const refused = await attacker2('/EWS/Exchange.asmx', { headers: basic('alice:Passw0rd') });
    expect(refused.status).toBe(429);
    expect(refused.headers['x-casgate-error']).toBe('AUTH_USER_LOCKED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await attacker1('/EWS/Exchange.asmx', { headers: basic('alice:Autumn2026') })).status).toBe(429);
    expect(badPasswords('alice') - before).toBe(3);
    expect((await home('/EWS/Exchange.asmx', { headers: basic('alice:Passw0rd') })).status).toBe(200);
    const v = await view();
    expect(v.locked.users.find((u) => u.key === 'alice')).toMatchObject({ failures: 3 });
    expect(gw.logLines.some((l) => /auth protection: user locked out user=alice failures=3/.test(l))).toBe(true);
    // Anonymous requests from the attacker are not spray attempts and pass.
    expect((await attacker1('/owa/')).status).toBe(302);
  });

  test('NTLM: type 3 failures count for DOMAIN\\user; the 4th handshake is refused before the CAS', async () => {
    const before = badPasswords('bob');
    for (let i = 0; i < 3; i++) {
      const client = new Client(gw.url, { pipelining: 1, ...tlsTo('127.0.2.1') });
      agents.push(client);
      expect((await ntlmHandshake(client, '/EWS/Exchange.asmx', { domain: 'CONTOSO', user: 'bob', password: `guess-${i}` })).status).toBe(401);
    }
    expect(badPasswords('bob') - before).toBe(3);
    const client = new Client(gw.url, { pipelining: 1, ...tlsTo('127.0.2.2') });
    agents.push(client);
    const last = await ntlmHandshake(client, '/EWS/Exchange.asmx', { domain: 'CONTOSO', user: 'bob', password: 'Summer2026!' });
    expect(last.status).toBe(429);
    expect(badPasswords('bob') - before).toBe(3);
    expect(gw.records.at(-1)).toMatchObject({ error: 'AUTH_USER_LOCKED', user: 'CONTOSO\\bob', attempts: 0 });
  });

  test('OWA forms logon: reason=2 redirects count; the form reaches the CAS unchanged; the 4th post is refused', async () => {
    const before = badPasswords('carol');
    const post = from('127.0.3.1');
    for (let i = 0; i < 3; i++) {
      const res = await post('/owa/auth.owa', owaForm('CONTOSO\\carol', `guess-${i}`));
      expect(res.status).toBe(302);
      expect(res.headers.location).toMatch(/reason=2$/);
    }
    expect(badPasswords('carol') - before).toBe(3);
    expect((await post('/owa/auth.owa', owaForm('carol', 'Winter-2026'))).status).toBe(429);
    expect(badPasswords('carol') - before).toBe(3);
    // Another user's correct form logon from another address: the CAS read username and password from the forwarded
    // body (a 302 to the destination with cadata), so the body went through whole.
    const ok = await from('127.0.3.2')('/owa/auth.owa', owaForm('dave', 'P@ssw0rd-dave'));
    expect(ok.status).toBe(302);
    expect(ok.headers.location).toBe('https://mail.contoso.lab/owa/');
    expect(String(ok.headers['set-cookie'])).toContain('cadata=');
  });

  test('per address: more than 4 distinct failing user names lock the address for every user, except on their familiar address', async () => {
    const sprayer = from('127.0.4.1');
    for (const name of ['u1', 'u2', 'u3', 'u4', 'u5']) expect((await sprayer('/EWS/Exchange.asmx', { headers: basic(`${name}:Password1`) })).status).toBe(401);
    const refused = await sprayer('/EWS/Exchange.asmx', { headers: basic('u6:Password1') });
    expect(refused.status).toBe(429);
    expect(refused.headers['x-casgate-error']).toBe('AUTH_ADDRESS_LOCKED');
    // Even NTLM type 1 (no user name yet) from the locked address is refused.
    expect((await sprayer('/EWS/Exchange.asmx', { headers: { authorization: 'NTLM TlRMTVNTUAABAAAABYIIAAAAAAAAAAAAAAAAAAAAAAA=' } })).status).toBe(429);
    expect((await view()).locked.addresses.find((a) => a.key === '127.0.4.1')).toMatchObject({ distinctUsers: 5 });
  });

  test('window and lockout expire: the user reaches the CAS again, and the end of the lockout is logged', async () => {
    const attacker = from('127.0.5.1');
    for (let i = 0; i < 3; i++) await attacker('/EWS/x', { headers: basic(`dave:no-${i}`) });
    expect((await attacker('/EWS/x', { headers: basic('dave:P@ssw0rd-dave') })).status).toBe(429);
    await new Promise((r) => setTimeout(r, 1700));
    expect((await attacker('/EWS/x', { headers: basic('dave:P@ssw0rd-dave') })).status).toBe(200);
    await eventually(() => gw.logLines.some((l) => /auth protection: user lockout ended user=dave/.test(l)), { what: 'lockout ended log', timeoutMs: 8000 });
  }, 15_000);

  test('an admin clears a locked user (token required); a reload keeps locks and counters', async () => {
    const attacker = from('127.0.6.1');
    for (let i = 0; i < 3; i++) await attacker('/EWS/x', { headers: basic(`administrator:no-${i}`) });
    expect((await attacker('/EWS/x', { headers: basic('administrator:Adm1n-Passw0rd') })).status).toBe(429);

    const config = gw.gateway.config;
    const reloaded = gw.gateway.reload(provisionConfig({ ...config, exchange: { ...config.exchange!, authProtection: { ...config.exchange!.authProtection, userFailures: 4, lockout: 60_000 } } }));
    expect(reloaded.ok).toBe(true);
    expect((await attacker('/EWS/x', { headers: basic('administrator:Adm1n-Passw0rd') })).status).toBe(429);
    expect((await view()).locked.users.map((u) => u.key)).toContain('administrator');

    expect((await adminPost('/api/auth-protection/clear?user=CONTOSO%5CAdministrator', 'wrong-token-0123456789')).status).toBe(401);
    const cleared = await adminPost('/api/auth-protection/clear?user=CONTOSO%5CAdministrator');
    expect(await cleared.json()).toEqual({ cleared: true, user: 'administrator' });
    expect((await attacker('/EWS/x', { headers: basic('administrator:Adm1n-Passw0rd') })).status).toBe(200);
    expect(gw.logLines.some((l) => /user lockout cleared by an admin user=administrator/.test(l))).toBe(true);
    expect((await adminPost('/api/auth-protection/clear?address=127.0.4.1')).status).toBe(200);
    expect((await from('127.0.4.1')('/EWS/x', { headers: basic('bob:Summer2026!') })).status).not.toBe(429);
  });

  test('metrics count attempts, failures and refusals by reason; the status page lists the protection', async () => {
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+)`, 'm').exec(metrics)?.[1]);
    expect(value('casgate_auth_failures_total')).toBeGreaterThanOrEqual(17);
    expect(value('casgate_auth_refusals_total{reason="user"}')).toBeGreaterThanOrEqual(5);
    expect(value('casgate_auth_refusals_total{reason="address"}')).toBeGreaterThanOrEqual(2);
    expect(value('casgate_auth_attempts_total')).toBeGreaterThan(value('casgate_auth_failures_total'));
    expect(metrics).toMatch(/casgate_auth_protection_entries\{table="users"\} \d+/);
    const page = await (await fetch(`${gw.adminUrl}/`)).text();
    expect(page).toContain('Password-spray protection');
  });
});

describe('off by default', () => {
  test('without exchange.authProtection, failures are never refused by casgate', async () => {
    const env = await startCasAndGateway(1, { pools: { cas: { health: { enabled: false } } } });
    const [cas2] = env.cas;
    const plain = env.gw;
    try {
      for (let i = 0; i < 8; i++) {
        const res = await request(`${plain.url}/EWS/x`, { dispatcher: plain.client, headers: { host: 'mail.contoso.lab', ...basic(`carol:x${i}`) } });
        await res.body.text();
        expect(res.statusCode).toBe(401);
      }
      expect(cas2!.stats().directory.badPasswords.carol).toBe(8);
    } finally {
      await env.stop();
    }
  });
});
