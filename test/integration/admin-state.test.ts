// Patch night across a restart: drain, disable and weight changes made through the admin API are written to
// admin.stateFile and are in force again when a real `casgate run` process starts anew (HAProxy's server-state-file).
// And the API's answers a client can act on: 401 names the Bearer scheme, 405 lists the allowed methods.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { eventually } from '../helpers/eventually.js';
import { testCertificates } from '../helpers/gateway-harness.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const TOKEN = 'test-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'casgate-state-'));
const config = join(dir, 'casgate.yaml');
let cas1: MockCas;
let cas2: MockCas;
let child: ChildProcess | undefined;
let admin = '';

async function start(): Promise<void> {
  child = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const m = await eventually(() => /casgate listening .*admin=127\.0\.0\.1:(\d+)/.exec(err), { timeoutMs: 15_000, what: 'casgate to listen' });
  admin = `http://127.0.0.1:${m[1]}`;
}

async function stop(): Promise<void> {
  const exited = new Promise((r) => child!.once('exit', r));
  child!.kill('SIGTERM');
  await exited;
}

beforeAll(async () => {
  cas1 = await startMockCas({ name: 'cas1' });
  cas2 = await startMockCas({ name: 'cas2' });
  const certs = testCertificates();
  writeFileSync(
    config,
    `listen: { https: { address: 127.0.0.1, port: 0 } }
admin: { address: 127.0.0.1, port: 0, token: ${TOKEN}, stateFile: state.json }
certificates: [{ cert: ${certs.certFile}, key: ${certs.keyFile} }]
pools:
  cas:
    balance: weighted
    health: { enabled: false }
    servers:
      - { name: cas1, host: 127.0.0.1, port: ${cas1.httpPort}, httpsPort: ${cas1.httpsPort} }
      - { name: cas2, host: 127.0.0.1, port: ${cas2.httpPort}, httpsPort: ${cas2.httpsPort}, weight: 2 }
exchange: { pool: cas, hostnames: [mail.contoso.lab] }
logging: { access: off }
`,
  );
  await start();
});
afterAll(async () => {
  if (child && child.exitCode === null) await stop();
  await cas1?.close();
  await cas2?.close();
});

const post = (path: string, body?: unknown, token: string | null = TOKEN) =>
  fetch(`${admin}${path}`, { method: 'POST', headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

type Pools = { pools: Array<{ name: string; backends: Array<{ name: string; state: string; reason: string; weight: number }> }> };
const backend = (pools: Pools, pool: string, name: string) => pools.pools.find((p) => p.name === pool)!.backends.find((b) => b.name === name)!;

test('401 carries WWW-Authenticate: Bearer; 405 carries Allow', async () => {
  const none = await post('/api/backends/cas1/drain', undefined, null);
  expect(none.status).toBe(401);
  expect(none.headers.get('www-authenticate')).toBe('Bearer realm="casgate admin"');
  const wrong = await post('/api/backends/cas1/drain', undefined, 'not-the-token-000000');
  expect(wrong.status).toBe(401);
  expect(wrong.headers.get('www-authenticate')).toBe('Bearer realm="casgate admin", error="invalid_token"');
  const get = await fetch(`${admin}/api/backends/cas1/drain`);
  expect(get.status).toBe(405);
  expect(get.headers.get('allow')).toBe('POST');
  const del = await fetch(`${admin}/api/pools`, { method: 'DELETE' });
  expect(del.status).toBe(405);
  expect(del.headers.get('allow')).toBe('GET, HEAD');
  expect((await fetch(`${admin}/api/pools`, { method: 'HEAD' })).status).toBe(200);
  expect((await post('/api/backends/cas2/weight', { weight: 'heavy' })).status).toBe(400);
  expect((await post('/api/backends/cas2/weight', { weight: 1001 })).status).toBe(400);
});

test('drain, disable and weight survive a restart of the process', async () => {
  expect((await post('/api/backends/cas1/drain')).status).toBe(200);
  expect((await post('/api/backends/cas2/disable?pool=cas/owa')).status).toBe(200);
  const weighted = await post('/api/backends/cas2/weight', { weight: 7 });
  expect(weighted.status).toBe(200);
  expect(((await weighted.json()) as { pools: Array<{ weight: number; configured: number }> }).pools[0]).toMatchObject({ weight: 7, configured: 2 });
  const saved = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { backends: Array<{ pool: string; server: string; admin: string; weight?: number }> };
  expect(saved.backends).toContainEqual({ pool: 'cas/ews', server: 'cas1', admin: 'draining' });
  expect(saved.backends).toContainEqual({ pool: 'cas/owa', server: 'cas2', admin: 'disabled', weight: 7 });

  await stop();
  await start();
  const pools = (await (await fetch(`${admin}/api/pools`)).json()) as Pools;
  for (const p of pools.pools) {
    expect(backend(pools, p.name, 'cas1').state).toBe('draining');
    expect(backend(pools, p.name, 'cas1').reason).toContain('restored from the state file');
    expect(backend(pools, p.name, 'cas2').weight).toBe(7);
  }
  expect(backend(pools, 'cas/owa', 'cas2').state).toBe('disabled');
  expect(backend(pools, 'cas/ews', 'cas2').state).toBe('healthy');

  // Back to normal, and so after the next restart too.
  await post('/api/backends/cas1/enable');
  await post('/api/backends/cas2/enable');
  await post('/api/backends/cas2/weight', { weight: null });
  expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).backends).toEqual([]);
  await stop();
  await start();
  const after = (await (await fetch(`${admin}/api/pools`)).json()) as Pools;
  expect(after.pools.every((p) => p.backends.every((b) => b.state === 'healthy'))).toBe(true);
  expect(backend(after, 'cas/owa', 'cas2').weight).toBe(2);
  expect(existsSync(join(dir, 'state.json'))).toBe(true);
}, 60_000);
