// `casgate bench failover`: what users notice when a CAS fails or is patched. Starts N mock CAS servers as child
// processes and the gateway in-process, runs a steady closed-loop load of GETs and POSTs on /EWS, and walks through
// three scenarios, each an outage and a recovery: kill -9 of a CAS and restart, Exchange maintenance mode
// (ServerWideOffline) on and off, admin drain and enable. For each it prints requests sent, failures by kind,
// how long until the server stopped getting traffic, and how long until the recovered one got traffic again.
// First version (issue 3); the bench issue builds the shared harness.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { configSchema } from '../../config/schema.js';
import { Gateway } from '../../gateway.js';
import { createLogger } from '../../logging/logger.js';
import type { RequestRecord } from '../../proxy/engine.js';
import { spawnMockCasProcess, type MockCasProcess } from '../../lab/mock-process.js';
import { issueCertificate } from '../../tls/generate.js';

const USAGE = `Usage: casgate bench failover [--servers 3] [--concurrency 16] [--phase 4s] [--interval 500ms] [--fall 3] [--rise 2] [--latency 20]

  Scenarios, one phase apart: kill -9 cas1 / restart it; maintenance on cas2 / off; admin drain cas3 / enable.
  --servers      mock CAS processes (at least 3)
  --concurrency  client loops (3 in 4 send GET, 1 in 4 POST with a 2 KB body)
  --phase        time between events (seconds)
  --interval     health probe interval (fall/rise as given; unhealthyInterval = interval)
  --latency      backend latency per request, ms
`;

interface Scenario {
  name: string;
  server: string;
  outage: () => Promise<void>;
  recovery: () => Promise<void>;
  outageAt?: number;
  recoveryAt?: number;
  markedDownAt?: number;
  lastServedAt?: number;
  firstServedAgainAt?: number;
  sent: number;
  /** Answered normally after a failed first attempt (connect failure or idempotent retry). */
  retried: number;
  failures: Record<string, number>;
}

function seconds(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text);
  if (!m) throw new Error(`${flag}: expected a duration like 500ms or 4s`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : 1000);
}

