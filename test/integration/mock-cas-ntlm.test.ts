// NTLM and Negotiate are bound to the TCP connection (EXCHANGE.md): the handshake must ride one connection, later
// requests on it run as that user, and the mock counts the two ways a proxy gets this wrong.
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { buildAuthenticate, buildNegotiate, challengeOf } from '../../src/lab/mock/ntlm-messages.js';
import { call, headerLines } from './mock-cas-client.js';

const run = promisify(execFile);
let cas: MockCas;
beforeAll(async () => {
  cas = await startMockCas({ name: 'cas2' });
});
afterAll(async () => {
  await cas?.close();
});

const type1 = `NTLM ${buildNegotiate().toString('base64')}`;
const type3 = (user: string) => `NTLM ${buildAuthenticate('CONTOSO', user).toString('base64')}`;
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

      const done = await call({ port: cas.httpPort, path: '/EWS/Exchange.asmx', agent, headers: { authorization: type3('alice'), 'x-test-client': 'alice' } });
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
      const ok = await call({ port: cas.httpPort, path: '/EWS/x', agent, headers: { authorization: `Negotiate ${buildAuthenticate('CONTOSO', 'dave').toString('base64')}` } });
      expect(ok.json<Echo>().user).toBe('CONTOSO\\dave');
    } finally {
      agent.destroy();
    }
    const basic = await call({ port: cas.httpPort, path: '/mapi/x', headers: { authorization: 'Basic ' + Buffer.from('erin@contoso.lab:pw').toString('base64') } });
    expect(basic.json<Echo>().user).toBe('erin@contoso.lab');
  });

  it('works with real curl --ntlm over HTTP and HTTPS', async () => {
    const { stdout } = await run('curl', ['-s', '--ntlm', '-u', 'CONTOSO\\frank:secret', `http://127.0.0.1:${cas.httpPort}/EWS/Exchange.asmx`]);
    expect(JSON.parse(stdout)).toMatchObject({ user: 'CONTOSO\\frank', requestOnConnection: 2 });
    const secure = await run('curl', ['-sk', '--ntlm', '-u', 'grace:pw', '-d', 'hello', `https://127.0.0.1:${cas.httpsPort}/mapi/x`]);
    expect(JSON.parse(secure.stdout)).toMatchObject({ user: 'grace', tls: true, bodyLength: 5 });
  });
});
