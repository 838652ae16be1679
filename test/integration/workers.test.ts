// `workers: 2` as an admin runs it: a real `casgate run` child (primary + 2 workers, node:cluster) in front of mock
// CAS servers. What users depend on: a worker that dies costs only its requests in flight and is replaced; each CAS
// is probed once per interval for the whole instance; a TLS session resumes whichever worker the client lands on;
// one /metrics scrape covers every process.
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { startCasgate, type CasgateProcess } from '../helpers/casgate-run.js';
import { eventually } from '../helpers/eventually.js';
import { testCertificates } from '../helpers/gateway-harness.js';

const TOKEN = 'test-admin-token-0123456789';
let cas1: MockCas;
let cas2: MockCas;
let casgate: CasgateProcess | undefined;

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const certs = testCertificates();
  return {
    workers: 2,
    listen: { https: { address: '127.0.0.1', port: 0 } },
    admin: { address: '127.0.0.1', port: 0, token: TOKEN },
    certificates: [{ cert: certs.certFile, key: certs.keyFile }],
    pools: {
      cas: {
        servers: [cas1, cas2].map((s) => ({ name: s.name, host: '127.0.0.1', port: s.httpPort, httpsPort: s.httpsPort })),
        health: { interval: '1s', jitter: '100ms' },
      },
    },
    exchange: { pool: 'cas', hostnames: ['mail.contoso.lab'] },
    logging: { access: 'off' },
    ...extra,
  };
}

interface WorkerInfo {
  id: number;
  pid: number;
  state: string;
}
/** The workers in service (the spare, forked ahead to replace one that dies, is left out). */
async function workers(c: CasgateProcess): Promise<WorkerInfo[]> {
  return ((await c.admin('GET', '/api/workers')).json as { workers: WorkerInfo[] }).workers.filter((w) => w.state !== 'spare');
}

beforeAll(async () => {
  [cas1, cas2] = await Promise.all([startMockCas({ name: 'cas1' }), startMockCas({ name: 'cas2' })]);
});
afterEach(async () => {
  await casgate?.stop();
  casgate = undefined;
});
afterAll(async () => {
  await Promise.all([cas1?.close(), cas2?.close()]);
});

/** One GET /owa/ on a connection of its own (so that the primary hands each to a worker). */
async function freshGet(port: number): Promise<number> {
  const res = await request(`https://127.0.0.1:${port}/owa/`, {
    headers: { host: 'mail.contoso.lab' },
    reset: true,
    dispatcher: oneShot,
  });
  await res.body.dump();
  return res.statusCode;
}
const oneShot = new Agent({ connect: { rejectUnauthorized: false }, pipelining: 0 });

