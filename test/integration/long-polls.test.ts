// Exchange's long-lived requests through the proxy: ActiveSync Ping holds the response before any header,
// MAPI NotificationWait streams PENDING chunks, EWS GetStreamingEvents streams notifications. Only the route's
// own timeouts apply (shortened here to keep the test quick), never Node's or undici's 300 s defaults, and every
// chunk reaches the client as it is sent.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import { type TestGateway } from '../helpers/gateway-harness.js';

let cas1: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;
const basic = { host: 'mail.contoso.lab', authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=' };

beforeAll(async () => {
  env = await startCasAndGateway(1, {
    // A scaled-down Exchange: ActiveSync may hold 2 s before headers, MAPI may be idle 600 ms between chunks.
    exchange: { timeouts: { activesync: { firstByte: '2s', idle: '2s' }, mapi: { firstByte: '2s', idle: '600ms' }, ews: { firstByte: '2s', idle: '600ms' } } },
    pools: { cas: { health: { enabled: false } } },
  });
  cas1 = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

describe('long polls', () => {
  test('an ActiveSync Ping held for most of the first-byte timeout is answered; one held longer gets 504', async () => {
    const path = '/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=D1&DeviceType=iPhone';
    const started = Date.now();
    const ok = await gw.get(path, { method: 'POST', body: 'ping', headers: { ...basic, 'x-test-heartbeat-ms': '1500' } });
    expect(ok.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    const late = await gw.get(path, { method: 'POST', body: 'ping', headers: { ...basic, 'x-test-heartbeat-ms': '3000' } });
    expect(late.status).toBe(504);
  });

  test('MAPI NotificationWait streams its PENDING chunks as they come, and outlives the idle timeout while they flow', async () => {
    // Connect first: NotificationWait needs the session cookies, which pass through untouched.
    const connectRes = await request(`${gw.url}/mapi/emsmdb/?MailboxId=alice@contoso.lab`, {
      dispatcher: gw.client,
      method: 'POST',
      headers: { ...basic, 'x-requesttype': 'Connect', 'content-type': 'application/mapi-http' },
      body: 'connect',
    });
    await connectRes.body.text();
    const setCookies = connectRes.headers['set-cookie'] as string[];
    expect(setCookies.length).toBeGreaterThanOrEqual(2);
    expect(setCookies.some((c) => c.startsWith('MapiContext='))).toBe(true);
    expect(setCookies.some((c) => c.startsWith('MapiSequence='))).toBe(true);
    const cookie = setCookies.map((c) => c.split(';')[0]).join('; ');

    const started = Date.now();
    const res = await request(`${gw.url}/mapi/emsmdb/?MailboxId=alice@contoso.lab`, {
      dispatcher: gw.client,
      method: 'POST',
      headers: { ...basic, cookie, 'x-requesttype': 'NotificationWait', 'x-test-pending-ms': '200', 'x-test-hold-ms': '1500', 'content-type': 'application/mapi-http' },
      body: 'wait',
    });
    expect(res.statusCode).toBe(200);
    const arrivals: Array<[number, string]> = [];
    for await (const chunk of res.body) arrivals.push([Date.now() - started, (chunk as Buffer).toString('latin1')]);
    const text = arrivals.map(([, t]) => t).join('');
    expect(text).toMatch(/PENDING\r\n/);
    expect(text).toMatch(/DONE\r\n/);
    // Held 1.5 s, more than twice the 600 ms idle timeout, because chunks kept flowing.
    expect(arrivals.at(-1)![0]).toBeGreaterThanOrEqual(1400);
    // Not buffered: the first PENDING arrived long before the response ended.
    const firstPending = arrivals.find(([, t]) => t.includes('PENDING'))!;
    expect(firstPending[0]).toBeLessThan(arrivals.at(-1)![0] - 700);
  });

  test('EWS GetStreamingEvents notifications reach the client one by one', async () => {
    const started = Date.now();
    const res = await request(`${gw.url}/EWS/Exchange.asmx`, {
      dispatcher: gw.client,
      method: 'POST',
      headers: { ...basic, 'content-type': 'text/xml', 'x-test-interval-ms': '250', 'x-test-hold-ms': '1200' },
      body: '<soap:Envelope><soap:Body><GetStreamingEvents/></soap:Body></soap:Envelope>',
    });
    expect(res.statusCode).toBe(200);
    const times: number[] = [];
    for await (const _chunk of res.body) times.push(Date.now() - started);
    expect(times.length).toBeGreaterThanOrEqual(3);
    expect(times[0]!).toBeLessThan(times.at(-1)! - 500);
  });
});
