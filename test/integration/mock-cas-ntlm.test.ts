// NTLM and Negotiate are bound to the TCP connection (EXCHANGE.md): the handshake must ride one connection, later
// requests on it run as that user, and the mock counts the two ways a proxy gets this wrong.
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { buildAuthenticate, buildNegotiate, challengeOf } from '../../src/lab/mock/ntlm-messages.js';
import { call, headerLines } from '../helpers/mock-cas-client.js';

const run = promisify(execFile);
let cas: MockCas;
beforeAll(async () => {
  cas = await startMockCas({ name: 'cas2' });
});
afterAll(async () => {
  await cas?.close();
});

const type1 = `NTLM ${buildNegotiate().toString('base64')}`;
/** A type 3 for `user`: with the server's type 2 and the password, a real NTLMv2 answer; without, dummy responses. */
const type3 = (user: string, auth?: { password: string; challenge: Buffer }, scheme = 'NTLM') =>
  `${scheme} ${buildAuthenticate('CONTOSO', user, 'WS01', auth).toString('base64')}`;
const challengeIn = (r: { rawHeaders: string[] }) => Buffer.from((headerLines(r.rawHeaders, 'www-authenticate')[0] ?? '').replace(/^\S+ /, ''), 'base64');
interface Echo {
  user: string | null;
  connectionId: number;
}

describe('NTLM on one connection', () => {
  it('demands auth on /EWS with Negotiate and NTLM as two separate header lines', async () => {
    const r = await call({ port: cas.httpPort, path: '/EWS/Exchange.asmx', method: 'POST', body: '<x/>' });
    expect(r.status).toBe(401);
    expect(headerLines(r.rawHeaders, 'www-authenticate')).toEqual(['Negotiate', 'NTLM']);
    // Anonymous requests elsewhere are served.
    expect((await call({ port: cas.httpPort, path: '/Microsoft-Server-ActiveSync/x' })).json<Echo>().user).toBeNull();
  });

  it('runs type 1 / type 2 / type 3 on one kept-alive connection and serves later requests as that user', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const challenge = await call({ port: cas.httpPort, path: '/EWS/Exchange.asmx', agent, headers: { authorization: type1, 'x-test-client': 'alice' } });
      expect(challenge.status).toBe(401);
      const lines = headerLines(challenge.rawHeaders, 'www-authenticate');
      expect(lines).toHaveLength(1);
      const type2 = Buffer.from((lines[0] ?? '').replace(/^NTLM /, ''), 'base64');
      expect(challengeOf(type2)).toHaveLength(8);

      const done = await call({ port: cas.httpPort, path: '/EWS/Exchange.asmx', agent, headers: { authorization: type3('alice', { password: 'Passw0rd', challenge: type2 }), 'x-test-client': 'alice' } });
      expect(done.status).toBe(200);
      const first = done.json<Echo>();
      expect(first.user).toBe('CONTOSO\\alice');

      const later = (await call({ port: cas.httpPort, path: '/mapi/x', agent, headers: { 'x-test-client': 'alice' } })).json<Echo>();
      expect(later).toMatchObject({ user: 'CONTOSO\\alice', connectionId: first.connectionId });
      expect(cas.stats().authenticatedConnections).toBeGreaterThanOrEqual(1);
      expect(cas.stats().ntlmViolations).toBe(0);

      // Another client riding the authenticated connection is served as alice (as IIS would) and counted.
      const bob = (await call({ port: cas.httpPort, path: '/EWS/x', agent, headers: { 'x-test-client': 'bob' } })).json<Echo>();
      expect(bob.user).toBe('CONTOSO\\alice');
      expect(cas.stats().ntlmViolations).toBe(1);
      expect(cas.stats().violations.at(-1)).toMatchObject({ kind: 'foreign-client', connectionId: first.connectionId });
    } finally {
      agent.destroy();
    }
  });

  it('counts a handshake split across connections and refuses it', async () => {
    const before = cas.stats().ntlmViolations;
    expect((await call({ port: cas.httpPort, path: '/rpc/x', headers: { authorization: type1 } })).status).toBe(401);
    // agent: false -> a new connection for the type 3.
    const split = await call({ port: cas.httpPort, path: '/rpc/x', headers: { authorization: type3('carol') } });
    expect(split.status).toBe(401);
    expect(cas.stats().ntlmViolations).toBe(before + 1);
    expect(cas.stats().violations.at(-1)?.kind).toBe('split-handshake');
  });

  it('accepts Negotiate carrying NTLM, and Basic per request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const c = await call({ port: cas.httpPort, path: '/EWS/x', agent, headers: { authorization: `Negotiate ${buildNegotiate().toString('base64')}` } });
      expect(headerLines(c.rawHeaders, 'www-authenticate')[0]).toMatch(/^Negotiate TlRMTVNTUAACAAAA/);
      const ok = await call({ port: cas.httpPort, path: '/EWS/x', agent, headers: { authorization: type3('dave', { password: 'P@ssw0rd-dave', challenge: challengeIn(c) }, 'Negotiate') } });
      expect(ok.json<Echo>().user).toBe('CONTOSO\\dave');
    } finally {
      agent.destroy();
    }
    const basic = await call({ port: cas.httpPort, path: '/mapi/x', headers: { authorization: 'Basic ' + Buffer.from('dave@contoso.lab:P@ssw0rd-dave').toString('base64') } });
    expect(basic.json<Echo>().user).toBe('dave@contoso.lab');
  });

  it('works with real curl --ntlm over HTTP and HTTPS', async () => {
    const { stdout } = await run('curl', ['-s', '--ntlm', '-u', 'CONTOSO\\alice:Passw0rd', `http://127.0.0.1:${cas.httpPort}/EWS/Exchange.asmx`]);
    expect(JSON.parse(stdout)).toMatchObject({ user: 'CONTOSO\\alice', requestOnConnection: 2 });
    const secure = await run('curl', ['-sk', '--ntlm', '-u', 'bob:Summer2026!', '-d', 'hello', `https://127.0.0.1:${cas.httpsPort}/mapi/x`]);
    expect(JSON.parse(secure.stdout)).toMatchObject({ user: 'bob', tls: true, bodyLength: 5 });
    const wrong = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--ntlm', '-u', 'CONTOSO\\alice:wrong', `http://127.0.0.1:${cas.httpPort}/EWS/Exchange.asmx`]);
    expect(wrong.stdout).toBe('401');
  });
});

