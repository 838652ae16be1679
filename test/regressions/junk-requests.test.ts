// What broke (issue 15, item 9): an HTTP/0.9 request (`GET /`), 20 KB of bare CRLF and a bare-LF Outlook Anywhere head
// got no answer and held the connection open; a 1 MiB request head was closed without its 431 (casgate closed with
// the rest of the head unread, so the kernel answered with a reset that destroyed the response in flight). Now: 400
// or 431, then the connection is closed, and what the client still sends is read and dropped until it closes.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndProcess, type CasAndProcess } from '../helpers/cas-and-gateway.js';
import type { CasgateProcess } from '../helpers/casgate-process.js';
import { eventually } from '../helpers/eventually.js';
import { openTls } from '../helpers/raw-tls.js';

let cas: MockCas;
let gw: CasgateProcess;
let env: CasAndProcess | undefined;

beforeAll(async () => {
  // The default head deadline (far longer than these tests wait): the answers must not come from it.
  env = await startCasAndProcess(1);
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

async function answerTo(data: string | Buffer): Promise<{ text: string; closedAfter: number }> {
  const c = await openTls(gw.httpsPort);
  c.write(data);
  await eventually(() => c.closedAfter() !== undefined, { timeoutMs: 5_000, what: 'the connection to be closed' });
  const closedAfter = c.closedAfter()!;
  return { text: c.text(), closedAfter };
}

const MIB = 1024 * 1024;

describe('junk on the HTTPS port', () => {
  test.each([
    ['an HTTP/0.9 request', 'GET /\r\n'],
    ['20 KB of bare CRLF', '\r\n'.repeat(10_240)],
    ['a bare-LF RPC head', 'RPC_IN_DATA /rpc/rpcproxy.dll?cas1:6001 HTTP/1.1\nHost: mail.contoso.lab\nContent-Length: 0\n\n'],
    ['a bare-LF GET head', 'GET /owa/ HTTP/1.1\nHost: mail.contoso.lab\n\n'],
  ])('%s: 400 and closed', async (_what, data) => {
    const { text, closedAfter } = await answerTo(data);
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toMatch(/Connection: close\r\n/i);
    expect(closedAfter).toBeLessThan(3_000);
  });

  test.each([
    ['a GET head', `GET /owa/ HTTP/1.1\r\nHost: mail.contoso.lab\r\nX-Big: ${'a'.repeat(MIB)}\r\n\r\n`],
    ['an RPC_IN_DATA head', `RPC_IN_DATA /rpc/rpcproxy.dll?cas1:6001 HTTP/1.1\r\nHost: mail.contoso.lab\r\nX-Big: ${'a'.repeat(MIB)}\r\n\r\n`],
  ])('a 1 MiB request head (%s): 431 reaches the client, then the connection is closed', async (_what, data) => {
    const { text } = await answerTo(data);
    expect(text).toMatch(/^HTTP\/1\.1 431 /);
  });

  test('a well-formed request with one leading CRLF is still served', async () => {
    const { text } = await answerTo('\r\nGET /owa/ HTTP/1.1\r\nHost: mail.contoso.lab\r\nConnection: close\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 302 /);
  });
});
