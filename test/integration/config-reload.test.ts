// Reloading the configuration of a running casgate (SIGHUP, or POST /api/reload): a valid file is applied without
// dropping connections; a file that fails validation is refused and the old configuration keeps serving.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { eventually } from '../helpers/eventually.js';
import { testCertificates } from '../helpers/gateway-harness.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const TOKEN = 'reload-test-token-0123456789';
let cas1: MockCas;
let cas2: MockCas;
let child: ChildProcess;
let output = '';
let file: string;
let httpsPort: number;
let adminPort: number;
const agent = new Agent({ connect: { rejectUnauthorized: false } });

function configText(servers: MockCas[], extra = ''): string {
  const certs = testCertificates();
  return `workers: 1
listen:
  https: { address: 127.0.0.1, port: 0 }
admin: { address: 127.0.0.1, port: 0, token: ${TOKEN} }
certificates:
  - { cert: ${certs.certFile}, key: ${certs.keyFile} }
pools:
  cas:
    health: { enabled: false }
    balance: round-robin
    servers:
${servers.map((s) => `      - { name: ${s.name}, host: 127.0.0.1, port: ${s.httpPort}, httpsPort: ${s.httpsPort} }`).join('\n')}
exchange: { pool: cas, hostnames: [mail.contoso.lab] }
logging: { access: off }
${extra}`;
}

async function owaServer(): Promise<string> {
  const res = await request(`https://127.0.0.1:${httpsPort}/owa/`, { dispatcher: agent, headers: { host: 'mail.contoso.lab' } });
  await res.body.dump();
  return String(res.headers['x-feserver']);
}

async function reloadViaApi(): Promise<{ status: number; body: { ok: boolean; problems?: string[] } }> {
  const res = await request(`http://127.0.0.1:${adminPort}/api/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.statusCode, body: (await res.body.json()) as { ok: boolean; problems?: string[] } };
}

beforeAll(async () => {
  [cas1, cas2] = await Promise.all([startMockCas({ name: 'cas1' }), startMockCas({ name: 'cas2' })]);
  file = join(mkdtempSync(join(tmpdir(), 'casgate-reload-')), 'casgate.yaml');
  writeFileSync(file, configText([cas1]));
  child = spawn(process.execPath, [CLI, 'run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const listening = await eventually(() => /casgate listening https=127\.0\.0\.1:(\d+) .*admin=127\.0\.0\.1:(\d+)/.exec(output), { what: 'casgate to listen' });
  httpsPort = Number(listening[1]);
  adminPort = Number(listening[2]);
});
afterAll(async () => {
  child?.kill('SIGTERM');
  await Promise.all([cas1?.close(), cas2?.close()]);
  await agent.close();
});

describe('config reload', () => {
  test('SIGHUP applies a new server list without a restart', async () => {
    expect(await owaServer()).toBe('cas1');
    writeFileSync(file, configText([cas1, cas2]));
    child.kill('SIGHUP');
    await eventually(() => output.includes('configuration reloaded'), { what: 'the reload to be logged' });
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(await owaServer());
    expect(seen).toEqual(new Set(['cas1', 'cas2']));
  });

  test('a file that fails validation is refused with its problems, and the running config keeps serving', async () => {
    writeFileSync(file, configText([cas1]).replace('balance: round-robin', 'balance: fastest'));
    const { status, body } = await reloadViaApi();
    expect(status).toBe(422);
    expect(body.ok).toBe(false);
    expect(body.problems!.join('\n')).toMatch(/pools\.cas\.balance/);
    // The child's stderr and the API's answer travel on different pipes: the log line may arrive a moment later.
    await eventually(() => output.includes('reload refused; the running configuration stays'), { what: 'the refusal to be logged' });
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(await owaServer());
    expect(seen).toEqual(new Set(['cas1', 'cas2']));
  });

  test('a listener change is reported as needing a restart; the rest applies', async () => {
    writeFileSync(file, configText([cas2]).replace('port: 0 }\nadmin', 'port: 1 }\nadmin'));
    const { body } = await reloadViaApi();
    expect(body).toMatchObject({ ok: true, notApplied: ['listen'] });
    expect(await owaServer()).toBe('cas2');
  });

  test('reload needs the admin token', async () => {
    const res = await request(`http://127.0.0.1:${adminPort}/api/reload`, { method: 'POST' });
    await res.body.dump();
    expect(res.statusCode).toBe(401);
  });

  test('listen.trustForwardedFrom reloads: a load balancer added is trusted at once, nothing needs a restart', async () => {
    const forwardedFor = async () => {
      const res = await request(`https://127.0.0.1:${httpsPort}/EWS/x`, {
        dispatcher: agent,
        headers: { host: 'mail.contoso.lab', authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=', 'x-forwarded-for': '203.0.113.9' },
      });
      return ((await res.body.json()) as { headers: Record<string, string> }).headers['x-forwarded-for'];
    };
    expect(await forwardedFor()).toBe('127.0.0.1');
    writeFileSync(file, configText([cas2]).replace('listen:\n', 'listen:\n  trustForwardedFrom: [127.0.0.1]\n'));
    const { body } = await reloadViaApi();
    expect(body.ok).toBe(true);
    expect(body).not.toHaveProperty('notApplied');
    expect(await forwardedFor()).toBe('203.0.113.9, 127.0.0.1');
  });

  test('admin.token reloads: the rotated token is in effect at once and the old one is refused', async () => {
    const rotated = 'rotated-token-9876543210abcdef';
    writeFileSync(file, configText([cas2]).replace(TOKEN, rotated));
    const { body } = await reloadViaApi(); // authorised by the token in effect until now
    expect(body.ok).toBe(true);
    expect(body).not.toHaveProperty('notApplied');
    const enable = async (token: string) => {
      const res = await request(`http://127.0.0.1:${adminPort}/api/backends/cas2/enable?pool=cas/owa`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      await res.body.dump();
      return res.statusCode;
    };
    expect(await enable(TOKEN)).toBe(401);
    expect(await enable(rotated)).toBe(200);
  });
});
