// Outlook Anywhere (RPC_IN_DATA / RPC_OUT_DATA, relayed by the RPC tunnel, not the HTTP engine) gets the same shield
// as every other request: exploit-shaped heads are refused with 403 before any backend, and the password-spray limits
// count NTLM and Basic guesses on /rpc, lock the user, and keep the CAS from seeing more guesses than the limit, while
// the user's familiar address still opens its channels. Real TLS sockets from distinct 127.x source addresses, a real
// gateway, the mock CAS checking NTLMv2 and Basic passwords against the lab directory.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { RPC_OUT_FIRST_PDU } from '../../src/lab/mock/rpc-channels.js';
import { buildAuthenticate, buildNegotiate } from '../../src/lab/mock/ntlm-messages.js';
import { eventually } from '../helpers/eventually.js';
import { openTls, type RawTls } from '../helpers/raw-tls.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import type { TestGateway } from '../helpers/gateway-harness.js';

let cas: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;
const conns: RawTls[] = [];

const LIMITS = { enabled: true, userFailures: 3, addressFailures: 20, addressUsers: 10, window: '1h', lockout: '1h', familiar: '1h' };

beforeAll(async () => {
  env = await startCasAndGateway(1, { pools: { cas: { health: { enabled: false } } }, exchange: { authProtection: LIMITS } });
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  for (const c of conns) c.destroy();
  await env?.stop();
});

/** A raw TLS connection from `localAddress`, destroyed after the file's tests. */
async function open(localAddress = '127.0.0.1'): Promise<RawTls> {
  const c = await openTls(gw.port, { localAddress });
  conns.push(c);
  return c;
}

const head = (method: string, length: number, extra: string[] = [], target = '/rpc/rpcproxy.dll?cas1.contoso.lab:6001') =>
  [`${method} ${target} HTTP/1.1`, 'Host: mail.contoso.lab', `Content-Length: ${length}`, 'User-Agent: MSRPC', ...extra, '', ''].join('\r\n');

/** Demand, type 1 -> type 2 on small requests, then the type 3 for `user` / `password` (what Outlook puts on the channel head). */
async function handshake(c: RawTls, method: string, user: string, password: string): Promise<string> {
  c.write(head(method, 0));
  await eventually(() => c.text().includes('401 - Unauthorized'), { what: '401 demand' });
  c.clear();
  c.write(head(method, 0, [`Authorization: NTLM ${buildNegotiate().toString('base64')}`]));
  await eventually(() => /WWW-Authenticate: NTLM TlRMTVNTUAACAAAA/.test(c.text()) && c.text().includes('401 - Unauthorized'), { what: 'type 2' });
  const type2 = Buffer.from(/WWW-Authenticate: NTLM (\S+)/.exec(c.text())![1]!, 'base64');
  c.clear();
  return `Authorization: NTLM ${buildAuthenticate('CONTOSO', user, 'WS01', { password, challenge: type2 }).toString('base64')}`;
}

/** A wrong-password NTLM RPC_IN_DATA from `address`: the status casgate (or the CAS through it) answered. */
async function ntlmGuess(address: string, user: string, password: string): Promise<{ status: number; text: string }> {
  const c = await open(address);
  const auth = await handshake(c, 'RPC_IN_DATA', user, password);
  c.write(head('RPC_IN_DATA', 1_073_741_824, [auth]));
  await eventually(() => /^HTTP\/1\.1 \d{3}/.test(c.text()) && c.closed(), { what: 'answer to the type 3' });
  c.destroy();
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(c.text())![1]), text: c.text() };
}

/** An OUT channel for alice with the right password from `address`: resolves once the channel's 200 and first PDU are in. */
async function outChannel(address: string): Promise<RawTls> {
  const c = await open(address);
  const auth = await handshake(c, 'RPC_OUT_DATA', 'alice', 'Passw0rd');
  c.write(head('RPC_OUT_DATA', 76, [auth, `X-RPC-Channel-Id: shield-${randomBytes(4).toString('hex')}`]));
  c.write(Buffer.alloc(76));
  await eventually(() => c.text().startsWith('HTTP/1.1 200 Success\r\n') && c.received().length >= RPC_OUT_FIRST_PDU.length, { what: 'OUT channel 200' });
  return c;
}

