// What broke (issue 15, item 2's consequence): ~20,000 connections from one address took casgate to its descriptor
// limit; HTTPS, HTTP and the admin listener stopped answering, no client got `503 GATEWAY_EXHAUSTED`, and only a
// restart recovered. Now casgate counts its client connections against the limit: past a first ceiling, new
// connections are answered 503 GATEWAY_EXHAUSTED and closed; past a second one they are closed at accept; a reserve is
// never used by clients, so the admin listener keeps answering; and everything is normal again once the flood closes.
// casgate runs as a child process under `ulimit -n 256` (ceilings 96 and 128: descriptor-limit.ts).
import { connect, type Socket } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { connectionCeilings } from '../../src/frontend/descriptor-limit.js';
import { startCasAndProcess, type CasAndProcess } from '../helpers/cas-and-gateway.js';
import type { CasgateProcess } from '../helpers/casgate-process.js';
import { eventually } from '../helpers/eventually.js';
import { testCertificates } from '../helpers/gateway-harness.js';

const LIMIT = 256;
let cas: MockCas;
let gw: CasgateProcess;
let env: CasAndProcess | undefined;
const flood: Socket[] = [];

beforeAll(async () => {
  // Silent connections are held for the whole test (the handshake deadline would end the flood by itself).
  env = await startCasAndProcess(1, { ulimit: LIMIT, https: 'handshakeTimeout: 60s' });
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  for (const s of flood) s.destroy();
  await env?.stop();
});

function openSilent(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => resolve());
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    flood.push(s);
  });
}

/** One request on a fresh connection: status and casgate's error code, or 'closed' if the connection was cut. */
async function owa(): Promise<{ status: number | 'closed'; error?: string }> {
  const agent = new Agent({ connect: { ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' }, pipelining: 0 });
  try {
    const res = await request(`https://127.0.0.1:${gw.httpsPort}/owa/`, { dispatcher: agent, headers: { host: 'mail.contoso.lab' }, headersTimeout: 5_000 });
    await res.body.dump();
    return { status: res.statusCode, error: res.headers['x-casgate-error'] as string | undefined };
  } catch {
    return { status: 'closed' };
  } finally {
    await agent.destroy();
  }
}

async function adminMetrics(): Promise<string> {
  const res = await request(`http://127.0.0.1:${gw.adminPort}/metrics`, { headersTimeout: 5_000 });
  return res.body.text();
}

describe(`a connection flood under a descriptor limit of ${LIMIT}`, () => {
  test('degrades to 503 GATEWAY_EXHAUSTED, then to closed connections, keeps the admin listener, and recovers by itself', async () => {
    const { shedAt, refuseAt } = connectionCeilings(LIMIT)!;
    expect(await owa()).toEqual({ status: 302 });

    // Past the first ceiling: new clients are told.
    for (let i = 0; i < shedAt + 5; i++) await openSilent(gw.httpsPort);
    await eventually(() => gw.descriptors() > shedAt, { what: 'casgate to hold the flood' });
    expect(await owa()).toEqual({ status: 503, error: 'GATEWAY_EXHAUSTED' });
    expect(await adminMetrics()).toMatch(/casgate_connections_exhausted_total\{action="shed"\} [1-9]/);

    // Past the descriptor limit itself: new clients are closed at accept; the admin listener still answers.
    for (let i = 0; i < LIMIT + 100; i++) await openSilent(gw.httpsPort);
    expect(gw.descriptors()).toBeLessThan(LIMIT);
    expect((await owa()).status).toBe('closed');
    const metrics = await adminMetrics();
    expect(metrics).toMatch(/casgate_connections_exhausted_total\{action="refused"\} [1-9]/);
    expect(gw.descriptors()).toBeLessThanOrEqual(refuseAt + 64);

    // The flood ends: everything is normal again, without a restart.
    for (const s of flood.splice(0)) s.destroy();
    await eventually(async () => (await owa()).status === 302, { timeoutMs: 10_000, what: 'casgate to serve normally again' });
    expect(gw.output()).not.toMatch(/EMFILE|uncaught|Unhandled/i);
  }, 60_000);
});
