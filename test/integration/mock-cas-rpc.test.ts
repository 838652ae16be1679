// Outlook Anywhere against the mock over raw sockets: Node's HTTP clients and parser know nothing of RPC_IN_DATA /
// RPC_OUT_DATA, which is the point. The mock must run the NTLM handshake on small requests, then keep a 1 GiB IN
// channel open reading bytes and echo them out of the paired OUT channel.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { RPC_OUT_FIRST_PDU, RPC_PING_PDU } from '../../src/lab/mock/rpc-channels.js';
import { buildAuthenticate, buildNegotiate } from '../../src/lab/mock/ntlm-messages.js';
import { eventually } from '../helpers/eventually.js';
import { rawConnect, type RawConn } from '../helpers/mock-cas-client.js';

let cas: MockCas;
const open: RawConn[] = [];
beforeAll(async () => {
  cas = await startMockCas({ name: 'cas3' });
});
afterAll(async () => {
  for (const c of open) c.socket.destroy();
  await cas?.close();
});

async function connect(useTls = false): Promise<RawConn> {
  const c = await rawConnect(useTls ? cas.httpsPort : cas.httpPort, useTls);
  open.push(c);
  return c;
}

function head(method: string, contentLength: number, extra: string[] = []): string {
  return [`${method} /rpc/rpcproxy.dll?cas3.contoso.lab:6001 HTTP/1.1`, 'Host: mail.contoso.lab', `Content-Length: ${contentLength}`, 'User-Agent: MSRPC', ...extra, '', ''].join('\r\n');
}

/** An RTS PDU shaped like CONN/A1 (OUT, 76 bytes) or CONN/B1 (IN, starts the same way) carrying `cookie`. */
function rtsWithCookie(cookie: Buffer, length: number): Buffer {
  const b = Buffer.alloc(length);
  b.set([5, 0, 0x14, 3, 0x10, 0, 0, 0], 0);
  b.writeUInt16LE(length, 8);
  b.writeUInt32LE(6, 20); // Version command
  b.writeUInt32LE(1, 24);
  b.writeUInt32LE(3, 28); // Cookie command
  cookie.copy(b, 32);
  return b;
}

/** The handshake Outlook does before opening a channel: demand, type 1 -> type 2, and the type 3 on the channel request. */
async function handshake(c: RawConn, method: string): Promise<string> {
  c.write(head(method, 0));
  await eventually(() => c.text().includes('\r\n\r\n401 - Unauthorized'), { what: '401 demand' });
  expect(c.text()).toMatch(/WWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n/);
  c.clear();
  c.write(head(method, 0, [`Authorization: NTLM ${buildNegotiate().toString('base64')}`]));
  await eventually(() => /WWW-Authenticate: NTLM TlRMTVNTUAACAAAA[^\r]*\r\n[\s\S]*\r\n\r\n401 - Unauthorized\r\n/.test(c.text()), { what: 'type 2' });
  const type2 = Buffer.from(/WWW-Authenticate: NTLM (\S+)/.exec(c.text())![1]!, 'base64');
  c.clear();
  // A real NTLMv2 answer: the mock checks it against the lab directory (config/lab-users.yaml).
  return `Authorization: NTLM ${buildAuthenticate('CONTOSO', 'alice', 'WS01', { password: 'Passw0rd', challenge: type2 }).toString('base64')}`;
}

function bodyAfterHead(c: RawConn): Buffer {
  const data = c.received();
  const end = data.indexOf('\r\n\r\n');
  return end === -1 ? Buffer.alloc(0) : data.subarray(end + 4);
}

