// The long-lived Exchange requests a proxy must not buffer or time out: MAPI NotificationWait (PENDING chunks),
// ActiveSync Ping (no headers until the heartbeat ends) and EWS GetStreamingEvents (one envelope per interval).
// Test headers shorten Exchange's minutes to milliseconds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { eventually } from '../helpers/eventually.js';
import { call, headerLines, watch } from '../helpers/mock-cas-client.js';

let cas: MockCas;
beforeAll(async () => {
  cas = await startMockCas({ name: 'cas4' });
});
afterAll(async () => {
  await cas?.close();
});

const basic = { authorization: 'Basic ' + Buffer.from('CONTOSO\\alice:Passw0rd').toString('base64') };

function cookiesFrom(setCookie: string[]): string {
  return setCookie.map((c) => c.split(';')[0]).join('; ');
}

describe('MAPI over HTTP', () => {
  it('Connect sets the session cookies; Execute needs them and rotates MapiSequence', async () => {
    const connect = await call({
      port: cas.httpPort,
      path: '/mapi/emsmdb/?MailboxId=alice@contoso.lab',
      method: 'POST',
      headers: { ...basic, 'content-type': 'application/mapi-http', 'x-requesttype': 'Connect', 'x-requestid': '{1}:1', 'x-clientinfo': '{2}:1' },
      body: Buffer.alloc(40),
    });
    expect(connect.status).toBe(200);
    expect(connect.headers['x-responsecode']).toBe('0');
    expect(connect.headers['x-pendingperiod']).toBe('15000');
    expect(connect.headers['x-requestid']).toBe('{1}:1');
    const setCookie = headerLines(connect.rawHeaders, 'set-cookie');
    expect(setCookie.map((c) => c.split('=')[0])).toEqual(['MapiContext', 'MapiSequence', 'MapiRouting']);
    expect(connect.text.startsWith('PROCESSING\r\nDONE\r\nX-ResponseCode: 0\r\n')).toBe(true);

    const noCookie = await call({ port: cas.httpPort, path: '/mapi/emsmdb/', method: 'POST', headers: { ...basic, 'x-requesttype': 'Execute' }, body: 'x' });
    expect(noCookie.status).toBe(400);
    expect(noCookie.headers['x-responsecode']).toBe('13');
    const unknown = await call({ port: cas.httpPort, path: '/mapi/emsmdb/', method: 'POST', headers: { ...basic, 'x-requesttype': 'Execute', cookie: 'MapiContext=nope; MapiSequence=x' } });
    expect([unknown.status, unknown.headers['x-responsecode']]).toEqual([400, '10']);

    const cookie = cookiesFrom(setCookie);
    const exec = await call({ port: cas.httpPort, path: '/mapi/emsmdb/', method: 'POST', headers: { ...basic, 'x-requesttype': 'Execute', cookie }, body: Buffer.alloc(100) });
    expect([exec.status, exec.headers['x-responsecode']]).toEqual([200, '0']);
    const next = headerLines(exec.rawHeaders, 'set-cookie');
    expect(next[0]).toMatch(/^MapiSequence=/);
    // Replaying the old sequence cookie is refused (what a proxy mixing sessions would produce).
    const replay = await call({ port: cas.httpPort, path: '/mapi/emsmdb/', method: 'POST', headers: { ...basic, 'x-requesttype': 'Execute', cookie } });
    expect([replay.status, replay.headers['x-responsecode']]).toEqual([400, '15']);
  });

  it('NotificationWait streams PENDING chunks until the hold time, then DONE', async () => {
    const connect = await call({ port: cas.httpsPort, tls: true, path: '/mapi/emsmdb/', method: 'POST', headers: { ...basic, 'x-requesttype': 'Connect' } });
    const cookie = cookiesFrom(headerLines(connect.rawHeaders, 'set-cookie'));
    const w = watch({
      port: cas.httpsPort,
      tls: true,
      path: '/mapi/emsmdb/',
      method: 'POST',
      headers: { ...basic, cookie, 'x-requesttype': 'NotificationWait', 'x-test-pending-ms': '50', 'x-test-hold-ms': '400' },
      body: Buffer.alloc(8),
    });
    await eventually(() => w.text().split('PENDING\r\n').length > 3, { what: 'PENDING chunks' });
    expect(w.ended()).toBe(false);
    expect(w.headers()?.['transfer-encoding']).toBe('chunked');
    expect(w.headers()?.['x-pendingperiod']).toBe('50');
    expect(cas.stats().activeLongPolls.mapi).toBe(1);
    await eventually(() => w.ended(), { what: 'DONE' });
    expect(w.text()).toMatch(/^PROCESSING\r\n(PENDING\r\n)+DONE\r\nX-ResponseCode: 0\r\n/);
    await eventually(() => cas.stats().activeLongPolls.mapi === 0, { what: 'long poll released' });
  });
});

