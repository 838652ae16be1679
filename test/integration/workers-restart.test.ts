// The done-when of "restarts nobody notices" (issue 9), on a real `casgate run` with `workers: 2` in front of mock
// CAS servers: under load on new connections, with ActiveSync Pings and an Outlook Anywhere channel held open,
// 20 reloads and 3 rolling restarts refuse no connection and fail no request; a reload cuts no long-lived
// connection; a rolling restart cuts them only once drainTimeout (3 s here) has passed.
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { buildAuthenticate, buildNegotiate } from '../../src/lab/mock/ntlm-messages.js';
import { CLI, startCasgate, type CasgateProcess } from '../helpers/casgate-run.js';
import { eventually } from '../helpers/eventually.js';
import { testCertificates } from '../helpers/gateway-harness.js';

const TOKEN = 'test-admin-token-0123456789';
const DRAIN_MS = 3_000;
let cas1: MockCas;
let cas2: MockCas;
let casgate: CasgateProcess;

beforeAll(async () => {
  [cas1, cas2] = await Promise.all([startMockCas({ name: 'cas1' }), startMockCas({ name: 'cas2' })]);
  const certs = testCertificates();
  casgate = await startCasgate({
    workers: 2,
    listen: { https: { address: '127.0.0.1', port: 0 } },
    admin: { address: '127.0.0.1', port: 0, token: TOKEN },
    certificates: [{ cert: certs.certFile, key: certs.keyFile }],
    pools: {
      cas: {
        servers: [cas1, cas2].map((s) => ({ name: s.name, host: '127.0.0.1', port: s.httpPort, httpsPort: s.httpsPort })),
        health: { interval: '1s' },
        drainTimeout: `${DRAIN_MS}ms`,
      },
    },
    exchange: { pool: 'cas', hostnames: ['mail.contoso.lab'] },
    logging: { access: 'off' },
  });
}, 60_000);
afterAll(async () => {
  await casgate?.stop();
  await Promise.all([cas1?.close(), cas2?.close()]);
});

const oneShot = new Agent({ connect: { rejectUnauthorized: false }, pipelining: 0 });

