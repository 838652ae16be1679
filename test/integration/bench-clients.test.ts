// The bench verbs' shared long-lived clients (src/bench/clients/) in the modes bench ha needs, against a real mock
// CAS: Pings on a connection of the caller's per slot (a phone's own connection, whose connects the caller watches,
// left open by stop() for the caller to close), and tunnels whose sockets are opened knowing their slot (so that a
// slot can offer its own TLS session).
import net from 'node:net';
import { Client } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ActiveSyncPingClient, pingPath } from '../../src/bench/clients/activesync-ping.js';
import { RpcTunnelClient } from '../../src/bench/clients/rpc-tunnel.js';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { eventually } from '../helpers/eventually.js';

const BASIC = 'Basic YWxpY2VAY29udG9zby5sYWI6UGFzc3cwcmQ='; // alice@contoso.lab:Passw0rd (config/lab-users.yaml)
let cas: MockCas;

beforeAll(async () => {
  cas = await startMockCas({ name: 'cas1' });
});
afterAll(async () => {
  await cas?.close();
});

test('Pings on a dispatcher per slot: each slot pings on its own connection, and stop() leaves those open', async () => {
  const connects = [0, 0];
  const slots = connects.map((_, i) => new Client(`http://127.0.0.1:${cas.httpPort}`).on('connect', () => void connects[i]!++));
  const answered: number[][] = [[], []];
  const pings = new ActiveSyncPingClient<number>(
    { dispatcher: (slot) => slots[slot]!, concurrent: 2, heartbeatMs: 50, headers: { host: 'mail.contoso.lab', authorization: BASIC } },
    {
      send: (slot) => ({ token: slot, path: pingPath('/Microsoft-Server-ActiveSync', `T${slot}`, 'alice') }),
      ended: (slot, token, end, stopped) => {
        expect(token).toBe(slot);
        if (!stopped) answered[slot]!.push(end.failure ? -end.status : end.status);
        return 0;
      },
    },
  );
  try {
    pings.start();
    await eventually(() => answered.every((a) => a.length >= 3), { what: 'three answered Pings per slot' });
    await pings.stop();
    for (const a of answered) expect(new Set(a)).toEqual(new Set([200]));
    // Kept alive: one connection per slot, on the slot's own dispatcher.
    expect(connects).toEqual([1, 1]);
    expect(slots.map((c) => c.closed || c.destroyed)).toEqual([false, false]);
    const res = await slots[0]!.request({ method: 'GET', path: '/owa/healthcheck.htm', headers: { host: 'mail.contoso.lab' } });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
  } finally {
    await Promise.all(slots.map((c) => c.destroy()));
  }
});

test('tunnels open their two sockets knowing the slot; a tunnel cut is reopened on the same slot', async () => {
  const opens: { slot: number; socket: net.Socket }[] = [];
  let up = 0;
  const ended: { slot: number; wasUp: boolean }[] = [];
  const tunnels = new RpcTunnelClient(
    {
      connect: (slot) => {
        const socket = net.connect({ host: '127.0.0.1', port: cas.httpPort });
        opens.push({ slot, socket });
        return socket;
      },
      host: 'mail.contoso.lab',
      path: '/rpc/rpcproxy.dll?cas1.contoso.com:6001',
      tunnels: 2,
      trickleBytes: 64,
      trickleIntervalMs: 50,
      headers: { authorization: BASIC },
    },
    {
      channelId: (slot) => `bench-clients-${slot}-${opens.length}`,
      opened: () => void up++,
      ended: (slot, end) => {
        ended.push({ slot, wasUp: end.wasUp });
        return 0;
      },
    },
  );
  try {
    tunnels.start();
    await eventually(() => up === 2, { what: 'both tunnels up' });
    expect(opens.map((o) => o.slot)).toEqual([0, 0, 1, 1]);
    // Cut slot 1's tunnel (one of its sockets): the slot opens a new one, its sockets opened knowing it is slot 1.
    opens[2]!.socket.destroy();
    await eventually(() => up === 3, { what: 'the cut tunnel reopened' });
    expect(ended).toEqual([{ slot: 1, wasUp: true }]);
    expect(opens.slice(4).map((o) => o.slot)).toEqual([1, 1]);
  } finally {
    tunnels.stop();
  }
});
