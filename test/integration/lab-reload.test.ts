// The lab reloads like `casgate run`: SIGHUP and POST /api/reload read its config file again, with the mock
// servers' ports and pins the lab filled in at start. A real `casgate lab` child on ports the OS picks.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { eventually } from '../helpers/eventually.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/cli.js');
const TOKEN = 'lab-reload-test-token-0123456789';

let child: ChildProcess;
let output = '';
let file: string;
let labYaml: string;
let httpsPort: number;
let adminPort: number;
const agent = new Agent({ connect: { rejectUnauthorized: false } });

/** config/lab.yaml, with the certificate path made absolute so that the copy can live elsewhere. */
function labConfig(): string {
  return labYaml.replace('pfx: ${LAB_CERT_DIR:-../certs/lab}/', `pfx: ${ROOT}certs/lab/`);
}

async function servers(n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const res = await request(`https://127.0.0.1:${httpsPort}/owa/`, { dispatcher: agent });
    await res.body.dump();
    expect(res.statusCode).toBe(302);
    seen.add(String(res.headers['x-feserver']));
  }
  return seen;
}

async function reloadViaApi(): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`http://127.0.0.1:${adminPort}/api/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  labYaml = readFileSync(join(ROOT, 'config/lab.yaml'), 'utf8');
  file = join(mkdtempSync(join(tmpdir(), 'casgate-lab-reload-')), 'lab.yaml');
  writeFileSync(file, labConfig());
  child = spawn(process.execPath, [CLI, 'lab', '--https-port', '0', '--http-port', '0', '--admin-port', '0', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CASGATE_ADMIN_TOKEN: TOKEN },
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const listening = await eventually(() => /casgate listening https=127\.0\.0\.1:(\d+) .*admin=127\.0\.0\.1:(\d+)/.exec(output), {
    timeoutMs: 20_000,
    what: 'the lab to listen',
  });
  httpsPort = Number(listening[1]);
  adminPort = Number(listening[2]);
  await eventually(async () => (await servers(4)).size === 2, { timeoutMs: 15_000, what: 'both mock CAS servers in service' });
}, 40_000);

afterAll(async () => {
  // Ctrl-C: the lab stops its mock servers too.
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  }
  await agent.close();
});

test('SIGHUP re-reads the lab config with the mock servers as they are, and the lab lives on', async () => {
  // cas2 taken out of the file: after the reload only cas1 (same port, same pin) serves.
  writeFileSync(file, labConfig().replace(/^ {6}- \{ name: cas2.*\n/m, ''));
  child.kill('SIGHUP');
  await eventually(() => output.includes('configuration reloaded'), { what: 'the reload to be logged' });
  expect(await servers(4)).toEqual(new Set(['cas1']));
  expect(child.exitCode).toBeNull();
});

test('POST /api/reload answers 200 and brings cas2 back', async () => {
  writeFileSync(file, labConfig());
  const { status, body } = await reloadViaApi();
  expect(status).toBe(200);
  expect(body).toEqual({ ok: true });
  await eventually(async () => (await servers(4)).size === 2, { timeoutMs: 15_000, what: 'cas2 back in service' });
});

test('a broken lab config is refused with its problems; the lab keeps serving', async () => {
  writeFileSync(file, labConfig().replace('password: casgate-lab', 'password: wrong'));
  const { status, body } = await reloadViaApi();
  expect(status).toBe(422);
  expect(body.problems).toEqual([expect.stringMatching(/lab\.yaml:\d+: certificates\[0\]\.pfx: .*mail\.contoso\.lab\.pfx: wrong PFX password$/)]);
  expect((await servers(2)).size).toBeGreaterThan(0);
});
