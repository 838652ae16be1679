// Regression: a POST whose body the CAS did not read before answering 401 (IIS does this for NTLM challenges)
// crashed the response hook with "Invalid value used as weak map key": Node had already detached req.socket,
// and the engine pinned the connection by it. The client got a 502 instead of the challenge.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { type TestGateway } from '../helpers/gateway-harness.js';

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

test('an unauthenticated EWS POST gets the 401 challenge with both schemes, and the connection is pinned', async () => {
  const res = await gw.get('/EWS/Exchange.asmx', { method: 'POST', body: '<soap:Envelope/>', headers: { host: 'mail.contoso.lab', 'content-type': 'text/xml' } });
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toEqual(['Negotiate', 'NTLM']);
  expect(gw.records.at(-1)).toMatchObject({ status: 401, pinned: true });
  expect(gw.records.at(-1)?.error).toBeUndefined();
});