describe('ActiveSync', () => {
  it('holds Ping without sending headers for the heartbeat, then answers 200', async () => {
    const w = watch({
      port: cas.httpPort,
      path: '/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=ABC&DeviceType=iPhone',
      method: 'POST',
      headers: { ...basic, 'content-type': 'application/vnd.ms-sync.wbxml', 'x-test-heartbeat-ms': '400' },
      body: Buffer.from([3, 1, 0x6a, 0]),
    });
    await eventually(() => cas.stats().activeLongPolls.activesync === 1, { what: 'ping held' });
    expect(w.status()).toBeNull();
    await eventually(() => w.ended(), { what: 'ping answer' });
    expect(w.status()).toBe(200);
    expect(w.headers()?.['content-type']).toBe('application/vnd.ms-sync.wbxml');
    await eventually(() => cas.stats().activeLongPolls.activesync === 0, { what: 'ping released' });
  });

  it('answers every held Ping at once on POST /__mock/answer-pings, as when the heartbeat ends', async () => {
    const pings = [1, 2].map(() =>
      watch({ port: cas.httpPort, path: '/Microsoft-Server-ActiveSync?Cmd=Ping', method: 'POST', headers: { ...basic, 'x-test-heartbeat-ms': '600000' }, body: 'x' }),
    );
    await eventually(() => cas.stats().activeLongPolls.activesync === 2, { what: 'pings held' });
    const r = await call({ port: cas.httpPort, path: '/__mock/answer-pings', method: 'POST', body: '{}' });
    expect(r.status).toBe(200);
    await eventually(() => pings.every((w) => w.ended()), { what: 'ping answers' });
    expect(pings.map((w) => w.status())).toEqual([200, 200]);
    await eventually(() => cas.stats().activeLongPolls.activesync === 0, { what: 'pings released' });
  });

  it('releases a Ping whose client went away', async () => {
    const w = watch({ port: cas.httpPort, path: '/microsoft-server-activesync?Cmd=Ping', method: 'POST', body: 'x' });
    await eventually(() => cas.stats().activeLongPolls.activesync === 1, { what: 'ping held' });
    w.abort();
    await eventually(() => cas.stats().activeLongPolls.activesync === 0, { what: 'ping released' });
  });

  it('advertises versions and commands on OPTIONS', async () => {
    const r = await call({ port: cas.httpPort, path: '/Microsoft-Server-ActiveSync', method: 'OPTIONS' });
    expect(r.status).toBe(200);
    expect(r.headers['ms-asprotocolversions']).toContain('16.1');
    expect(r.headers['ms-asprotocolcommands']).toContain('Ping');
  });
});

describe('EWS', () => {
  it('streams GetStreamingEvents envelopes at the interval and closes after the hold', async () => {
    const w = watch({
      port: cas.httpPort,
      path: '/EWS/Exchange.asmx',
      method: 'POST',
      headers: { ...basic, 'content-type': 'text/xml', 'x-test-interval-ms': '50', 'x-test-hold-ms': '500' },
      body: '<soap:Envelope><soap:Body><m:GetStreamingEvents><m:SubscriptionIds/></m:GetStreamingEvents></soap:Body></soap:Envelope>',
    });
    await eventually(() => w.text().split('<m:ConnectionStatus>OK</m:ConnectionStatus>').length > 3, { what: 'notifications' });
    expect(w.ended()).toBe(false);
    expect(cas.stats().activeLongPolls.ews).toBe(1);
    await eventually(() => w.ended(), { what: 'stream end' });
    expect(w.text()).toContain('<m:ConnectionStatus>Closed</m:ConnectionStatus>');
  });

  it('echoes other SOAP calls', async () => {
    const r = await call({ port: cas.httpPort, path: '/ews/exchange.asmx', method: 'POST', headers: basic, body: '<GetFolder/>' });
    expect(r.json()).toMatchObject({ bodyLength: 12, user: 'CONTOSO\\alice' });
  });
});
