// Pinned (NTLM/Negotiate) backend connections are capped per backend: past `maxPinnedConnections`, a new client
// connection that starts a handshake gets 503 PINNED_LIMIT instead of exhausting the CAS; closing one frees a slot.
import { Client } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { buildNegotiate } from '../../src/lab/mock/ntlm-messages.js';
import { eventually } from '../helpers/eventually.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { testCertificates, type TestGateway } from '../helpers/gateway-harness.js';

let cas1: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;

beforeAll(async () => {
  env = await startCasAndGateway(1, { pools: { cas: { health: { enabled: false }, maxPinnedConnections: 2 } } });
  cas1 = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

async function startHandshake(): Promise<{ client: Client; status: number; error?: string }> {
  const client = new Client(gw.url, { pipelining: 1, connect: { ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' } });
  const res = await client.request({
    path: '/EWS/Exchange.asmx',
    method: 'GET',
    headers: { host: 'mail.contoso.lab', authorization: `NTLM ${buildNegotiate().toString('base64')}` },
  });
  await res.body.dump();
  return { client, status: res.statusCode, error: res.headers['x-casgate-error'] as string | undefined };
}

test('the third pinned client connection to a server capped at two gets 503 PINNED_LIMIT', async () => {
  const first = await startHandshake();
  const second = await startHandshake();
  const third = await startHandshake();
  expect([first.status, second.status]).toEqual([401, 401]);
  expect(third).toMatchObject({ status: 503, error: 'PINNED_LIMIT' });
  const status = (await (await fetch(`${gw.adminUrl}/api/status`)).json()) as { pools: Array<{ name: string; backends: Array<{ pinnedConnections: number }> }> };
  expect(status.pools.find((p) => p.name === 'cas/ews')!.backends[0]!.pinnedConnections).toBe(2);

  await first.client.close();
  await eventually(
    async () => {
      const attempt = await startHandshake();
      await attempt.client.close();
      return attempt.status === 401;
    },
    { what: 'a slot to free up after a client left' },
  );
  await Promise.all([second.client.close(), third.client.close()]);
});
