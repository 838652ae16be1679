// The access-log user (RequestRecord.user) through the real proxy: Basic per request, NTLM from the AUTHENTICATE
// message and kept for the pinned connection's later requests; nothing for anonymous requests.
import { Client } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { ntlmHandshake } from '../helpers/ntlm-client.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { testCertificates, type TestGateway } from '../helpers/gateway-harness.js';

let cas1: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;

beforeAll(async () => {
  env = await startCasAndGateway(1, { pools: { cas: { health: { enabled: false } } } });
  cas1 = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

test('Basic: the record names the user, never the password', async () => {
  const res = await gw.get('/EWS/Exchange.asmx', { headers: { host: 'mail.contoso.lab', authorization: `Basic ${Buffer.from('CONTOSO\\alice:Passw0rd').toString('base64')}` } });
  expect(res.status).toBe(200);
  const record = gw.records.at(-1)!;
  expect(record.user).toBe('CONTOSO\\alice');
  expect(JSON.stringify(record)).not.toContain('Passw0rd');
});

test('anonymous requests carry no user', async () => {
  await gw.get('/owa/');
  expect(gw.records.at(-1)!.user).toBeUndefined();
});

test('NTLM: the type 3 names DOMAIN\\user, and the pinned connection keeps it for later requests without credentials', async () => {
  const client = new Client(gw.url, { pipelining: 1, connect: { ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' } });
  try {
    await ntlmHandshake(client, '/EWS/Exchange.asmx', { domain: 'CONTOSO', user: 'alice', password: 'Passw0rd' });
    expect(gw.records.at(-2)!.user).toBeUndefined(); // the type 1 names nobody
    expect(gw.records.at(-1)!.user).toBe('CONTOSO\\alice');
    for (let i = 0; i < 3; i++) {
      const res = await client.request({ path: `/EWS/Exchange.asmx?n=${i}`, method: 'GET', headers: { host: 'mail.contoso.lab' } });
      await res.body.text();
      expect(res.statusCode).toBe(200);
      expect(gw.records.at(-1)!.user).toBe('CONTOSO\\alice');
    }
  } finally {
    await client.close();
  }
  // Another connection without credentials is anonymous again.
  await gw.get('/owa/healthcheck.htm');
  expect(gw.records.at(-1)!.user).toBeUndefined();
});