const badPasswords = (user: string) => cas.stats().directory.badPasswords[user] ?? 0;
const view = async () =>
  (await (await fetch(`${gw.adminUrl}/api/auth-protection`)).json()) as { locked: { users: Array<{ key: string; failures: number }> }; totals: Record<string, number> };
const exploitRefusals = (metrics: string, rule: string) => Number(new RegExp(`casgate_mitigation_refusals_total\\{rule="${rule}"[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? NaN);

describe('Outlook Anywhere: known-exploit mitigations', () => {
  const shapes: Array<[string, string, string[], string]> = [
    ['proxylogon', '/rpc/rpcproxy.dll?cas1.contoso.lab:6001', ['Cookie: X-BEResource=localhost/owa/auth/x.js?~1942062522'], 'ProxyLogon cookie'],
    ['proxylogon', '/rpc/rpcproxy.dll?cas1.contoso.lab:6001', ['Cookie: a=b', 'X-AnonResource-Backend: localhost/ecp/default.flt?~3'], 'ProxyLogon header'],
    ['proxyshell-email', '/rpc/rpcproxy.dll?Email=autodiscover/autodiscover.json%3F@evil.com', [], 'ProxyShell Email= marker'],
  ];
  for (const [rule, target, extra, what] of shapes) {
    test(`${what} on an RPC_IN_DATA head: 403 KNOWN_EXPLOIT, counted for ${rule}, and the CAS sees no connection`, async () => {
      const metricsBefore = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      const connectionsBefore = cas.stats().totalConnections;
      const c = await open();
      c.write(head('RPC_IN_DATA', 1_073_741_824, extra, target));
      await eventually(() => c.closed(), { what: 'refusal and close' });
      expect(c.text()).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
      expect(c.text()).toContain('X-Casgate-Error: KNOWN_EXPLOIT\r\n');
      expect(cas.stats().totalConnections).toBe(connectionsBefore);
      const metricsAfter = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      expect(exploitRefusals(metricsAfter, rule) - exploitRefusals(metricsBefore, rule)).toBe(1);
    });
  }

  test('a legitimate RPC channel head with ordinary cookies still reaches the CAS', async () => {
    const c = await open();
    c.write(head('RPC_IN_DATA', 0, ['Cookie: OutlookSession=abc; X-BackEndCookie=S-1-5-21=u56Lnp2ejJqBz8vNx8rLyc/Sx8nKzdLLzM/L0p2dyZ7Sms7Ny5rMns3Jx8bJgYHNz87G0s/N0s3Mq8/Nxc/Mxc/M']));
    await eventually(() => c.text().includes('401 - Unauthorized'), { what: 'the CAS demand' });
    expect(c.text()).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
  });
});

describe('Outlook Anywhere: password-spray protection', () => {
  test('NTLM: wrong-password RPC_IN_DATA guesses are counted; at the limit the user is locked (429, Retry-After) and the CAS gets no more guesses; the familiar address still opens its channel', async () => {
    // alice's own PC authenticates first: its address becomes familiar (the OUT channel's 200 is a success).
    const familiar = await outChannel('127.0.7.1');
    familiar.destroy();
    await eventually(async () => (await view()).totals.successes! >= 1, { what: 'success counted' });

    const before = badPasswords('alice');
    for (let i = 0; i < 3; i++) {
      const guess = await ntlmGuess(`127.0.7.${10 + i}`, 'alice', `Guess-${i}`);
      expect(guess.status).toBe(401);
    }
    expect(badPasswords('alice') - before).toBe(3);
    await eventually(async () => (await view()).locked.users.some((u) => u.key === 'alice' && u.failures === 3), { what: 'alice locked' });

    for (let i = 0; i < 3; i++) {
      const refused = await ntlmGuess(`127.0.7.${20 + i}`, 'alice', `Guess-more-${i}`);
      expect(refused.status).toBe(429);
      expect(refused.text).toMatch(/\r\nRetry-After: \d+\r\n/i);
      expect(refused.text).toContain('X-Casgate-Error: AUTH_USER_LOCKED\r\n');
    }
    // The right password from a stranger is refused too: the CAS never sees it.
    expect((await ntlmGuess('127.0.7.30', 'alice', 'Passw0rd')).status).toBe(429);
    expect(badPasswords('alice') - before).toBe(3);

    // The familiar address: the OUT channel opens and an IN channel carries bytes to it.
    const out = await outChannel('127.0.7.1');
    const inConn = await open('127.0.7.1');
    const inAuth = await handshake(inConn, 'RPC_IN_DATA', 'alice', 'Passw0rd');
    inConn.write(head('RPC_IN_DATA', 1_073_741_824, [inAuth]));
    inConn.write(randomBytes(1000));
    await eventually(() => cas.stats().rpcBytesIn >= 1000, { what: 'IN channel bytes at the CAS' });
    expect(inConn.text()).not.toMatch(/^HTTP\/1\.1 4/);
    expect(inConn.closed()).toBe(false);
    out.destroy();
    inConn.destroy();
  });

  /** A Basic RPC_IN_DATA guess from `address`: the final status (after any `100 Continue`) casgate or the CAS answered. */
  const basicGuess = async (address: string, user: string, password: string, extra: string[] = []) => {
    const c = await open(address);
    c.write(head('RPC_IN_DATA', 1_073_741_824, [`Authorization: Basic ${Buffer.from(`CONTOSO\\${user}:${password}`).toString('base64')}`, ...extra]));
    await eventually(() => /HTTP\/1\.1 [2-5]\d\d/.test(c.text()) && c.closed(), { what: 'answer' });
    c.destroy();
    return { status: Number(/HTTP\/1\.1 ([2-5]\d\d)/.exec(c.text())![1]), text: c.text() };
  };

  test('Basic: wrong-password RPC_IN_DATA guesses lock the user at the limit; the CAS gets no more than the limit', async () => {
    const before = badPasswords('bob');
    for (let i = 0; i < 3; i++) expect((await basicGuess(`127.0.8.${10 + i}`, 'bob', `Wrong-${i}`)).status).toBe(401);
    expect(badPasswords('bob') - before).toBe(3);
    await eventually(async () => (await view()).locked.users.some((u) => u.key === 'bob'), { what: 'bob locked' });
    for (let i = 0; i < 3; i++) expect((await basicGuess(`127.0.8.${20 + i}`, 'bob', `Wrong-more-${i}`)).status).toBe(429);
    expect(badPasswords('bob') - before).toBe(3);
  });

  test('Basic with Expect: 100-continue: the CAS answers 100 Continue before its 401; the 401 is still counted and the user locked at the limit', async () => {
    const before = badPasswords('carol');
    for (let i = 0; i < 3; i++) {
      const answer = await basicGuess(`127.0.9.${10 + i}`, 'carol', `Wrong-${i}`, ['Expect: 100-continue']);
      expect(answer.text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 401 /);
    }
    expect(badPasswords('carol') - before).toBe(3);
    await eventually(async () => (await view()).locked.users.some((u) => u.key === 'carol'), { what: 'carol locked' });
    expect((await basicGuess('127.0.9.20', 'carol', 'Wrong-more', ['Expect: 100-continue'])).status).toBe(429);
    expect(badPasswords('carol') - before).toBe(3);
  });

  test('pipelining: a head without credentials sent right behind a wrong guess leaves the guess counted; a second guess before the first one\'s answer is refused 400', async () => {
    const basicAuth = (user: string, password: string) => `Authorization: Basic ${Buffer.from(`CONTOSO\\${user}:${password}`).toString('base64')}`;
    const before = badPasswords('dave');
    for (let i = 0; i < 3; i++) {
      const c = await open(`127.0.10.${10 + i}`);
      c.write(head('RPC_IN_DATA', 0, [basicAuth('dave', `Wrong-${i}`)]) + head('RPC_IN_DATA', 0));
      await eventually(() => (c.text().match(/HTTP\/1\.1 401 /g) ?? []).length === 2, { what: 'both answers' });
      c.destroy();
    }
    expect(badPasswords('dave') - before).toBe(3);
    await eventually(async () => (await view()).locked.users.some((u) => u.key === 'dave'), { what: 'dave locked' });

    const adminBefore = badPasswords('administrator');
    const c = await open('127.0.10.30');
    c.write(head('RPC_IN_DATA', 0, [basicAuth('administrator', 'Wrong-1')]) + head('RPC_IN_DATA', 0, [basicAuth('administrator', 'Wrong-2')]));
    await eventually(() => c.closed(), { what: 'close' });
    expect(c.text()).toMatch(/HTTP\/1\.1 400 Bad Request\r\n/);
    expect(c.text()).toContain('X-Casgate-Error: BAD_REQUEST\r\n');
    expect(badPasswords('administrator') - adminBefore).toBeLessThanOrEqual(1);
  });
});