/** Requests on new connections, `loops` at a time, until stopped; counts answers and failures by kind. */
function load(port: number, loops = 4) {
  const result = { ok: 0, failed: [] as string[], refused: 0 };
  let running = true;
  const loop = async () => {
    while (running) {
      try {
        const res = await request(`https://127.0.0.1:${port}/owa/`, { headers: { host: 'mail.contoso.lab' }, reset: true, dispatcher: oneShot });
        await res.body.dump();
        if (res.statusCode === 302) result.ok++;
        else result.failed.push(`HTTP ${res.statusCode}`);
      } catch (err) {
        const code = (err as { code?: string; cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;
        if (code === 'ECONNREFUSED') result.refused++;
        result.failed.push(`${code ?? ''} ${(err as Error).message}`);
      }
    }
  };
  const all = Array.from({ length: loops }, loop);
  return {
    result,
    async stop() {
      running = false;
      await Promise.all(all);
      return result;
    },
  };
}

interface Held {
  /** When the connection ended (undefined while open), and how. */
  endedAt?: number;
  how?: string;
}

/** An ActiveSync Ping the mock holds for 10 minutes, on a connection of its own. */
function ping(port: number, device: string): Held {
  const held: Held = {};
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  request(`https://127.0.0.1:${port}/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=${device}&DeviceType=iPhone`, {
    method: 'POST',
    body: 'ping',
    headers: { host: 'mail.contoso.lab', authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=', 'x-test-heartbeat-ms': '600000' },
    dispatcher: agent,
  }).then(
    async (res) => {
      await res.body.dump().catch(() => undefined);
      held.how = `answered ${res.statusCode}`;
      held.endedAt = Date.now();
    },
    (err: Error) => {
      held.how = `cut: ${err.message}`;
      held.endedAt = Date.now();
    },
  );
  return held;
}

/** An Outlook Anywhere RPC_OUT_DATA channel (NTLM on the connection, then the 1 GB response held open). */
async function rpcChannel(port: number): Promise<Held> {
  const held: Held = {};
  let text = '';
  const socket: TLSSocket = await new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' }, () => resolve(s));
    s.on('error', reject);
  });
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('close', () => {
    held.endedAt = Date.now();
    held.how = 'closed';
  });
  const head = (extra: string[], length = 0) =>
    [`RPC_OUT_DATA /rpc/rpcproxy.dll?cas1.contoso.lab:6001 HTTP/1.1`, 'Host: mail.contoso.lab', `Content-Length: ${length}`, 'User-Agent: MSRPC', ...extra, '', ''].join('\r\n');
  socket.write(head([]));
  await eventually(() => text.includes('401'), { what: 'RPC 401' });
  text = '';
  socket.write(head([`Authorization: NTLM ${buildNegotiate().toString('base64')}`]));
  await eventually(() => /WWW-Authenticate: NTLM TlRMTVNTUAACAAAA/.test(text), { what: 'RPC NTLM type 2' });
  const type2 = Buffer.from(/WWW-Authenticate: NTLM (\S+)/.exec(text)![1]!, 'base64');
  text = '';
  // A real NTLMv2 answer: the mock checks it against the lab directory (config/lab-users.yaml).
  const auth = buildAuthenticate('CONTOSO', 'alice', 'WS01', { password: 'Passw0rd', challenge: type2 });
  socket.write(head([`Authorization: NTLM ${auth.toString('base64')}`, 'X-RPC-Channel-Id: w1'], 76));
  socket.write(Buffer.alloc(76, 1));
  await eventually(() => text.startsWith('HTTP/1.1 200'), { what: 'RPC channel open' });
  return held;
}

async function status(): Promise<{ rpcTunnels: number; pools: Array<{ name: string; backends: Array<{ longLived: number }> }> }> {
  return (await casgate.admin('GET', '/api/status')).json as never;
}

describe('workers: 2 under load', () => {
  test('20 reloads and 3 rolling restarts: no refused connection, no failed request, long-lived connections cut only after drainTimeout', async () => {
    const port = casgate.httpsPort;
    const before = ((await casgate.admin('GET', '/api/workers')).json as { workers: Array<{ pid: number; state: string }> }).workers;
    const traffic = load(port);
    const pings = [ping(port, 'D1'), ping(port, 'D2'), ping(port, 'D3'), ping(port, 'D4')];
    const rpc = await rpcChannel(port);
    // Every Ping reached the CAS and is held there; the channel is counted.
    await eventually(() => cas1.stats().activeLongPolls.activesync + cas2.stats().activeLongPolls.activesync === 4, { what: '4 Pings held at the CAS' });
    await eventually(async () => (await status()).rpcTunnels === 1, { what: 'the RPC channel counted by the primary' });

    // 20 reloads, half by SIGHUP, half by the API.
    for (let i = 0; i < 20; i++) {
      if (i % 2) expect(((await casgate.admin('POST', '/api/reload')).json as { ok: boolean }).ok).toBe(true);
      else casgate.child.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 100));
    }
    await eventually(() => (casgate.output().match(/configuration reloaded .*worker=/g) ?? []).length >= 40, { what: '20 reloads applied in both workers' });
    await new Promise((r) => setTimeout(r, 500));
    expect(pings.map((p) => p.how)).toEqual([undefined, undefined, undefined, undefined]);
    expect(rpc.how).toBeUndefined();

    // Rolling restart 1: the long-lived connections stay until drainTimeout, then are closed.
    const restartedAt = Date.now();
    const first = await casgate.admin('POST', '/api/restart');
    expect(first.status).toBe(200);
    // (Not "still open now": on a busy machine the restart itself can take longer than drainTimeout.)
    await eventually(() => pings.every((p) => p.endedAt !== undefined) && rpc.endedAt !== undefined, { timeoutMs: DRAIN_MS + 15_000, what: 'long-lived connections closed after drainTimeout' });
    for (const held of [...pings, rpc]) expect(held.endedAt! - restartedAt).toBeGreaterThanOrEqual(DRAIN_MS);

    // Rolling restarts 2 and 3, back to back.
    for (let i = 0; i < 2; i++) expect((await casgate.admin('POST', '/api/restart')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_000));
    const result = await traffic.stop();
    console.info('workers-restart figures', { answered: result.ok, failed: result.failed.length, refused: result.refused, longLivedCutAfterMs: [...pings, rpc].map((h) => h.endedAt! - restartedAt) });

    expect(result.refused).toBe(0);
    expect(result.failed).toEqual([]);
    expect(result.ok).toBeGreaterThan(100);
    const after = ((await casgate.admin('GET', '/api/workers')).json as { workers: Array<{ pid: number; state: string }> }).workers.filter((w) => w.state === 'serving');
    expect(after).toHaveLength(2);
    for (const w of after) expect(before.map((b) => b.pid)).not.toContain(w.pid);
  }, 120_000);
});

describe('casgate restart', () => {
  test('applies a listen change: new workers serve the new port, the old port closes once its workers are gone', async () => {
    const certs = testCertificates();
    const freePort = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const cfg = (port: number) => ({
      workers: 2,
      listen: { https: { address: '127.0.0.1', port } },
      admin: { address: '127.0.0.1', port: 0, token: TOKEN },
      certificates: [{ cert: certs.certFile, key: certs.keyFile }],
      pools: { cas: { servers: [{ name: 'cas1', host: '127.0.0.1', port: cas1.httpPort }], health: { enabled: false }, drainTimeout: '1s' } },
      exchange: { pool: 'cas', hostnames: ['mail.contoso.lab'] },
      logging: { access: 'off' },
    });
    const c = await startCasgate(cfg(0));
    try {
      const get = async (port: number) => {
        const res = await request(`https://127.0.0.1:${port}/owa/`, { headers: { host: 'mail.contoso.lab' }, reset: true, dispatcher: oneShot });
        await res.body.dump();
        return res.statusCode;
      };
      expect(await get(c.httpsPort)).toBe(302);
      // The admin listener's port is fixed now so that `casgate restart --config` finds it in the file.
      c.rewrite({ ...cfg(freePort), admin: { address: '127.0.0.1', port: c.adminPort, token: TOKEN } });
      const restart = await promisify(execFile)(process.execPath, [CLI, 'restart', '--config', c.file]);
      expect(JSON.parse(restart.stdout)).toMatchObject({ ok: true, workers: 2 });
      expect(await get(freePort)).toBe(302);
      await eventually(() => get(c.httpsPort).then(() => false, (err: { code?: string }) => err.code === 'ECONNREFUSED'), { timeoutMs: 15_000, what: 'the old port closed' });
    } finally {
      await c.stop();
    }
  }, 90_000);
});
