// Outlook Anywhere through the proxy: RPC_IN_DATA / RPC_OUT_DATA (methods Node's parser refuses) carry the NTLM
// handshake and then 1 GB channels, streamed both ways with no buffering, cut only by the rpc route's idle timeout.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { RPC_OUT_FIRST_PDU } from '../../src/lab/mock/rpc-channels.js';
import { buildAuthenticate, buildNegotiate } from '../../src/lab/mock/ntlm-messages.js';
import { eventually } from '../helpers/eventually.js';
import { openTls, type RawTls } from '../helpers/raw-tls.js';
import { startCasAndGateway, type CasAndGateway } from '../helpers/cas-and-gateway.js';
import type { TestGateway } from '../helpers/gateway-harness.js';

let cas1: MockCas;
let gw: TestGateway;
let env: CasAndGateway | undefined;
const IDLE_MS = 1500;

beforeAll(async () => {
  env = await startCasAndGateway(1, {
    // Server-level timeouts far below the gaps the channel must survive: they must not apply to RPC channels.
    listen: { https: { headersTimeout: '500ms', keepAliveTimeout: '500ms' } },
    exchange: { timeouts: { rpc: { idle: `${IDLE_MS}ms` } } },
    pools: { cas: { health: { enabled: false } } },
  });
  cas1 = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

const open = (): Promise<RawTls> => openTls(gw.port);

const head = (method: string, length: number, extra: string[] = []) =>
  [`${method} /rpc/rpcproxy.dll?cas1.contoso.lab:6001 HTTP/1.1`, 'Host: mail.contoso.lab', `Content-Length: ${length}`, 'User-Agent: MSRPC', ...extra, '', ''].join('\r\n');

/** Demand, type 1 → type 2 on small requests, as Outlook does before opening the channel on the same connection. */
async function handshake(c: RawTls, method: string): Promise<string> {
  c.write(head(method, 0));
  await eventually(() => c.text().includes('401 - Unauthorized'), { what: '401 demand' });
  expect(c.text()).toMatch(/WWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n/);
  c.clear();
  c.write(head(method, 0, [`Authorization: NTLM ${buildNegotiate().toString('base64')}`]));
  await eventually(() => /WWW-Authenticate: NTLM TlRMTVNTUAACAAAA/.test(c.text()) && c.text().includes('401 - Unauthorized'), { what: 'type 2' });
  const type2 = Buffer.from(/WWW-Authenticate: NTLM (\S+)/.exec(c.text())![1]!, 'base64');
  c.clear();
  // A real NTLMv2 answer: the mock checks it against the lab directory (config/lab-users.yaml).
  return `Authorization: NTLM ${buildAuthenticate('CONTOSO', 'alice', 'WS01', { password: 'Passw0rd', challenge: type2 }).toString('base64')}`;
}

const bodyOf = (c: RawTls) => {
  const d = c.received();
  const end = d.indexOf('\r\n\r\n');
  return end < 0 ? Buffer.alloc(0) : d.subarray(end + 4);
};

describe('Outlook Anywhere', () => {
  test('an RPC_IN_DATA / RPC_OUT_DATA pair authenticates, carries bytes both ways and outlives server timeouts', async () => {
    const out = await open();
    const outAuth = await handshake(out, 'RPC_OUT_DATA');
    const started = Date.now();
    out.write(head('RPC_OUT_DATA', 76, [outAuth, 'X-RPC-Channel-Id: t1']));
    out.write(Buffer.alloc(76, 1));
    await eventually(() => bodyOf(out).length >= RPC_OUT_FIRST_PDU.length, { what: 'OUT channel first PDU' });
    // The first chunk comes through at once: nothing waits for a 1 GB body.
    expect(Date.now() - started).toBeLessThan(1000);
    expect(out.text()).toMatch(/^HTTP\/1\.1 200 Success\r\n/);
    expect(out.text()).toContain('Content-Length: 1073741824');

    const inn = await open();
    const inAuth = await handshake(inn, 'RPC_IN_DATA');
    inn.write(head('RPC_IN_DATA', 1_073_741_824, [inAuth, 'X-RPC-Channel-Id: t1']));
    const sent: Buffer[] = [RPC_OUT_FIRST_PDU];
    for (let round = 0; round < 3; round++) {
      const payload = randomBytes(64 * 1024);
      inn.write(payload);
      sent.push(payload);
      const expected = Buffer.concat(sent);
      await eventually(() => bodyOf(out).length >= expected.length, { what: `round ${round} bytes on OUT` });
      expect(bodyOf(out).equals(expected)).toBe(true);
      // Idle for longer than the server's headersTimeout and keepAliveTimeout, less than the rpc idle timeout.
      await new Promise((r) => setTimeout(r, 1000));
      expect(out.closed() || inn.closed()).toBe(false);
    }
    expect(Date.now() - started).toBeGreaterThan(IDLE_MS); // no total limit: it lived past one idle period
    expect(cas1.stats().ntlmViolations).toBe(0);
    const status = (await (await fetch(`${gw.adminUrl}/api/status`)).json()) as { rpcTunnels: number };
    expect(status.rpcTunnels).toBe(2);

    // Silent for longer than the rpc idle timeout: both channels are closed and logged with their byte counts.
    await eventually(() => out.closed() && inn.closed(), { timeoutMs: IDLE_MS * 4, what: 'idle channels closed' });
    const closedLine = gw.logLines.find((l) => l.includes('rpc channel closed') && l.includes('channel=RPC_IN_DATA'));
    expect(closedLine).toMatch(/backend=cas1 .*bytesIn=\d+ bytesOut=\d+ .*reason="idle timeout"/);

    // The access log has each head, as IIS logs them: the handshake's two 401s, then the channel, with its user.
    for (const method of ['RPC_OUT_DATA', 'RPC_IN_DATA']) {
      const rows = gw.records.filter((r) => r.method === method);
      expect(rows.map((r) => r.status)).toEqual([401, 401, 200]);
      expect(rows.every((r) => r.url === '/rpc/rpcproxy.dll?cas1.contoso.lab:6001' && r.backend === 'cas1' && r.host === 'mail.contoso.lab')).toBe(true);
      expect(rows[2]).toMatchObject({ user: 'CONTOSO\\alice', errorDetail: 'idle timeout', userAgent: 'MSRPC' });
      expect(rows[2]!.durationMs).toBeGreaterThan(IDLE_MS);
      expect(new Set(rows.map((r) => r.requestId)).size).toBe(3);
    }
    const inChannel = gw.records.filter((r) => r.method === 'RPC_IN_DATA')[2]!;
    // Its head and the three payloads: the head is the channel's, not the previous exchange's.
    expect(inChannel.bytesReceived).toBeGreaterThan(3 * 64 * 1024 + 100);
    const outChannel = gw.records.filter((r) => r.method === 'RPC_OUT_DATA')[2]!;
    expect(outChannel.bytesSent).toBeGreaterThan(3 * 64 * 1024);
  });

  test('a handshake head is logged with the time to its answer, not to what the client does next', async () => {
    const before = gw.records.length;
    const c = await open();
    c.write(head('RPC_IN_DATA', 0));
    await eventually(() => c.text().includes('401 - Unauthorized'), { what: '401 demand' });
    await new Promise((r) => setTimeout(r, 1_200));
    c.destroy();
    const row = await eventually(() => gw.records.slice(before).find((r) => r.method === 'RPC_IN_DATA'), { what: 'the record' });
    expect(row.status).toBe(401);
    expect(row.durationMs).toBeLessThan(1_000);
  });

  test('a malformed RPC request head gets 400 and the proxy keeps serving', async () => {
    const c = await open();
    c.write('RPC_IN_DATA /rpc/rpcproxy.dll HTTP/1.1\r\nContent-Length: lots\r\n\r\n');
    await eventually(() => c.closed(), { what: 'closed after 400' });
    expect(c.text()).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    const c2 = await open();
    c2.write('RPC_IN_DATA /owa/ HTTP/1.1\r\nHost: mail.contoso.lab\r\nContent-Length: 0\r\n\r\n');
    await eventually(() => c2.closed(), { what: 'closed after 404' });
    expect(c2.text()).toMatch(/^HTTP\/1\.1 404/);
    expect((await gw.get('/owa/')).status).toBe(302);
    const refused = gw.records.filter((r) => r.method === 'RPC_IN_DATA' && r.error !== undefined);
    expect(refused.map((r) => [r.status, r.error, r.url])).toEqual([
      [400, 'BAD_REQUEST', ''],
      [404, 'NO_ROUTE', '/owa/'],
    ]);
    expect(refused.every((r) => r.backend === undefined && r.bytesSent > 0)).toBe(true);
  });
});
