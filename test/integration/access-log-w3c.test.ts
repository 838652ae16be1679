// The access log as an Exchange admin uses it: the W3C format IIS log tools read, written by a real `casgate run`
// child to a file, the request id the CAS also receives, and logrotate's `kill -USR1` (and the admin API) reopening it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { W3C_FIELDS } from '../../src/logging/access-log.js';
import { eventually } from '../helpers/eventually.js';
import { testCertificates } from '../helpers/gateway-harness.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const TOKEN = 'test-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'casgate-w3c-'));
const log = join(dir, 'access.log');
let cas1: MockCas;
let child: ReturnType<typeof spawn>;
let httpsPort: number;
let adminPort: number;
const client = new Agent({ connect: { ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' } });

beforeAll(async () => {
  cas1 = await startMockCas({ name: 'cas1' });
  const certs = testCertificates();
  const config = join(dir, 'casgate.yaml');
  writeFileSync(
    config,
    `listen: { https: { address: 127.0.0.1, port: 0 } }
admin: { address: 127.0.0.1, port: 0, token: ${TOKEN} }
certificates: [{ cert: ${certs.certFile}, key: ${certs.keyFile} }]
pools:
  cas:
    health: { enabled: false }
    servers: [{ name: cas1, host: 127.0.0.1, port: ${cas1.httpPort}, httpsPort: ${cas1.httpsPort} }]
exchange: { pool: cas, hostnames: [mail.contoso.lab] }
logging: { access: ${log}, format: w3c }
`,
  );
  child = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const listening = await eventually(() => /casgate listening https=127\.0\.0\.1:(\d+) .*admin=127\.0\.0\.1:(\d+)/.exec(err), { timeoutMs: 15_000, what: 'casgate to listen' });
  httpsPort = Number(listening[1]);
  adminPort = Number(listening[2]);
});
afterAll(async () => {
  child?.kill('SIGTERM');
  await client.close();
  await cas1?.close();
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(`https://127.0.0.1:${httpsPort}${path}`, { dispatcher: client, headers: { host: 'mail.contoso.lab', ...headers } });
  return { status: res.statusCode, text: await res.body.text() };
}

/** A W3C log as Log Parser reads it: the field names from the last #Fields line, then one record per line. */
function parseW3c(text: string): Array<Record<string, string>> {
  let fields: string[] = [];
  const rows: Array<Record<string, string>> = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#Fields: ')) fields = line.slice(9).split(' ');
    else if (line && !line.startsWith('#')) rows.push(Object.fromEntries(line.split(' ').map((v, i) => [fields[i] ?? `extra${i}`, v])));
  }
  return rows;
}

test('w3c: IIS fields and casgate fields, one record per request, the request id also sent to the CAS', async () => {
  const echo = await get('/EWS/Exchange.asmx?ver=1', { authorization: 'Basic ' + Buffer.from('CONTOSO\\alice:Passw0rd').toString('base64'), 'user-agent': 'Outlook/16.0 (Windows)', referer: 'https://x/', 'x-request-id': 'forged' });
  expect(echo.status).toBe(200);
  const sentId = (JSON.parse(echo.text) as { headers: Record<string, string> }).headers['x-request-id']!;
  expect(sentId).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
  const text = await eventually(() => (readFileSync(log, 'utf8').includes(sentId) ? readFileSync(log, 'utf8') : undefined), { timeoutMs: 5_000, what: 'the log line' });
  expect(text.split('\n').slice(0, 4).map((l) => l.split(':')[0])).toEqual(['#Software', '#Version', '#Date', '#Fields']);
  expect(text).toContain(`#Fields: ${W3C_FIELDS.join(' ')}`);
  for (const f of ['date', 'time', 's-ip', 'cs-method', 'cs-uri-stem', 'cs-uri-query', 's-port', 'cs-username', 'c-ip', 'cs(User-Agent)', 'cs(Referer)', 'sc-status', 'time-taken']) {
    expect(W3C_FIELDS).toContain(f);
  }
  const row = parseW3c(text).find((r) => r['x-request-id'] === sentId)!;
  expect(Object.keys(row)).toEqual([...W3C_FIELDS]);
  expect(row).toMatchObject({
    's-ip': '127.0.0.1',
    'cs-method': 'GET',
    'cs-uri-stem': '/EWS/Exchange.asmx',
    'cs-uri-query': 'ver=1',
    's-port': String(httpsPort),
    'c-ip': '127.0.0.1',
    'cs(User-Agent)': 'Outlook/16.0+(Windows)',
    'cs(Referer)': 'https://x/',
    'cs-host': 'mail.contoso.lab',
    'sc-status': '200',
    'x-backend': 'cas1',
    'x-backend-address': `127.0.0.1:${cas1.httpPort}`,
    'x-pool': 'cas/ews',
    'x-error': '-',
    'x-tls-version': 'TLSv1.3',
    'x-sni': 'mail.contoso.lab',
  });
  expect(row.date).toMatch(/^\d{4}-\d\d-\d\d$/);
  expect(row.time).toMatch(/^\d\d:\d\d:\d\d$/);
  expect(Number(row['cs-bytes'])).toBeGreaterThan(100);
  expect(Number(row['sc-bytes'])).toBeGreaterThan(Number(echo.text.length));
  expect(Number(row['x-upstream-first-byte'])).toBeGreaterThanOrEqual(Number(row['x-upstream-connect']));
  expect(text).not.toContain('forged');
  expect(text).not.toContain('Passw0rd');
});

test('kill -USR1 reopens the log file after logrotate moved it; so does POST /api/logs/reopen', async () => {
  await get('/owa/?before=rotate');
  await eventually(() => readFileSync(log, 'utf8').includes('before=rotate'), { timeoutMs: 5_000, what: 'the first line' });
  renameSync(log, `${log}.1`);
  child.kill('SIGUSR1');
  await eventually(() => { try { return readFileSync(log, 'utf8').startsWith('#Software: casgate'); } catch { return false; } }, { timeoutMs: 5_000, what: 'a new log file' });
  await get('/owa/?after=rotate');
  await eventually(() => readFileSync(log, 'utf8').includes('after=rotate'), { timeoutMs: 5_000, what: 'the line in the new file' });
  expect(readFileSync(`${log}.1`, 'utf8')).toContain('before=rotate');
  expect(readFileSync(`${log}.1`, 'utf8')).not.toContain('after=rotate');

  renameSync(log, `${log}.2`);
  const denied = await fetch(`http://127.0.0.1:${adminPort}/api/logs/reopen`, { method: 'POST' });
  expect(denied.status).toBe(401);
  const res = await fetch(`http://127.0.0.1:${adminPort}/api/logs/reopen`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  expect(await res.json()).toEqual({ reopened: true });
  await get('/owa/?after=api');
  await eventually(() => { try { return readFileSync(log, 'utf8').includes('after=api'); } catch { return false; } }, { timeoutMs: 5_000, what: 'the line after the API reopen' });
});