describe('the user directory (config/lab-users.yaml)', () => {
  const basic = (cred: string) => ({ authorization: 'Basic ' + Buffer.from(cred).toString('base64') });

  it('Basic: alice / Passw0rd in three name forms is served; a wrong password or an unknown user gets 401', async () => {
    for (const name of ['alice', 'CONTOSO\\alice', 'alice@contoso.lab']) {
      expect((await call({ port: cas.httpPort, path: '/EWS/x', headers: basic(`${name}:Passw0rd`) })).status, name).toBe(200);
    }
    expect((await call({ port: cas.httpPort, path: '/EWS/x', headers: basic('alice:passw0rd') })).status).toBe(401);
    expect((await call({ port: cas.httpPort, path: '/EWS/x', headers: basic('mallory:Passw0rd') })).status).toBe(401);
    expect((await call({ port: cas.httpPort, path: '/EWS/x', headers: basic('FABRIKAM\\alice:Passw0rd') })).status).toBe(401);
  });

  it('NTLM: a type 3 computed with a wrong password, or with dummy responses, gets 401 and leaves the connection anonymous', async () => {
    for (const auth of [{ password: 'nope' }, undefined]) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const c = await call({ port: cas.httpPort, path: '/EWS/x', agent, headers: { authorization: type1 } });
        const r = await call({ port: cas.httpPort, path: '/EWS/x', agent, headers: { authorization: type3('alice', auth && { ...auth, challenge: challengeIn(c) }) } });
        expect(r.status).toBe(401);
        expect((await call({ port: cas.httpPort, path: '/EWS/x', agent })).status).toBe(401);
      } finally {
        agent.destroy();
      }
    }
  });

  it('OWA forms logon: the right password gets 302 to the destination with cadata; a wrong one the logon page with reason=2', async () => {
    const post = (username: string, password: string) =>
      call({
        port: cas.httpPort,
        path: '/owa/auth.owa',
        method: 'POST',
        headers: { host: 'mail.contoso.lab', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ destination: 'https://mail.contoso.lab/owa/', flags: '4', forcedownlevel: '0', username, password, isUtf8: '1' }).toString(),
      });
    const ok = await post('CONTOSO\\alice', 'Passw0rd');
    expect(ok.status).toBe(302);
    expect(ok.headers.location).toBe('https://mail.contoso.lab/owa/');
    expect(String(ok.headers['set-cookie'])).toMatch(/cadata=/);
    for (const [user, pw] of [['alice', 'x'], ['nobody', 'Passw0rd']] as const) {
      const bad = await post(user, pw);
      expect(bad.status).toBe(302);
      expect(bad.headers.location).toMatch(/^\/owa\/auth\/logon\.aspx\?url=https%3a%2f%2fmail\.contoso\.lab%2fowa%2f&reason=2$/);
      expect(bad.headers['set-cookie']).toBeUndefined();
    }
  });

  it('an account locks after the threshold (10) of bad passwords: then even the right password fails, and stats count it', async () => {
    await call({ port: cas.httpPort, path: '/__mock/directory-reset', method: 'POST', body: '{}' });
    for (let i = 0; i < 10; i++) await call({ port: cas.httpPort, path: '/EWS/x', headers: basic(`carol:guess${i}`) });
    expect((await call({ port: cas.httpPort, path: '/EWS/x', headers: basic('carol:Winter-2026') })).status).toBe(401);
    expect(cas.stats().directory).toMatchObject({ lockouts: 1, locked: ['carol'], badPasswords: { carol: 10 } });
    await call({ port: cas.httpPort, path: '/__mock/directory-reset', method: 'POST', body: '{}' });
    expect((await call({ port: cas.httpPort, path: '/EWS/x', headers: basic('carol:Winter-2026') })).status).toBe(200);
  });
});
