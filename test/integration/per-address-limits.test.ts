// Optional per-address limits (listen.https.perAddress): open connections and new connections per second from one
// client address. Over a limit a new connection is reset at accept, counted, and logged once per address per minute.
// A trusted proxy (listen.trustForwardedFrom: a load balancer in front) carries many clients and is not limited.
import { connect, type Socket } from 'node:net';
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
  env = await startCasAndProcess(1, { https: 'perAddress: { maxConnections: 5, maxNewPerSecond: 15 }', trustForwardedFrom: ['127.0.0.2'] });
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

/** A raw TCP connection: 'reset' if casgate reset it right after accept, else the open socket. */
function tcp(port: number, localAddress = '127.0.0.1'): Promise<{ outcome: 'open' | 'reset'; socket: Socket }> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    socket.once('error', () => resolve({ outcome: 'reset', socket }));
    socket.once('close', () => resolve({ outcome: 'reset', socket }));
    socket.once('connect', () => setTimeout(() => resolve({ outcome: socket.destroyed ? 'reset' : 'open', socket }), 300));
  });
}

const metric = async (limit: string): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text();
  return Number(new RegExp(`casgate_connections_limited_total\\{limit="${limit}"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
};

describe('per-address limits', () => {
  test('open connections: the 6th from one address is reset, and admitted again once one closes', async () => {
    const held = await Promise.all(Array.from({ length: 5 }, () => tcp(gw.httpsPort)));
    expect(held.map((h) => h.outcome)).toEqual(Array(5).fill('open'));
    expect((await tcp(gw.httpsPort)).outcome).toBe('reset');
    expect(await metric('connections')).toBeGreaterThanOrEqual(1);
    held[0]!.socket.destroy();
    await new Promise((r) => setTimeout(r, 1_100)); // a new second for the rate limit too
    const c = await eventually(() => openTls(gw.httpsPort), { what: 'a TLS connection to be admitted' });
    c.write('GET /owa/ HTTP/1.1\r\nHost: mail.contoso.lab\r\nConnection: close\r\n\r\n');
    await eventually(() => c.closedAfter() !== undefined);
    expect(c.text()).toMatch(/^HTTP\/1\.1 302 /);
    for (const h of held) h.socket.destroy();
  });

  test('a trusted load balancer is not limited: its connections carry many clients', async () => {
    const held = await Promise.all(Array.from({ length: 8 }, () => tcp(gw.httpsPort, '127.0.0.2')));
    expect(held.map((h) => h.outcome)).toEqual(Array(8).fill('open'));
    for (const h of held) h.socket.destroy();
  });

  test('new connections per second: a burst past the rate is reset; the address is logged once a minute', async () => {
    await new Promise((r) => setTimeout(r, 1_100));
    /** 30 connections at once, each closed as soon as it is open or reset. */
    const burst = () =>
      Promise.all(
        Array.from({ length: 30 }, async () => {
          const socket = connect(gw.httpsPort, '127.0.0.1');
          const outcome = await new Promise<string>((resolve) => {
            socket.once('error', () => resolve('reset'));
            socket.once('connect', () => setTimeout(() => resolve(socket.destroyed ? 'reset' : 'open'), 20));
          });
          socket.destroy();
          return outcome;
        }),
      );
    // The rate is per wall-clock second: on a machine busy with the rest of the suite, one burst's accepts can straddle
    // a second and stay under 15 in each, so bursts are sent until one is over it (one is, on an idle machine).
    await eventually(async () => (await burst()).includes('reset') && (await metric('rate')) > 0, { timeoutMs: 15_000, what: 'a burst over the rate refused' });
    // Many refusals, one log line for this address.
    expect(gw.output().match(/client address over its limit/g)).toHaveLength(1);
  });
});
