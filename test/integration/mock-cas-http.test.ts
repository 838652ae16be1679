// The mock CAS's plain HTTP behaviour: health probes per vdir, maintenance, OWA redirect, echo, MRSProxy's SSL
// requirement, the benchmark bodies and the control endpoint's faults.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { eventually } from '../helpers/eventually.js';
import { call, control, headerLines } from '../helpers/mock-cas-client.js';

let cas: MockCas;
beforeAll(async () => {
  cas = await startMockCas({ name: 'cas1' });
});
afterAll(async () => {
  await cas?.close();
});

describe('healthcheck.htm', () => {
  it('answers 200 OK<br/>fqdn for every Exchange vdir, case-insensitively, with the Exchange headers', async () => {
    for (const vdir of ['owa', 'ecp', 'EWS', 'mapi', 'rpc', 'Microsoft-Server-ActiveSync', 'OAB', 'Autodiscover', 'ews', 'MAPI']) {
      const r = await call({ port: cas.httpPort, path: `/${vdir}/healthcheck.htm` });
      expect(r.status, vdir).toBe(200);
      expect(r.text).toBe('200 OK<br/>cas1.contoso.lab');
      expect(r.headers['content-type']).toMatch(/^text\/html/);
      expect(r.headers['x-feserver']).toBe('cas1');
      expect(r.headers['x-calculatedbetarget']).toBe('cas1.contoso.lab');
      expect(r.headers['request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('has no healthcheck.htm for PowerShell', async () => {
    expect((await call({ port: cas.httpPort, path: '/PowerShell/healthcheck.htm' })).status).toBe(404);
  });

  it('fails every probe in maintenance and recovers when it ends', async () => {
    expect((await control(cas.httpPort, 'maintenance', { on: true })).status).toBe(200);
    try {
      for (const vdir of ['owa', 'EWS', 'mapi']) {
        const r = await call({ port: cas.httpsPort, tls: true, path: `/${vdir}/healthcheck.htm` });
        expect(r.status).toBe(503);
        expect(r.text).toContain('Service Unavailable');
      }
      expect(cas.stats().maintenance).toBe(true);
    } finally {
      await control(cas.controlPort, 'maintenance', { on: false });
    }
    expect((await call({ port: cas.httpPort, path: '/owa/healthcheck.htm' })).status).toBe(200);
  });

  it('fails or slows one vdir only, and resets it', async () => {
    await control(cas.controlPort, 'health', { vdir: 'EWS', status: 503, body: 'EWS down' });
    const ews = await call({ port: cas.httpPort, path: '/ews/healthcheck.htm' });
    expect([ews.status, ews.text]).toEqual([503, 'EWS down']);
    expect((await call({ port: cas.httpPort, path: '/owa/healthcheck.htm' })).status).toBe(200);

    await control(cas.controlPort, 'health', { vdir: 'mapi', status: 200, delayMs: 300 });
    const started = Date.now();
    expect((await call({ port: cas.httpPort, path: '/mapi/healthcheck.htm' })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);

    await control(cas.controlPort, 'health', { vdir: 'ews', reset: true });
    await control(cas.controlPort, 'health', { vdir: 'mapi', reset: true });
    expect((await call({ port: cas.httpPort, path: '/EWS/healthcheck.htm' })).status).toBe(200);
  });

  it('rejects a bad control request with a message', async () => {
    const r = await control(cas.controlPort, 'health', { vdir: 'nope', status: 503 });
    expect(r.status).toBe(400);
    expect(r.json<{ error: string }>().error).toMatch(/vdir/);
    expect((await control(cas.controlPort, 'frobnicate', {})).status).toBe(404);
  });
});

describe('OWA', () => {
  it('redirects /owa and /owa/ to the forms logon page, which answers 200', async () => {
    for (const path of ['/owa', '/OWA/']) {
      const r = await call({ port: cas.httpPort, path, headers: { host: 'mail.contoso.lab' } });
      expect(r.status).toBe(302);
      expect(r.headers.location).toBe('/owa/auth/logon.aspx?url=https%3a%2f%2fmail.contoso.lab%2fowa%2f&reason=0');
    }
    const logon = await call({ port: cas.httpPort, path: '/owa/auth/logon.aspx?url=x&reason=0' });
    expect(logon.status).toBe(200);
    expect(logon.text).toContain('<form');
  });
});

describe('echo', () => {
  it('describes the request: raw header lines, body length, connection and request counters', async () => {
    const r = await call({
      port: cas.httpPort,
      path: '/owa/service.svc?action=GetFolder',
      method: 'POST',
      headers: { 'X-Custom': 'One', Cookie: 'a=b' },
      body: 'x'.repeat(12345),
    });
    expect(r.status).toBe(200);
    const e = r.json<{
      server: string;
      method: string;
      url: string;
      bodyLength: number;
      rawHeaders: [string, string][];
      headers: Record<string, string>;
      tls: boolean;
      connectionId: number;
      requestOnConnection: number;
      user: string | null;
    }>();
    expect(e).toMatchObject({ server: 'cas1', method: 'POST', url: '/owa/service.svc?action=GetFolder', bodyLength: 12345, tls: false, user: null });
    expect(e.rawHeaders).toContainEqual(['X-Custom', 'One']);
    expect(e.headers['x-custom']).toBe('One');
    expect(e.requestOnConnection).toBe(1);
  });

  it('counts requests per connection over HTTPS keep-alive', async () => {
    const https = await import('node:https');
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const a = (await call({ port: cas.httpsPort, tls: true, path: '/oab/x', agent })).json<{ connectionId: number; requestOnConnection: number; tls: boolean }>();
      const b = (await call({ port: cas.httpsPort, tls: true, path: '/oab/y', agent })).json<{ connectionId: number; requestOnConnection: number }>();
      expect(a.tls).toBe(true);
      expect(b.connectionId).toBe(a.connectionId);
      expect(b.requestOnConnection).toBe(a.requestOnConnection + 1);
    } finally {
      agent.destroy();
    }
  });

  it('numbers pipelined requests in arrival order', async () => {
    const s = net.connect(cas.httpPort, '127.0.0.1');
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await new Promise((resolve) => s.once('close', resolve));
    expect(got.match(/"requestOnConnection":\d+/g)).toEqual(['"requestOnConnection":1', '"requestOnConnection":2', '"requestOnConnection":3']);
    expect(got.match(/"bodyLength":\d+/g)).toEqual(['"bodyLength":0', '"bodyLength":3', '"bodyLength":0']);
  });

  it('serves the benchmark bodies', async () => {
    expect((await call({ port: cas.httpPort, path: '/__mock/static' })).body.length).toBe(300);
    const big = await call({ port: cas.httpPort, path: '/__mock/bytes?size=3000000' });
    expect([big.status, big.body.length, big.headers['content-length']]).toEqual([200, 3_000_000, '3000000']);
    expect((await call({ port: cas.httpPort, path: '/__mock/bytes?size=-1' })).status).toBe(400);
  });
});

describe('MRSProxy (seed 000: no SSL offloading)', () => {
  it('answers 403 "SSL required" over plain HTTP and serves it over HTTPS', async () => {
    const plain = await call({ port: cas.httpPort, path: '/EWS/mrsproxy.svc', method: 'POST', body: '<x/>' });
    expect([plain.status, plain.text]).toEqual([403, 'SSL required']);
    const secure = await call({ port: cas.httpsPort, tls: true, path: '/EWS/mrsproxy.svc', headers: { authorization: 'Basic ' + Buffer.from('CONTOSO\\administrator:Adm1n-Passw0rd').toString('base64') } });
    expect(secure.status).toBe(200);
    expect(secure.json()).toMatchObject({ tls: true, user: 'CONTOSO\\administrator' });
  });

  it('presents the "Microsoft Exchange" certificate whose fingerprint the handle reports', async () => {
    const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: cas.httpsPort, rejectUnauthorized: false }, () => {
        resolve(s.getPeerCertificate());
        s.end();
      });
      s.on('error', reject);
    });
    expect(peer.subject.CN).toBe('Microsoft Exchange');
    expect(peer.subjectaltname).toBe('DNS:cas1, DNS:cas1.contoso.lab');
    expect(peer.fingerprint256).toBe(cas.fingerprint256);
    expect(cas.certificatePem).toContain('BEGIN CERTIFICATE');
  });
});

