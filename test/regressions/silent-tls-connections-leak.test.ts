// What broke (issue 15, item 2): TCP connections to the HTTPS port that never send a ClientHello were never closed by
// casgate. Node's handshake timer (120 s) only reported them; casgate's listener answered the report with an HTTP 400
// written into a TLS session that never started, so the socket was never closed and stayed in CLOSE-WAIT once the
// client gave up: ~20,000 of them exhausted the descriptor limit and locked every listener out until a restart.
// Now the handshake has its own deadline (listen.https.handshakeTimeout) and every TLS client error closes the socket.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MockCas } from '../../src/lab/mock-cas.js';
import { startCasAndProcess, type CasAndProcess } from '../helpers/cas-and-gateway.js';
import { closeWaitOn, type CasgateProcess } from '../helpers/casgate-process.js';
import { eventually } from '../helpers/eventually.js';

let cas: MockCas;
let gw: CasgateProcess;
let env: CasAndProcess | undefined;
const HANDSHAKE_MS = 2_000;

beforeAll(async () => {
  env = await startCasAndProcess(1, { https: `handshakeTimeout: ${HANDSHAKE_MS}ms` });
  cas = env.cas[0]!;
  gw = env.gw;
});
afterAll(async () => {
  await env?.stop();
});

/** The first 60 bytes of a TLS 1.2 ClientHello record that announces 512 bytes: a handshake that never completes. */
const HALF_CLIENT_HELLO = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), Buffer.alloc(49, 0x2a)]);

interface Raw {
  socket: Socket;
  closedByServer: boolean;
}

function openRaw(port: number, send?: Buffer): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const raw: Raw = { socket: connect(port, '127.0.0.1'), closedByServer: false };
    raw.socket.once('connect', () => {
      if (send) raw.socket.write(send);
      resolve(raw);
    });
    raw.socket.on('end', () => (raw.closedByServer = true));
    raw.socket.on('error', () => (raw.closedByServer = true));
    raw.socket.once('error', reject);
  });
}

describe('connections that never finish a TLS handshake', () => {
  test('are closed at the handshake deadline; no descriptor and no CLOSE-WAIT socket is left behind', async () => {
    // Settle: the first connections of a process open a few descriptors of their own (crypto, timers).
    await openRaw(gw.httpsPort).then((r) => r.socket.destroy());
    await new Promise((r) => setTimeout(r, 200));
    const before = gw.descriptors();
    const silent = await Promise.all(Array.from({ length: 25 }, () => openRaw(gw.httpsPort)));
    const half = await Promise.all(Array.from({ length: 25 }, () => openRaw(gw.httpsPort, HALF_CLIENT_HELLO)));
    const all = [...silent, ...half];
    await eventually(() => gw.descriptors() >= before + all.length, { what: 'casgate to hold the 50 connections' });

    // casgate closes them itself, at the deadline (the sweep may add up to a second).
    const started = Date.now();
    await eventually(() => all.every((r) => r.closedByServer), { timeoutMs: HANDSHAKE_MS + 4_000, what: 'casgate to close every connection' });
    expect(Date.now() - started).toBeGreaterThan(HANDSHAKE_MS - 500);

    // The clients give up too; nothing is left on casgate's side.
    for (const r of all) r.socket.destroy();
    await eventually(() => gw.descriptors() <= before && closeWaitOn(gw.httpsPort) === 0, {
      timeoutMs: 5_000,
      what: `descriptors back to ${before} (now ${gw.descriptors()}) and no CLOSE-WAIT (now ${closeWaitOn(gw.httpsPort)})`,
    });

    // Counted by kind.
    const metrics = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/casgate_client_timeouts_total\{kind="handshake"\} 50/);
  }, 30_000);
});
