// What broke (issue 15, items 3 and 9): a connection whose first bytes are `RPC_` went to the Outlook Anywhere path
// and waited for its head without limit (`RPC_` alone, an unfinished head, a header line every 5 s: open past 200 s),
// and on the HTTP path a slow head was cut only after 60-90 s, however the deadline was set: Node checks its
// headersTimeout every 30 s. Now both paths have one total head deadline (listen.https.headersTimeout), counted from
// the head's first byte and never reset by later bytes, answered 408 and closed.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndProcess, type CasAndProcess } from '../helpers/cas-and-gateway.js';
import type { CasgateProcess } from '../helpers/casgate-process.js';
import { eventually } from '../helpers/eventually.js';
import { dribble, openTls } from '../helpers/raw-tls.js';

let cas: MockCas;
let gw: CasgateProcess;
let env: CasAndProcess | undefined;
const HEAD_MS = 1_000;

beforeAll(async () => {
  env = await startCasAndProcess(1, { https: `headersTimeout: ${HEAD_MS}ms` });
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

const RPC_LINES = ['RPC_IN_DATA /rpc/rpcproxy.dll?cas1.contoso.lab:6001 HTTP/1.1\r\n', 'Host: mail.contoso.lab\r\n', 'User-Agent: MSRPC\r\n', 'Content-Length: 0\r\n', 'X-A: 1\r\n', 'X-B: 2\r\n', 'X-C: 3\r\n', 'X-D: 4\r\n', 'X-E: 5\r\n', 'X-F: 6\r\n'];
const GET_LINES = ['GET /owa/ HTTP/1.1\r\n', 'Host: mail.contoso.lab\r\n', 'X-A: 1\r\n', 'X-B: 2\r\n', 'X-C: 3\r\n', 'X-D: 4\r\n', 'X-E: 5\r\n', 'X-F: 6\r\n', 'X-G: 7\r\n', 'X-H: 8\r\n'];

/** Closed with a 408 between the deadline and the deadline plus the sweep's granularity (and some load). */
async function expectCutAtDeadline(c: Awaited<ReturnType<typeof openTls>>, what: string): Promise<void> {
  await eventually(() => c.closedAfter() !== undefined, { timeoutMs: HEAD_MS + 4_000, what: `${what} to be closed` });
  const after = c.closedAfter()!;
  expect(after, what).toBeGreaterThanOrEqual(HEAD_MS - 50);
  expect(after, what).toBeLessThan(HEAD_MS + 2_500);
  expect(c.text(), what).toMatch(/^HTTP\/1\.1 408 /);
}

describe('the request head deadline', () => {
  test.each([
    ['`RPC_` alone', ['RPC_']],
    ['an unfinished RPC_IN_DATA head', [RPC_LINES.slice(0, 3).join('')]],
    ['an unfinished GET head', [GET_LINES.slice(0, 2).join('')]],
  ])('%s: 408 and closed at the deadline', async (what, parts) => {
    const c = await openTls(gw.httpsPort);
    for (const p of parts) c.write(p);
    await expectCutAtDeadline(c, what);
  });

  test.each([
    ['an RPC head', RPC_LINES],
    ['a GET head', GET_LINES],
  ])('%s sent one line every 300 ms is not saved by its bytes: 408 at the deadline', async (what, lines) => {
    const c = await openTls(gw.httpsPort);
    const sending = dribble(c, lines, 300);
    await expectCutAtDeadline(c, what);
    await sending;
  });

  test("a keep-alive connection's second request, sent slowly, gets the same deadline", async () => {
    const c = await openTls(gw.httpsPort);
    c.write('GET /owa/ HTTP/1.1\r\nHost: mail.contoso.lab\r\n\r\n');
    await eventually(() => c.text().includes('\r\n\r\n'), { what: 'the first response' });
    expect(c.text()).toMatch(/^HTTP\/1\.1 302 /);
    const first = c.text().length;
    const startedAt = Date.now();
    const sending = dribble(c, GET_LINES, 300);
    await eventually(() => c.closedAfter() !== undefined, { timeoutMs: HEAD_MS + 4_000, what: 'the slow second request to be cut' });
    await sending;
    expect(Date.now() - startedAt).toBeLessThan(HEAD_MS + 2_500);
    expect(c.text().slice(first)).toMatch(/^HTTP\/1\.1 408 /);
  });

  test('a head sent at once, on a connection silent for less than the deadline, is served', async () => {
    const c = await openTls(gw.httpsPort);
    await new Promise((r) => setTimeout(r, HEAD_MS / 2));
    c.write('GET /owa/ HTTP/1.1\r\nHost: mail.contoso.lab\r\nConnection: close\r\n\r\n');
    await eventually(() => c.closedAfter() !== undefined);
    expect(c.text()).toMatch(/^HTTP\/1\.1 302 /);
  });
});