describe('faults scripted over /__mock/', () => {
  it('adds latency before response headers for a path prefix', async () => {
    await control(cas.controlPort, 'latency', { ms: 300, path: '/ecp' });
    try {
      let t = Date.now();
      expect((await call({ port: cas.httpPort, path: '/ECP/x' })).status).toBe(200);
      expect(Date.now() - t).toBeGreaterThanOrEqual(280);
      t = Date.now();
      await call({ port: cas.httpPort, path: '/oab/x' });
      expect(Date.now() - t).toBeLessThan(280);
    } finally {
      await control(cas.controlPort, 'latency', { ms: 0, path: '/ecp' });
    }
  });

  it('injects errors and resets connections, then clears them with reset', async () => {
    await control(cas.controlPort, 'errors', { status: 500, path: '/oab' });
    expect((await call({ port: cas.httpPort, path: '/OAB/oab.xml' })).status).toBe(500);
    expect((await call({ port: cas.httpPort, path: '/owa/auth/logon.aspx' })).status).toBe(200);

    await control(cas.controlPort, 'reset-connections', { on: true });
    const before = cas.stats().resets;
    await expect(call({ port: cas.httpPort, path: '/owa/auth/logon.aspx' })).rejects.toThrow();
    expect(cas.stats().resets).toBe(before + 1);
    // Control requests are never reset: that is how the test turns it off again.
    expect((await control(cas.httpPort, 'reset', {})).status).toBe(200);
    expect((await call({ port: cas.httpPort, path: '/OAB/oab.xml' })).status).toBe(200);
  });

  it('stops accepting connections (refused) while the control port stays up', async () => {
    const open = await new Promise<net.Socket>((resolve) => {
      const s = net.connect(cas.httpPort, '127.0.0.1', () => resolve(s));
    });
    try {
      await control(cas.controlPort, 'accept', { on: false });
      const refused = await new Promise<string>((resolve) => {
        const s = net.connect(cas.httpPort, '127.0.0.1', () => resolve('connected'));
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      });
      expect(refused).toBe('ECONNREFUSED');
      expect(cas.stats().accepting).toBe(false);
      // A connection opened before lives on.
      open.write('GET /owa/healthcheck.htm HTTP/1.1\r\nHost: x\r\n\r\n');
      let got = '';
      open.on('data', (d: Buffer) => (got += d.toString()));
      await eventually(() => got.includes('200 OK<br/>'), { what: 'answer on the old connection' });
    } finally {
      await control(cas.controlPort, 'accept', { on: true });
      open.destroy();
    }
    expect((await call({ port: cas.httpPort, path: '/owa/healthcheck.htm' })).status).toBe(200);
    expect((await call({ port: cas.httpsPort, tls: true, path: '/owa/healthcheck.htm' })).status).toBe(200);
  });

  it('reports stats and survives a client that aborts mid-body', async () => {
    const s = net.connect(cas.httpPort, '127.0.0.1');
    s.on('error', () => undefined);
    s.write('POST /owa/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc');
    await eventually(() => cas.stats().openConnections > 0, { what: 'connection open' });
    s.destroy();
    const st = (await control(cas.controlPort, 'stats')).json<{ requests: number; requestsByVdir: Record<string, number> }>();
    expect(st.requests).toBeGreaterThan(0);
    expect(st.requestsByVdir.owa).toBeGreaterThan(0);
    expect((await call({ port: cas.httpPort, path: '/owa/healthcheck.htm' })).status).toBe(200);
    expect(headerLines((await call({ port: cas.controlPort, path: '/owa/x' })).rawHeaders, 'x-feserver')).toEqual(['cas1']);
  });
});
