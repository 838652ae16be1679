// Abusive clients must never crash the mock (node-http-proxy's most common complaint is a proxy dying on ECONNRESET;
// a mock that dies would hide it). Any uncaught error here fails the run; afterwards the mock must still answer.
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { eventually } from '../helpers/eventually.js';
import { call, rawConnect, watch } from '../helpers/mock-cas-client.js';

let cas: MockCas;
beforeAll(async () => {
  cas = await startMockCas({ name: 'cas5' });
});
afterAll(async () => {
  await cas?.close();
});

const basic = 'Basic ' + Buffer.from('alice:Passw0rd').toString('base64');

async function stillServing(): Promise<void> {
  expect((await call({ port: cas.httpPort, path: '/owa/healthcheck.htm' })).status).toBe(200);
  expect((await call({ port: cas.httpsPort, tls: true, path: '/owa/healthcheck.htm' })).status).toBe(200);
}

describe('abusive clients', () => {
  it('survives garbage, half heads and resets on every port', async () => {
    for (const port of [cas.httpPort, cas.httpsPort, cas.controlPort]) {
      for (const payload of [randomBytes(4096), Buffer.from('RPC_IN_DATA /rpc/rpcproxy.dll HTTP/1.1\r\nContent-Le'), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'), Buffer.from('R')]) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        await new Promise<void>((resolve) => s.once('connect', () => resolve()));
        s.write(payload);
        s.resetAndDestroy();
      }
    }
    // TLS handshakes abandoned halfway.
    const t = tls.connect({ port: cas.httpsPort, host: '127.0.0.1', rejectUnauthorized: false });
    t.on('error', () => undefined);
    t.destroy();
    await stillServing();
  });

  it('survives clients that vanish mid-stream in every protocol', async () => {
    // Download aborted halfway.
    const dl = watch({ port: cas.httpPort, path: '/__mock/bytes?size=200000000' });
    await eventually(() => dl.text().length > 100_000, { what: 'download started' });
    dl.abort();
    // Long polls aborted.
    const polls = [
      watch({ port: cas.httpPort, path: '/Microsoft-Server-ActiveSync?Cmd=Ping', method: 'POST', body: 'x' }),
      watch({ port: cas.httpPort, path: '/EWS/Exchange.asmx', method: 'POST', headers: { authorization: basic, 'x-test-interval-ms': '5' }, body: '<GetStreamingEvents/>' }),
    ];
    await eventually(() => cas.stats().activeLongPolls.activesync === 1 && cas.stats().activeLongPolls.ews === 1, { what: 'polls held' });
    polls.forEach((p) => p.abort());
    // RPC: OUT goes away while IN keeps streaming into it, then IN goes away mid-body.
    const out = await rawConnect(cas.httpPort);
    out.write(`RPC_OUT_DATA /rpc/rpcproxy.dll HTTP/1.1\r\nAuthorization: ${basic}\r\nX-RPC-Channel-Id: abuse\r\nContent-Length: 76\r\n\r\n`);
    out.write(Buffer.alloc(76));
    const inn = await rawConnect(cas.httpPort);
    inn.write(`RPC_IN_DATA /rpc/rpcproxy.dll HTTP/1.1\r\nAuthorization: ${basic}\r\nX-RPC-Channel-Id: abuse\r\nContent-Length: 1073741824\r\n\r\n`);
    await eventually(() => cas.stats().activeRpcChannels.out === 1 && cas.stats().activeRpcChannels.in === 1, { what: 'channels' });
    out.socket.resetAndDestroy();
    for (let i = 0; i < 50; i++) inn.write(randomBytes(64 * 1024));
    inn.socket.resetAndDestroy();
    await eventually(
      () => {
        const s = cas.stats();
        return s.activeLongPolls.activesync + s.activeLongPolls.ews + s.activeRpcChannels.in + s.activeRpcChannels.out === 0;
      },
      { what: 'everything released' },
    );
    await stillServing();
  });
});
