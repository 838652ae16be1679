// What broke (issue 15, item 9): a client sending its request body one byte every 5 s was never cut, and each such
// client held a CAS connection. Now a body must bring `bodyMinRate` bytes per second in each `bodyGrace` window:
// below it, 408, the connection is closed, and the request to the CAS is aborted (its connection released). Also
// here: the keep-alive idle deadline, counted like the others.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndProcess, type CasAndProcess } from '../helpers/cas-and-gateway.js';
import type { CasgateProcess } from '../helpers/casgate-process.js';
import { eventually } from '../helpers/eventually.js';
import { openTls } from '../helpers/raw-tls.js';

let cas: MockCas;
let gw: CasgateProcess;
let env: CasAndProcess | undefined;
const WINDOW_MS = 1_000;
const IDLE_MS = 1_000;

beforeAll(async () => {
  env = await startCasAndProcess(1, { https: `bodyGrace: ${WINDOW_MS}ms, bodyMinRate: 100, keepAliveTimeout: ${IDLE_MS}ms` });
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

const post = (length: number) =>
  `POST /owa/service.svc?action=Upload HTTP/1.1\r\nHost: mail.contoso.lab\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`;

describe('the minimum request-body rate', () => {
  test('a body sent one byte every 300 ms is cut with 408 and its CAS connection released', async () => {
    const closed = () => cas.stats().totalConnections - cas.stats().openConnections;
    const before = cas.stats().openConnections;
    const closedBefore = closed();
    const c = await openTls(gw.httpsPort);
    c.write(post(1_000));
    // The head reached the CAS: casgate holds a connection to it for this request.
    await eventually(() => cas.stats().openConnections > before, { what: 'the request to reach the CAS' });
    const startedAt = Date.now();
    const drip = setInterval(() => c.write('x'), 300);
    try {
      await eventually(() => c.closedAfter() !== undefined, { timeoutMs: 3 * WINDOW_MS + 3_000, what: 'the slow body to be cut' });
    } finally {
      clearInterval(drip);
    }
    expect(Date.now() - startedAt).toBeLessThan(2 * WINDOW_MS + 2_000);
    expect(c.text()).toMatch(/^HTTP\/1\.1 408 /);
    // The CAS connection that carried the request is closed (undici may open a fresh idle one in its place).
    await eventually(() => closed() > closedBefore, { timeoutMs: 3_000, what: 'the CAS connection to be released' });
    const active = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text();
    expect(active).toMatch(/casgate_backend_active_requests\{pool="cas\/owa",backend="cas1"\} 0/);
    // The client's fault: never counted against the CAS.
    expect(active).not.toMatch(/casgate_upstream_errors_total\{[^}]*backend="cas1"/);
    expect(active).toMatch(/casgate_backend_state\{pool="cas\/owa",backend="cas1",state="healthy"\} 1/);
    const metrics = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/casgate_client_timeouts_total\{kind="body"\} 1/);
  });

  test('a body sent steadily above the rate, for several windows, is forwarded whole', async () => {
    const c = await openTls(gw.httpsPort);
    const chunks = 8;
    c.write(post(chunks * 200));
    for (let i = 0; i < chunks; i++) {
      c.write('y'.repeat(200));
      await new Promise((r) => setTimeout(r, 400));
    }
    await eventually(() => c.text().includes('"bodyLength"'), { timeoutMs: 5_000, what: 'the CAS answer' });
    expect(c.text()).toMatch(/^HTTP\/1\.1 200 /);
    expect(c.text()).toContain(`"bodyLength":${chunks * 200}`);
    c.destroy();
  });
});

describe('the keep-alive idle deadline', () => {
  test('an idle connection after a response is closed (no answer) and counted as idle', async () => {
    const c = await openTls(gw.httpsPort);
    c.write('GET /owa/ HTTP/1.1\r\nHost: mail.contoso.lab\r\n\r\n');
    await eventually(() => c.text().includes('\r\n\r\n'), { what: 'the response' });
    const answered = c.text();
    // Node adds 1 s to keepAliveTimeout on the socket, so that a client's request racing the close is not reset.
    await eventually(() => c.closedAfter() !== undefined, { timeoutMs: IDLE_MS + 4_000, what: 'the idle connection to be closed' });
    expect(c.text()).toBe(answered);
    const metrics = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/casgate_client_timeouts_total\{kind="idle"\} [1-9]/);
  });
});
