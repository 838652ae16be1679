// The control plane never ends the process. A running `casgate run` given hostile admin requests and a config path
// that turned into a directory answers them (400, 422) and keeps serving. An exception nobody foresaw in a health
// prober or an admin handler is logged with its stack, counted in casgate_control_plane_errors_total{where}, and the
// proxy keeps serving.
import { mkdirSync, renameSync, rmdirSync } from 'node:fs';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startCasAndGateway, startCasAndProcess, type CasAndGateway, type CasAndProcess } from '../helpers/cas-and-gateway.js';
import { ADMIN_TOKEN, type CasgateProcess } from '../helpers/casgate-process.js';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('a running casgate given hostile control-plane input', () => {
  let env: CasAndProcess | undefined;
  let casgate: CasgateProcess;
  const agent = new Agent({ connect: { rejectUnauthorized: false } });

  beforeAll(async () => {
    env = await startCasAndProcess(1);
    casgate = env.gw;
  });
  afterAll(async () => {
    await env?.stop();
    await agent.close();
  });

  async function stillServing(): Promise<void> {
    expect(casgate.exitCode(), casgate.output()).toBeNull();
    const res = await request(`https://127.0.0.1:${casgate.httpsPort}/owa/`, { dispatcher: agent, headers: { host: 'mail.contoso.lab' } });
    await res.body.dump();
    expect(res.statusCode).toBe(302);
    expect(res.headers['x-feserver']).toBe('cas1');
  }

  async function call(method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await request(`http://127.0.0.1:${casgate.adminPort}${path}`, { method, headers: auth, body });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  }

  test('a server name that is not valid percent-encoding is a 400, not the end of the process', async () => {
    const { status, json } = await call('POST', '/api/backends/%E0%A4/drain');
    expect(status).toBe(400);
    expect(String(json.error)).toMatch(/percent-encoding/);
    await stillServing();
  });

  test('malformed, oversized and out-of-range bodies are refused; the process keeps serving', async () => {
    expect((await call('POST', '/api/backends/cas1/drain', '{"timeout": ')).status).toBe(400);
    expect((await call('POST', '/api/backends/cas1/drain', 'x'.repeat(70_000))).status).toBe(413);
    expect((await call('POST', '/api/backends/cas1/drain', '{"timeout": "1000d"}')).status).toBe(400);
    await stillServing();
  });

  test('a reload whose file became a directory is refused (422 and by SIGHUP); the old config keeps serving', async () => {
    const file = casgate.file;
    renameSync(file, `${file}.away`);
    mkdirSync(file);
    try {
      const { status, json } = await call('POST', '/api/reload');
      expect(status).toBe(422);
      expect(json.problems).toEqual([`${file}: cannot read the file: EISDIR`]);
      const before = casgate.output().split('reload refused').length;
      casgate.signal('SIGHUP');
      await eventually(() => casgate.output().split('reload refused').length > before, { what: 'the SIGHUP reload to be refused' });
      await stillServing();
    } finally {
      rmdirSync(file);
      renameSync(`${file}.away`, file);
    }
    expect((await call('POST', '/api/reload')).json.ok).toBe(true);
    await stillServing();
  });
});

describe('an exception nobody foresaw in the control plane', () => {
  let env: CasAndGateway | undefined;
  afterAll(async () => {
    await env?.stop();
  });

  async function errorsAt(where: string): Promise<number> {
    const res = await request(`${env!.gw.adminUrl}/metrics`);
    const text = await res.body.text();
    return Number(new RegExp(`casgate_control_plane_errors_total\\{where="${where}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  }

  test('in a health prober or an admin handler: logged with its stack, counted, and the proxy keeps serving', async () => {
    env = await startCasAndGateway(1, {
      // A probe path the mock answers 404: every verdict is "down", so every probe calls setHealth.
      pools: { cas: { health: { path: '/owa/no-such-page.htm', interval: '100ms', unhealthyInterval: '100ms', jitter: '10ms', fall: 1, rise: 1 } } },
      exchange: { services: ['owa'] },
    });
    const gw = env.gw;
    // Faults injected into the objects the control plane works on (the gateway's own, after start): a probe verdict
    // sets the backend's health, the drain handler looks the server up.
    const pool = gw.gateway.pools.get('cas/owa')!;
    pool.backends[0]!.setHealth = () => {
      throw new Error('injected fault in setHealth');
    };
    pool.find = () => {
      throw new Error('injected fault in find');
    };

    await eventually(async () => (await errorsAt('health')) >= 2, { what: 'the prober to fail twice and keep probing' });
    expect(gw.logLines.some((l) => /unexpected error in the control plane.*where=health.*injected fault in setHealth.*stack=.*active\.(js|ts)/.test(l))).toBe(true);

    const res = await request(`${gw.adminUrl}/api/backends/cas1/drain`, { method: 'POST', headers: { authorization: 'Bearer test-admin-token-0123456789' } });
    expect(res.statusCode).toBe(500);
    await res.body.dump();
    expect(await errorsAt('admin')).toBe(1);
    expect(gw.logLines.some((l) => /where=admin.*injected fault in find/.test(l))).toBe(true);

    const owa = await gw.get('/owa/');
    expect(owa.status).toBe(302);
  });
});