const fmt = (ms: number | undefined) => (ms === undefined ? 'n/a' : `${Math.round(ms)} ms`);

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      servers: { type: 'string', default: '3' },
      concurrency: { type: 'string', default: '16' },
      phase: { type: 'string', default: '4s' },
      interval: { type: 'string', default: '500ms' },
      fall: { type: 'string', default: '3' },
      rise: { type: 'string', default: '2' },
      latency: { type: 'string', default: '20' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const n = Number(values.servers);
  const concurrency = Number(values.concurrency);
  const phaseMs = seconds(values.phase!, '--phase');
  const intervalMs = seconds(values.interval!, '--interval');
  if (!(n >= 3) || !(concurrency >= 1)) throw new Error('--servers must be at least 3 and --concurrency at least 1');

  const dir = mkdtempSync(join(tmpdir(), 'casgate-bench-failover-'));
  const ca = issueCertificate({ commonName: 'casgate bench CA', isCa: true });
  const leaf = issueCertificate({ commonName: 'mail.contoso.lab', dnsNames: ['mail.contoso.lab'], issuer: ca });
  writeFileSync(join(dir, 'mail.crt'), leaf.certPem + ca.certPem);
  writeFileSync(join(dir, 'mail.key'), leaf.keyPem);

  const mocks: MockCasProcess[] = await Promise.all(Array.from({ length: n }, (_, i) => spawnMockCasProcess(`cas${i + 1}`)));
  const token = 'bench-failover-token-0123456789';
  const config = configSchema.parse({
    listen: { https: { address: '127.0.0.1', port: 0 } },
    admin: { address: '127.0.0.1', port: 0, token },
    certificates: [{ cert: join(dir, 'mail.crt'), key: join(dir, 'mail.key') }],
    pools: {
      cas: {
        servers: mocks.map((m) => ({ name: m.name, host: '127.0.0.1', port: m.httpPort, httpsPort: m.httpsPort })),
        health: { interval: `${intervalMs}ms`, unhealthyInterval: `${intervalMs}ms`, fall: Number(values.fall), rise: Number(values.rise), jitter: `${Math.round(intervalMs / 10)}ms` },
        slowStart: `${phaseMs / 2}ms`,
        drainTimeout: `${phaseMs}ms`,
      },
    },
    exchange: { pool: 'cas', hostnames: ['mail.contoso.lab'], services: ['owa', 'ews'] },
    logging: { access: 'off' },
  });

  let current: Scenario | undefined;
  const onRecord = (r: RequestRecord): void => {
    if (r.route !== 'exchange/ews' || !current) return;
    const s = current;
    s.sent++;
    if (r.status >= 499) {
      const kind = `${r.method} ${r.status} ${r.error ?? ''}`.trim();
      s.failures[kind] = (s.failures[kind] ?? 0) + 1;
    } else if (r.attempts > 1) s.retried++;
    if (r.backend !== s.server || r.status >= 500) return;
    const start = r.startedAt;
    if (s.outageAt !== undefined && s.recoveryAt === undefined) s.lastServedAt = Math.max(s.lastServedAt ?? 0, start + r.durationMs);
    if (s.recoveryAt !== undefined && start >= s.recoveryAt && s.firstServedAgainAt === undefined) s.firstServedAgainAt = start;
  };
  const gateway = await Gateway.start(config, { logger: createLogger('warn'), onRecord });
  const url = `https://127.0.0.1:${gateway.addresses.https.port}`;
  const adminUrl = `http://127.0.0.1:${gateway.addresses.admin.port}`;
  const agent = new Agent({ connect: { ca: ca.certPem, servername: 'mail.contoso.lab' }, connections: concurrency });
  await Promise.all(mocks.map((m) => control(m, 'latency', { ms: Number(values.latency), path: '/EWS' })));

  const byName = new Map(mocks.map((m) => [m.name, m]));
  const adminPost = async (path: string) => {
    const res = await request(`${adminUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    await res.body.dump();
  };
  const scenarios: Scenario[] = [
    {
      name: 'kill -9 / restart',
      server: 'cas1',
      outage: async () => void (await byName.get('cas1')!.kill('SIGKILL')),
      recovery: async () => {
        const old = byName.get('cas1')!;
        byName.set('cas1', await spawnMockCasProcess('cas1', { httpPort: old.httpPort, httpsPort: old.httpsPort }));
        await control(byName.get('cas1')!, 'latency', { ms: Number(values.latency), path: '/EWS' });
      },
      sent: 0,
      retried: 0,
      failures: {},
    },
    {
      name: 'maintenance on / off',
      server: 'cas2',
      outage: () => control(byName.get('cas2')!, 'maintenance', { on: true }),
      recovery: () => control(byName.get('cas2')!, 'maintenance', { on: false }),
      sent: 0,
      retried: 0,
      failures: {},
    },
    {
      name: 'admin drain / enable',
      server: 'cas3',
      outage: () => adminPost('/api/backends/cas3/drain'),
      recovery: () => adminPost('/api/backends/cas3/enable'),
      sent: 0,
      retried: 0,
      failures: {},
    },
  ];

  let running = true;
  const clientErrors: Record<string, number> = {};
  const body = Buffer.alloc(2048, 120);
  const loop = async (i: number): Promise<void> => {
    const post = i % 4 === 3;
    while (running) {
      try {
        const res = await request(`${url}/EWS/bench`, {
          dispatcher: agent,
          method: post ? 'POST' : 'GET',
          headers: { host: 'mail.contoso.lab', authorization: 'Basic dXNlcjpwYXNz' },
          ...(post ? { body } : {}),
        });
        await res.body.dump();
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'error';
        clientErrors[code] = (clientErrors[code] ?? 0) + 1;
      }
    }
  };
  const ews = gateway.pools.get('cas/ews')!;
  const watch = setInterval(() => {
    const s = current;
    if (s?.outageAt !== undefined && s.recoveryAt === undefined && s.markedDownAt === undefined && !ews.find(s.server)!.available()) {
      s.markedDownAt = performance.now();
    }
  }, 5);
  const loops = Array.from({ length: concurrency }, (_, i) => loop(i));
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  process.stderr.write(`bench failover: ${n} CAS processes, ${concurrency} clients, phase ${phaseMs} ms, probes every ${intervalMs} ms (fall ${values.fall}, rise ${values.rise})\n`);
  try {
    await wait(phaseMs / 2);
    for (const s of scenarios) {
      current = s;
      await wait(phaseMs / 2);
      s.outageAt = performance.now();
      process.stderr.write(`  ${s.name}: outage on ${s.server}\n`);
      await s.outage();
      await wait(phaseMs);
      s.recoveryAt = performance.now();
      process.stderr.write(`  ${s.name}: recovery of ${s.server}\n`);
      await s.recovery();
      await wait(phaseMs);
    }
  } finally {
    running = false;
    clearInterval(watch);
    await Promise.all(loops);
    await agent.close();
    await gateway.stop();
    await Promise.all([...byName.values()].map((m) => m.kill('SIGTERM')));
  }

  const lines = [
    '',
    '| scenario | server | requests | failed (by kind) | retried, then OK | marked out after | last answer from it after | traffic again after recovery |',
    '|---|---|---:|---|---:|---:|---:|---:|',
  ];
  for (const s of scenarios) {
    const failed = Object.entries(s.failures).map(([k, v]) => `${v} ${k}`).join(', ') || '0';
    lines.push(
      `| ${s.name} | ${s.server} | ${s.sent} | ${failed} | ${s.retried} | ${fmt(s.markedDownAt !== undefined ? s.markedDownAt - s.outageAt! : undefined)} | ${fmt(
        s.lastServedAt !== undefined ? Math.max(0, s.lastServedAt - s.outageAt!) : undefined,
      )} | ${fmt(s.firstServedAgainAt !== undefined ? s.firstServedAgainAt - s.recoveryAt! : undefined)} |`,
    );
  }
  lines.push('', `client-side errors (connections cut): ${Object.keys(clientErrors).length ? JSON.stringify(clientErrors) : 'none'}`);
  lines.push(
    '',
    'marked out: the gateway stopped choosing the server (probe fall for kill/maintenance, at once for drain).',
    'last answer: the end of the last response the server gave after the outage began (in-flight requests finishing).',
    'traffic again: first request sent to it after the recovery event (probe rise, then slow start).',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

async function control(m: MockCasProcess, action: string, body: unknown): Promise<void> {
  const res = await request(`http://127.0.0.1:${m.controlPort}/__mock/${action}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  await res.body.dump();
  if (res.statusCode !== 200) throw new Error(`mock control ${action} on ${m.name}: ${res.statusCode}`);
}