describe('RPC over HTTP', () => {
  for (const useTls of [false, true]) {
    it(`authenticates with NTLM and carries bytes from IN to OUT (${useTls ? 'TLS' : 'plain'})`, async () => {
      const outConn = await connect(useTls);
      const outAuth = await handshake(outConn, 'RPC_OUT_DATA');
      const cookie = randomBytes(16);
      outConn.write(head('RPC_OUT_DATA', 76, [outAuth, ...(useTls ? [] : ['X-RPC-Channel-Id: plain-1'])]));
      outConn.write(rtsWithCookie(cookie, 76));
      await eventually(() => bodyAfterHead(outConn).length >= RPC_OUT_FIRST_PDU.length, { what: 'OUT response' });
      expect(outConn.text()).toMatch(/^HTTP\/1\.1 200 Success\r\n/);
      expect(outConn.text()).toContain('Content-Length: 1073741824\r\n');
      expect(outConn.text()).toContain('X-FEServer: cas3\r\n');
      expect(bodyAfterHead(outConn).equals(RPC_OUT_FIRST_PDU)).toBe(true);

      const inConn = await connect(useTls);
      const inAuth = await handshake(inConn, 'RPC_IN_DATA');
      inConn.write(head('RPC_IN_DATA', 1_073_741_824, [inAuth, ...(useTls ? [] : ['X-RPC-Channel-Id: plain-1'])]));
      // Plain pairs by header; TLS by the virtual connection cookie in CONN/B1 (104 bytes).
      const first = useTls ? rtsWithCookie(cookie, 104) : Buffer.from('first bytes of the IN channel');
      inConn.write(first);
      await eventually(() => cas.stats().activeRpcChannels.in >= 1 && cas.stats().activeRpcChannels.out >= 1, { what: 'both channels open' });
      const payload = randomBytes(256 * 1024);
      inConn.write(payload);
      const expected = Buffer.concat([RPC_OUT_FIRST_PDU, first, payload]);
      await eventually(() => bodyAfterHead(outConn).length >= expected.length, { what: 'IN bytes on OUT' });
      expect(bodyAfterHead(outConn).equals(expected)).toBe(true);
      // The IN channel gets no response while it streams.
      expect(inConn.received().length).toBe(0);
      expect(cas.stats().rpcBytesIn).toBeGreaterThanOrEqual(payload.length);

      inConn.socket.destroy();
      outConn.socket.destroy();
      await eventually(() => cas.stats().activeRpcChannels.in === 0 && cas.stats().activeRpcChannels.out === 0, { what: 'channels closed' });
    });
  }

  it('trickles RTS Pings on an OUT channel when asked (X-Test-Keepalive-Ms)', async () => {
    const c = await connect();
    c.write(head('RPC_OUT_DATA', 76, [`Authorization: Basic ${Buffer.from('alice:Passw0rd').toString('base64')}`, 'X-RPC-Channel-Id: ka', 'X-Test-Keepalive-Ms: 30']));
    c.write(Buffer.alloc(76));
    await eventually(() => bodyAfterHead(c).length >= RPC_OUT_FIRST_PDU.length + 3 * RPC_PING_PDU.length, { what: 'pings' });
    const pings = bodyAfterHead(c).subarray(RPC_OUT_FIRST_PDU.length);
    expect(pings.subarray(0, RPC_PING_PDU.length).equals(RPC_PING_PDU)).toBe(true);
    c.socket.destroy();
  });

  it('demands auth and closes when a 1 GiB channel arrives without credentials', async () => {
    const c = await connect();
    c.write(head('RPC_IN_DATA', 1_073_741_824));
    await eventually(() => c.closed(), { what: 'connection closed' });
    expect(c.text()).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(c.text()).toContain('Connection: close');
  });

  it('answers a finished IN channel with 200 and takes an ordinary request on the same connection', async () => {
    const c = await connect();
    const basic = `Authorization: Basic ${Buffer.from('CONTOSO\\alice:Passw0rd').toString('base64')}`;
    c.write(head('RPC_IN_DATA', 5, [basic]) + 'hello');
    await eventually(() => c.text().includes('200 Success'), { what: 'IN channel end' });
    c.clear();
    c.write('GET /rpc/healthcheck.htm HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => c.text().includes('200 OK<br/>cas3.contoso.lab'), { what: 'healthcheck after RPC' });
  });

  it('takes an RPC request after ordinary ones on one connection (llhttp rejects the method)', async () => {
    const c = await connect(true);
    c.write('GET /rpc/healthcheck.htm HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => c.text().includes('200 OK<br/>'), { what: 'healthcheck' });
    c.clear();
    c.write(head('RPC_IN_DATA', 0, [`Authorization: Basic ${Buffer.from('alice:Passw0rd').toString('base64')}`]));
    await eventually(() => c.text().includes('HTTP/1.1 200 Success'), { what: 'RPC answer' });
  });

  it('answers malformed heads with 400 and closes, and keeps serving', async () => {
    for (const bad of [
      'RPC_IN_DATA /rpc/rpcproxy.dll HTTP/1.1\r\nno colon here\r\n\r\n',
      'RPC_IN_DATA /rpc/rpcproxy.dll HTTP/1.1\r\nContent-Length: lots\r\n\r\n',
      'RPC_OUT_DATA /rpc/rpcproxy.dll HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n',
      'RPC_IN_DATA garbage\r\n\r\n',
      'RPC_IN_DATA /x HTTP/1.1\r\n' + 'X: ' + 'a'.repeat(70_000),
    ]) {
      const c = await connect();
      c.write(bad);
      await eventually(() => c.closed(), { what: 'close after 400' });
      expect(c.text()).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    }
    const c = await connect();
    c.write('RPC_OUT');
    c.socket.destroy();
    const ok = await connect();
    ok.write('GET /rpc/healthcheck.htm HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => ok.text().includes('200 OK'), { what: 'still serving' });
  });
});
