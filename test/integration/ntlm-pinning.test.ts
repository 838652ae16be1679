// NTLM/Negotiate authenticate a TCP connection. Through the proxy, each client connection that authenticates must
// get a backend connection of its own: 50 clients handshaking at once and then making 100 requests each must never
// ride each other's authenticated connections (the mock counts every violation).
import { Client } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { loadDirectoryFile } from '../../src/lab/mock/directory.js';
import { buildAuthenticate, buildNegotiate } from '../../src/lab/mock/ntlm-messages.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { testCertificates, type TestGateway } from '../helpers/gateway-harness.js';

let cas1: MockCas;
let cas2: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;

beforeAll(async () => {
  // The lab directory plus user0..user49, one per client, so that each client is served as itself.
  const lab = loadDirectoryFile();
  const directory = { ...lab, users: [...lab.users, ...Array.from({ length: 50 }, (_, i) => ({ name: `user${i}`, password: `Pw-${i}` }))] };
  env = await startCasAndGateway(2, { pools: { cas: { health: { enabled: false } } } }, () => ({ directory }));
  cas1 = env.cas[0]!;
  cas2 = env.cas[1]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

async function authenticatedClient(i: number): Promise<{ client: Client; user: string }> {
  // One connection, like a browser or Outlook holding its authenticated socket.
  const client = new Client(gw.url, { pipelining: 1, connect: { ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' } });
  const me = { host: 'mail.contoso.lab', 'x-test-client': `client-${i}` };
  const send = async (authorization?: string) => {
    const res = await client.request({ path: '/EWS/Exchange.asmx', method: 'GET', headers: authorization ? { ...me, authorization } : me });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  };
  const type1 = await send(`NTLM ${buildNegotiate().toString('base64')}`);
  expect(type1.status).toBe(401);
  expect(String(type1.headers['www-authenticate'])).toMatch(/^NTLM \S+/);
  const type2 = Buffer.from(String(type1.headers['www-authenticate']).slice(5), 'base64');
  const type3 = await send(`NTLM ${buildAuthenticate('CONTOSO', `user${i}`, 'WS01', { password: `Pw-${i}`, challenge: type2 }).toString('base64')}`);
  expect(type3.status).toBe(200);
  return { client, user: `CONTOSO\\user${i}` };
}

test('50 concurrent clients authenticate with NTLM and make 100 requests each with 0 violations', async () => {
  const clients = await Promise.all(Array.from({ length: 50 }, (_, i) => authenticatedClient(i)));
  await Promise.all(
    clients.map(async ({ client, user }, i) => {
      for (let n = 0; n < 100; n++) {
        const res = await client.request({ path: `/EWS/Exchange.asmx?n=${n}`, method: 'GET', headers: { host: 'mail.contoso.lab', 'x-test-client': `client-${i}` } });
        const echo = (await res.body.json()) as { user: string | null; server: string };
        expect(res.statusCode).toBe(200);
        // Served as the user who authenticated this client connection, by the server it authenticated against.
        expect(echo.user).toBe(user);
      }
    }),
  );
  const stats = [cas1.stats(), cas2.stats()];
  expect(stats[0]!.ntlmViolations + stats[1]!.ntlmViolations).toBe(0);
  expect(stats[0]!.ntlmHandshakes + stats[1]!.ntlmHandshakes).toBeGreaterThanOrEqual(50);
  const status = (await (await fetch(`${gw.adminUrl}/api/status`)).json()) as { pinnedConnections: number };
  expect(status.pinnedConnections).toBe(50);
  await Promise.all(clients.map(({ client }) => client.close()));
}, 60_000);

test('a Basic-auth client keeps using the shared keep-alive pool', async () => {
  const res = await gw.get('/EWS/Exchange.asmx', { headers: { host: 'mail.contoso.lab', authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=' } });
  expect(res.status).toBe(200);
  expect(gw.records.at(-1)?.pinned).toBe(false);
});

test('curl --ntlm completes the handshake through the proxy', async (ctx) => {
  const run = promisify(execFile);
  try {
    await run('curl', ['--version']);
  } catch {
    ctx.skip();
  }
  const { stdout } = await run('curl', [
    '-s', '--ntlm', '-u', 'CONTOSO\\alice:Passw0rd', '--cacert', `${testCertificates().dir}/ca.crt`,
    '--resolve', `mail.contoso.lab:${gw.port}:127.0.0.1`, `https://mail.contoso.lab:${gw.port}/EWS/Exchange.asmx`,
  ]);
  expect(JSON.parse(stdout).user).toMatch(/alice/i);
});