describe('workers: 2', () => {
  test('kill -9 of one worker under load fails only its requests in flight; a replacement serves within 2 s; the death is logged and counted', async () => {
    casgate = await startCasgate(config());
    const c = casgate;
    const before = await workers(c);
    expect(before.map((w) => w.state)).toEqual(['serving', 'serving']);
    const CONCURRENCY = 6;
    let ok = 0;
    const failures: string[] = [];
    let running = true;
    const loop = async () => {
      while (running) {
        try {
          const status = await freshGet(c.httpsPort);
          if (status === 302) ok++;
          else failures.push(`HTTP ${status}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const loops = Array.from({ length: CONCURRENCY }, loop);
    await eventually(() => ok > 50, { what: 'load running' });
    const killedAt = Date.now();
    process.kill(before[0]!.pid, 'SIGKILL');
    const replaced = await eventually(
      async () => {
        const now = await workers(c);
        return now.length === 2 && now.every((w) => w.state === 'serving') && !now.some((w) => w.pid === before[0]!.pid) ? now : null;
      },
      { timeoutMs: 10_000, intervalMs: 20, what: 'a replacement worker serving' },
    );
    void killedAt;
    // From the instance's own log: the death seen, and the replacement listening, less than 2 s later. (The test
    // process runs the load and the mock CAS too, so its own view of the admin API lags on a busy machine.)
    const at = (re: RegExp) => Date.parse(re.exec(c.output())?.[1] ?? 'x');
    const died = at(new RegExp(`^(\\S+) ERROR worker died; replacing it worker=${before[0]!.id} `, 'm'));
    const replacementId = replaced.find((w) => w.pid !== before[1]!.pid)!.id;
    const serving = at(new RegExp(`^(\\S+) INFO  worker serving worker=${replacementId} `, 'm'));
    expect(serving - died).toBeGreaterThanOrEqual(0);
    expect(serving - died).toBeLessThan(2_000);
    const replacement = replaced.find((w) => w.pid !== before[1]!.pid)!;
    // Only the survivor and the replacement are left: kill the survivor too, and what is answered now is the
    // replacement's work.
    const okBefore = ok;
    process.kill(before[1]!.pid, 'SIGKILL');
    await eventually(() => ok > okBefore + 30, { timeoutMs: 5_000, what: 'requests answered after the second kill' });
    running = false;
    await Promise.all(loops);
    // Each kill can fail at most the requests in flight on that worker (one per load loop).
    expect(failures.length).toBeLessThanOrEqual(2 * CONCURRENCY);
    expect(replacement.pid).toBeGreaterThan(0);
    expect(c.output()).toMatch(new RegExp(`worker died; replacing it worker=${before[0]!.id} pid=${before[0]!.pid} cause="signal SIGKILL"`));
    const metrics = (await c.admin('GET', '/metrics')).text;
    expect(metrics).toMatch(/casgate_worker_deaths_total\{cause="SIGKILL"\} 2/);
  }, 90_000);

  test('each backend is probed once per interval for the whole instance, not once per worker', async () => {
    casgate = await startCasgate(
      config({
        exchange: undefined,
        pools: { cas: { servers: [{ name: 'cas1', host: '127.0.0.1', port: cas1.httpPort }], health: { path: '/owa/healthcheck.htm', interval: '200ms', jitter: 0 } } },
        routes: [{ path: '/', pool: 'cas' }],
      }),
    );
    const count = () => cas1.stats().requestsByVdir['owa'] ?? 0;
    await new Promise((r) => setTimeout(r, 500));
    const start = count();
    const WINDOW_MS = 3_000;
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const probes = count() - start;
    // 200 ms interval plus the probe's own round trip: at most 15 probes in 3 s from one prober; 2 workers would make 30.
    expect(probes).toBeGreaterThanOrEqual(8);
    expect(probes).toBeLessThanOrEqual(WINDOW_MS / 200);
  }, 90_000);

  test.each(['TLSv1.2', 'TLSv1.3'] as const)('a %s session made on one worker resumes on the other, before and after reloads', async (version) => {
    // Round robin, so that consecutive connections alternate between the two workers (the kernel's choice need not).
    casgate = await startCasgate(config(), { NODE_CLUSTER_SCHED_POLICY: 'rr' });
    const c = casgate;
    const base: ConnectionOptions = {
      host: '127.0.0.1',
      port: c.httpsPort,
      servername: 'mail.contoso.lab',
      ca: testCertificates().ca.certPem,
      minVersion: version,
      maxVersion: version,
    };
    const handshake = (session?: Buffer) =>
      new Promise<{ reused: boolean; session: Buffer | undefined }>((resolve, reject) => {
        let latest: Buffer | undefined;
        const socket = tlsConnect({ ...base, ...(session ? { session } : {}) }, () => {
          // A request makes TLS 1.3 servers send their tickets before we close.
          socket.write('GET /owa/ HTTP/1.1\r\nHost: mail.contoso.lab\r\nConnection: close\r\n\r\n');
        });
        socket.on('session', (s: Buffer) => (latest = s));
        socket.on('data', () => undefined);
        socket.on('end', () => {
          resolve({ reused: socket.isSessionReused(), session: latest });
          socket.destroy();
        });
        socket.on('error', reject);
      });
    // The primary hands connections to the workers in turn: 10 reconnects land on both.
    const reconnects = async (session: Buffer) => {
      const reused: boolean[] = [];
      for (let i = 0; i < 10; i++) reused.push((await handshake(session)).reused);
      return reused;
    };
    const first = await handshake();
    expect(first.reused).toBe(false);
    expect(await reconnects(first.session!)).toEqual(Array(10).fill(true));

    // A reload gives every worker new TLS contexts (setSecureContext), which must not give each its own ticket keys.
    for (let i = 1; i <= 2; i++) {
      const applied = (await c.admin('POST', '/api/reload')).json as { ok: boolean };
      expect(applied.ok).toBe(true);
      await eventually(() => (c.output().match(/configuration reloaded .*worker=/g) ?? []).length >= 2 * i, { what: `reload ${i} in both workers` });
    }
    expect(await reconnects(first.session!)).toEqual(Array(10).fill(true));
    const after = await handshake();
    expect(await reconnects(after.session!)).toEqual(Array(10).fill(true));
  }, 90_000);

  test('backend state decided by the primary reaches every worker: an admin disable at once, a CAS in maintenance within its probes', async () => {
    const base = config();
    const pools = base.pools as { cas: Record<string, unknown> };
    // No slow start: an enabled server takes its full share at once, so two requests show it.
    casgate = await startCasgate({ ...base, pools: { cas: { ...pools.cas, slowStart: 0 } } });
    const c = casgate;
    const servedBy = async (n: number) => {
      const names = new Set<string>();
      for (let i = 0; i < n; i++) {
        const res = await request(`https://127.0.0.1:${c.httpsPort}/owa/`, { headers: { host: 'mail.contoso.lab' }, reset: true, dispatcher: oneShot });
        await res.body.dump();
        names.add(String(res.headers['x-feserver']));
      }
      return [...names].sort();
    };
    expect(await servedBy(20)).toEqual(['cas1', 'cas2']);
    expect((await c.admin('POST', '/api/backends/cas1/disable')).status).toBe(200);
    // New connections land on both workers; none of them picks cas1 any more.
    expect(await servedBy(20)).toEqual(['cas2']);
    expect((await c.admin('POST', '/api/backends/cas1/enable')).status).toBe(200);
    await eventually(async () => (await servedBy(10)).includes('cas1'), { what: 'cas1 back in service in the workers' });
    await request(`http://127.0.0.1:${cas2.controlPort}/__mock/maintenance`, { method: 'POST', body: JSON.stringify({ on: true }) }).then((r) => r.body.dump());
    try {
      // health interval 1 s, fall 3: the primary marks cas2 down within a few seconds and the workers follow.
      await eventually(async () => (await servedBy(10)).join() === 'cas1', { timeoutMs: 15_000, what: 'workers leaving cas2 in maintenance' });
    } finally {
      await request(`http://127.0.0.1:${cas2.controlPort}/__mock/maintenance`, { method: 'POST', body: JSON.stringify({ on: false }) }).then((r) => r.body.dump());
    }
  }, 90_000);

  test('one /metrics scrape: requests summed over the workers, process metrics per worker and for the primary', async () => {
    casgate = await startCasgate(config());
    const c = casgate;
    for (let i = 0; i < 20; i++) expect(await freshGet(c.httpsPort)).toBe(302);
    const text = (await c.admin('GET', '/metrics')).text;
    const owa = [...text.matchAll(/^casgate_requests_total\{route="exchange\/owa",pool="cas\/owa",backend="cas\d",code="3xx"\} (\d+)$/gm)].reduce((t, m) => t + Number(m[1]), 0);
    expect(owa).toBe(20);
    const ids = (await workers(c)).map((w) => String(w.id));
    for (const w of [...ids, 'primary']) expect(text).toMatch(new RegExp(`^process_cpu_seconds_total\\{worker="${w}"\\} `, 'm'));
    expect(text.match(/^# TYPE casgate_requests_total counter$/gm)).toHaveLength(1);
    expect(text).toMatch(/^casgate_backend_up\{pool="cas\/owa",backend="cas1"\} 1$/m);
  }, 90_000);

  test('workers start with workerFlags (default: V8 heap sizes for large downloads); a rolling restart applies a changed list', async () => {
    casgate = await startCasgate(config());
    const c = casgate;
    /** The node command line of each worker in service, as the kernel has it. */
    const commandLines = async (): Promise<string[][]> =>
      (await workers(c)).filter((w) => w.state === 'serving').map((w) => readFileSync(`/proc/${w.pid}/cmdline`, 'utf8').split('\0').filter(Boolean));
    for (const argv of await commandLines()) {
      expect(argv).toContain('--initial-old-space-size=128');
      expect(argv).toContain('--min-semi-space-size=16');
      expect(argv).toContain('--max-semi-space-size=16');
    }
    c.rewrite(config({ workerFlags: ['--max-semi-space-size=8', '--stack-trace-limit=20'] }));
    const restarted = await c.admin('POST', '/api/restart');
    expect(restarted.status).toBe(200);
    expect((restarted.json as { notApplied?: string[] }).notApplied ?? []).not.toContain('workerFlags');
    const after = await commandLines();
    expect(after).toHaveLength(2);
    for (const argv of after) {
      expect(argv).toContain('--max-semi-space-size=8');
      expect(argv).toContain('--stack-trace-limit=20');
      expect(argv).not.toContain('--min-semi-space-size=16');
    }
    expect(await freshGet(c.httpsPort)).toBe(302);
  });
});
