// The access-log user (RequestRecord.user) through the real proxy: Basic per request, NTLM from the AUTHENTICATE
// message and kept for the pinned connection's later requests; nothing for anonymous requests.
import { Client } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { ntlmHandshake } from '../helpers/ntlm-client.js';
import { startTestGateway, testCertificates, type TestGateway } from '../helpers/gateway-harness.js';

let cas1: MockCas;
let gw: TestGateway;

beforeAll(async () => {
  cas1 = await startMockCas({ name: 'cas1' });
  gw = await startTestGateway([cas1], { pools: { cas: { health: { enabled: false } } } });
});
afterAll(async () => {
  await gw?.stop();
  await cas1?.close();
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
