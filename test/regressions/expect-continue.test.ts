// What broke (issue 15, item 5): casgate removed `Expect: 100-continue` from RPC_IN_DATA / RPC_OUT_DATA heads and
// never sent `100 Continue` itself, so an Outlook Anywhere client that waits for it before sending its body (impacket's)
// hung, while it worked straight to the CAS. Now the RPC tunnel passes Expect to the CAS and relays its 100 (HTTP.sys
// answers it as soon as the head is in, as the mock does). On ordinary requests casgate sends the 100 itself when the
// request is forwarded to a server, and a request it answers itself (404, 403) gets its final status without a 100.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndProcess, type CasAndProcess } from '../helpers/cas-and-gateway.js';
import type { CasgateProcess } from '../helpers/casgate-process.js';
import { eventually } from '../helpers/eventually.js';
import { openTls, type RawTls } from '../helpers/raw-tls.js';

let cas: MockCas;
let gw: CasgateProcess;
let env: CasAndProcess | undefined;

beforeAll(async () => {
  env = await startCasAndProcess(1);
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/** Sends a head, waits (as a strict client does) for `100 Continue`, then sends the body; returns what followed. */
async function sendWaitingForContinue(c: RawTls, head: string, body: Buffer): Promise<string> {
  c.write(head);
  await eventually(() => c.text().startsWith(CONTINUE), { timeoutMs: 3_000, what: `100 Continue (got ${JSON.stringify(c.text())})` });
  c.write(body);
  await eventually(() => /\r\n\r\n/.test(c.text().slice(CONTINUE.length)), { timeoutMs: 3_000, what: 'the final response' });
  return c.text().slice(CONTINUE.length);
}

describe('Expect: 100-continue', () => {
  test('RPC_OUT_DATA: the CAS\'s 100 Continue reaches the client, which then sends CONN/A1 and gets the answer', async () => {
    const c = await openTls(gw.httpsPort);
    const head =
      'RPC_OUT_DATA /rpc/rpcproxy.dll?cas1.contoso.lab:6001 HTTP/1.1\r\nHost: mail.contoso.lab\r\nUser-Agent: MSRPC\r\n' +
      'Content-Length: 76\r\nExpect: 100-continue\r\n\r\n';
    const rest = await sendWaitingForContinue(c, head, Buffer.alloc(76, 1));
    // Not authenticated: the CAS's NTLM demand, on the same connection.
    expect(rest).toMatch(/^HTTP\/1\.1 401 /);
    expect(rest).toMatch(/WWW-Authenticate: NTLM/);
    c.destroy();
  });

  test('RPC_IN_DATA: the same', async () => {
    const c = await openTls(gw.httpsPort);
    const head =
      'RPC_IN_DATA /rpc/rpcproxy.dll?cas1.contoso.lab:6001 HTTP/1.1\r\nHost: mail.contoso.lab\r\nUser-Agent: MSRPC\r\n' +
      'Content-Length: 104\r\nExpect: 100-continue\r\n\r\n';
    const rest = await sendWaitingForContinue(c, head, Buffer.alloc(104, 2));
    expect(rest).toMatch(/^HTTP\/1\.1 401 /);
    c.destroy();
  });

  test('an ordinary POST: 100 Continue when it is forwarded, then the body reaches the CAS whole', async () => {
    const c = await openTls(gw.httpsPort);
    const body = Buffer.from('<soap:Envelope>0123456789</soap:Envelope>');
    const head =
      'POST /owa/service.svc?action=Echo HTTP/1.1\r\nHost: mail.contoso.lab\r\nContent-Type: text/xml\r\n' +
      `Content-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
    const rest = await sendWaitingForContinue(c, head, body);
    expect(rest).not.toContain('100 Continue');
    await eventually(() => c.closedAfter() !== undefined);
    expect(c.text()).not.toMatch(/x-casgate-error/i);
    expect(c.text()).toContain(`"bodyLength":${body.length}`);
  });

  test('a request casgate answers itself gets its final status and no 100 Continue (its body is never asked for)', async () => {
    const c = await openTls(gw.httpsPort);
    c.write('POST /not-published/ HTTP/1.1\r\nHost: mail.contoso.lab\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n');
    await eventually(() => c.text().includes('\r\n\r\n'), { timeoutMs: 3_000, what: 'an answer' });
    expect(c.text()).toMatch(/^HTTP\/1\.1 404 /);
    c.destroy();
  });
});
