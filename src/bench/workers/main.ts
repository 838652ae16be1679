// `casgate bench workers`: what `workers: 2` buys and costs, per proxy CPU-second (CPU of every casgate process:
// the primary, its workers and the spare). Three targets started from the same config, `workers: 1`, `workers: 2`
// with node:cluster's round robin (SCHED_RR, the default on Linux) and `workers: 2` with the workers accepting from
// the shared socket (SCHED_NONE, NODE_CLUSTER_SCHED_POLICY=none), each in front of the same mock CAS, and four
// loads: small GETs on keep-alive connections, a new connection and full TLS handshake per GET (bench load
// --fresh-connections), and TLS handshakes alone, full and resumed (the session ticket of a first connection).
// Every load runs open loop at a fixed rate below what the busiest target can take, the same for all targets: each
// target does the same work, and CPU per request compares what that work costs (a closed loop would compare a
// saturated single process, which batches many requests per event-loop turn, with two half-busy workers). Rounds
// interleave the targets so that the load of a shared machine falls on all of them alike; the figures that count
// are the ratios within one run. nginx with session tickets (./nginx.ts), same certificate and backend, one worker,
// takes the two handshake loads as the reference when this machine has it (--no-nginx leaves it out).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseDuration } from '../../config/duration.js';
import { spawnMockCasProcess } from '../../lab/mock-process.js';
import { issueCertificate } from '../../tls/generate.js';
import type { LoadResult } from '../load/options.js';
import { verbMain, type VerbValues } from '../args.js';
import { updateResultsFile } from '../results-file.js';
import { cpuSeconds, processTree, runCommand } from '../procs.js';
import { findNginx, startNginx } from './nginx.js';
import { replaceSection } from './section.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(HERE, '..', '..', 'cli.js');

export const USAGE = `usage: casgate bench workers [--duration 5s] [--rounds 3] [--results bench/RESULTS.md] [--no-nginx]

  Requests per proxy CPU-second (CPU of every casgate process, primary included) with workers: 1, workers: 2
  (SCHED_RR) and workers: 2 (SCHED_NONE), for keep-alive GETs, a new connection per GET, and full against resumed
  TLS handshakes; and nginx with session tickets (one worker) for the handshakes, when nginx is installed.
  Rounds interleave the targets; the summary gives medians and the ratios to workers: 1.
  --results replaces the "Workers" section of that file.
`;

const LOADS = ['keep-alive GET', 'new connection per GET', 'full TLS handshake', 'resumed TLS handshake'] as const;
type LoadName = (typeof LOADS)[number];

interface Target {
  name: string;
  /** Worker processes: casgate's `workers`, nginx's worker_processes. */
  workers: number;
  policy?: 'rr' | 'none';
  nginx?: boolean;
  /** The loads this target takes (default all). */
  loads?: readonly LoadName[];
}
const CASGATE_TARGETS: Target[] = [
  { name: 'workers: 1', workers: 1 },
  { name: 'workers: 2, SCHED_RR', workers: 2, policy: 'rr' },
  { name: 'workers: 2, SCHED_NONE', workers: 2, policy: 'none' },
];
const NGINX_TARGET: Target = { name: 'nginx, session tickets', workers: 1, nginx: true, loads: ['full TLS handshake', 'resumed TLS handshake'] };
const takes = (t: Target, load: LoadName) => !t.loads || t.loads.includes(load);

interface Running {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

async function startCasgate(dir: string, target: Target, backendPort: number, certFile: string, keyFile: string): Promise<Running> {
  const file = path.join(dir, `casgate-${target.workers}-${target.policy ?? 'single'}.yaml`);
  writeFileSync(
    file,
    stringify({
      workers: target.workers,
      listen: { https: { address: '127.0.0.1', port: 0 } },
      admin: { address: '127.0.0.1', port: 0 },
      certificates: [{ cert: certFile, key: keyFile }],
      pools: { cas: { servers: [{ name: 'cas1', host: '127.0.0.1', port: backendPort }] } },
      exchange: { pool: 'cas', hostnames: ['mail.contoso.lab'] },
      logging: { access: 'off' },
    }),
  );
  const env = { ...process.env };
  if (target.policy) env.NODE_CLUSTER_SCHED_POLICY = target.policy;
  else delete env.NODE_CLUSTER_SCHED_POLICY;
  const child: ChildProcess = spawn(process.execPath, [CLI, 'run', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-20_000)));
  const deadline = Date.now() + 30_000;
  let port = 0;
  while (!port) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`casgate (${target.name}) did not listen: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
    port = Number(/casgate listening https=127\.0\.0\.1:(\d+)/.exec(err)?.[1] ?? 0);
  }
  return {
    pid: child.pid!,
    port,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** `casgate bench load` in its own process at `rate` requests/s (open loop); returns requests answered. */
async function benchLoad(port: number, durationS: number, fresh: boolean, rate: number): Promise<number> {
  const args = [CLI, 'bench', 'load', '--json', '-', '--quiet', '--insecure', '--url', `https://127.0.0.1:${port}/owa/`, '--header', 'Host: mail.contoso.lab'];
  args.push('--connections', fresh ? '16' : '32', '--rate', String(rate), '--warmup', '0', '--duration', String(durationS), ...(fresh ? ['--fresh-connections'] : []));
  const r = await runCommand(process.execPath, args, (durationS + 40) * 1000);
  const result = JSON.parse(r.stdout) as LoadResult;
  if (result.requests.errors > result.requests.completed / 100) throw new Error(`bench load: ${result.requests.errors} errors ${JSON.stringify(result.errors)}`);
  return result.requests.ok;
}

/** TLS handshakes, `rate` per second for `ms` (open loop, at most 32 at once): full ones, or resumed from one ticket. */
async function handshakes(port: number, ms: number, resume: boolean, rate: number): Promise<number> {
  const base = { port, host: '127.0.0.1', servername: 'mail.contoso.lab', rejectUnauthorized: false, maxVersion: 'TLSv1.3' as const };
  const once = (session?: Buffer) =>
    new Promise<{ reused: boolean; session?: Buffer }>((resolve, reject) => {
      let ticket: Buffer | undefined;
      const s = tlsConnect({ ...base, ...(session ? { session } : {}) }, () => {
        // TLS 1.3 tickets arrive after the handshake: a request and its answer bring them.
        s.write('GET /owa/ HTTP/1.1\r\nHost: mail.contoso.lab\r\nConnection: close\r\n\r\n');
      });
      s.on('session', (t: Buffer) => (ticket = t));
      s.on('data', () => undefined);
      s.on('end', () => {
        resolve({ reused: s.isSessionReused(), ...(ticket ? { session: ticket } : {}) });
        s.destroy();
      });
      s.on('error', reject);
    });
  const session = resume ? (await once()).session : undefined;
  let done = 0;
  let notResumed = 0;
  let inFlight = 0;
  const pending: Array<Promise<void>> = [];
  const start = Date.now();
  for (let i = 0; Date.now() - start < ms; i++) {
    const due = start + (i * 1000) / rate;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    if (inFlight >= 32) continue; // the target is behind: a skipped handshake, not a queue
    inFlight++;
    pending.push(
      once(session).then((r) => {
        inFlight--;
        done++;
        if (resume && !r.reused) notResumed++;
      }),
    );
  }
  await Promise.all(pending);
  if (resume && notResumed > 0) throw new Error(`${notResumed} of ${done} handshakes were not resumed`);
  return done;
}

/** Requests (or handshakes) per second each load is run at: below what one busy core of this machine takes. */
const RATES: Record<LoadName, number> = { 'keep-alive GET': 400, 'new connection per GET': 80, 'full TLS handshake': 100, 'resumed TLS handshake': 200 };

/** CPU-seconds of each process of the tree but the root (the workers and the spare), by pid. */
function childCpu(pid: number): Map<number, number> {
  return new Map(processTree(pid).slice(1).map((p) => [p, cpuSeconds(p)]));
}

/** The busiest worker's share of the CPU the workers used (0.5 = even between two). */
function busiestShare(before: Map<number, number>, after: Map<number, number>): number {
  const used = [...after].map(([p, cpu]) => cpu - (before.get(p) ?? cpu));
  const total = used.reduce((a, b) => a + b, 0);
  return total > 0 ? Math.max(...used) / total : 0;
}

async function measure(target: Running, load: LoadName, durationS: number): Promise<{ count: number; cpu: number; share: number }> {
  const children = childCpu(target.pid);
  const before = cpuSeconds(target.pid);
  let count: number;
  if (load === 'keep-alive GET') count = await benchLoad(target.port, durationS, false, RATES[load]);
  else if (load === 'new connection per GET') count = await benchLoad(target.port, durationS, true, RATES[load]);
  else count = await handshakes(target.port, durationS * 1000, load === 'resumed TLS handshake', RATES[load]);
  return { count, cpu: cpuSeconds(target.pid) - before, share: busiestShare(children, childCpu(target.pid)) };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const OPTIONS = {
  duration: { type: 'string', default: '5s' },
  rounds: { type: 'string', default: '3' },
  results: { type: 'string' },
  'no-nginx': { type: 'boolean' },
} as const;

/** A bad option: `casgate bench workers: ...` and exit status 2 (../args.ts), as for the other bench verbs. */
export const main = verbMain('workers', USAGE, OPTIONS, run);

async function run(values: VerbValues<typeof OPTIONS>): Promise<number> {
  const durationS = (parseDuration(values.duration!) ?? 5000) / 1000;
  const rounds = Number(values.rounds);
  const dir = mkdtempSync(path.join(tmpdir(), 'casgate-bench-workers-'));
  const ca = issueCertificate({ commonName: 'bench CA', isCa: true });
  const leaf = issueCertificate({ commonName: 'mail.contoso.lab', dnsNames: ['mail.contoso.lab'], issuer: ca });
  const certFile = path.join(dir, 'mail.crt');
  const keyFile = path.join(dir, 'mail.key');
  writeFileSync(certFile, leaf.certPem + ca.certPem);
  writeFileSync(keyFile, leaf.keyPem);
  const nginx = values['no-nginx'] ? undefined : findNginx();
  const TARGETS = nginx ? [...CASGATE_TARGETS, NGINX_TARGET] : CASGATE_TARGETS;
  const backend = await spawnMockCasProcess('cas1');
  const started: Running[] = [];
  const samples = new Map<string, Array<{ count: number; cpu: number; share: number }>>();
  const startedAt = new Date();
  try {
    for (const t of TARGETS) started.push(t.nginx ? await startNginx(nginx!, dir, backend.httpPort, certFile, keyFile) : await startCasgate(dir, t, backend.httpPort, certFile, keyFile));
    // Warm every target (JIT, pools) before anything counts.
    for (let i = 0; i < started.length; i++) {
      const r = started[i]!;
      if (takes(TARGETS[i]!, 'keep-alive GET')) await benchLoad(r.port, 2, false, 400);
      await handshakes(r.port, 1000, false, 100);
    }
    for (let round = 1; round <= rounds; round++) {
      for (const load of LOADS) {
        for (let i = 0; i < TARGETS.length; i++) {
          if (!takes(TARGETS[i]!, load)) continue;
          const s = await measure(started[i]!, load, durationS);
          const key = `${TARGETS[i]!.name}|${load}`;
          samples.set(key, [...(samples.get(key) ?? []), s]);
          process.stderr.write(`round ${round} ${load} ${TARGETS[i]!.name}: ${s.count} in ${durationS} s, ${s.cpu.toFixed(2)} CPU-s, ${(s.count / s.cpu).toFixed(0)} per CPU-s\n`);
        }
      }
    }
  } finally {
    for (const r of started) await r.stop().catch(() => undefined);
    await backend.kill();
  }
  const perCpu = (target: string, load: LoadName) => median((samples.get(`${target}|${load}`) ?? []).map((s) => s.count / s.cpu));
  const perS = (target: string, load: LoadName) => median((samples.get(`${target}|${load}`) ?? []).map((s) => s.count / durationS));
  const L: string[] = [
    '## Workers',
    '',
    `\`casgate bench workers --duration ${values.duration} --rounds ${rounds}\` on ${startedAt.toISOString().slice(0, 10)}: one mock CAS, casgate with`,
    '`workers: 1`, `workers: 2` with node:cluster round robin (SCHED_RR) and `workers: 2` with the workers accepting from the',
    `shared socket (SCHED_NONE)${nginx ? ', and for the handshakes nginx (one worker process) with `ssl_session_tickets on`, an' : ''}`,
    `${nginx ? '`ssl_session_ticket_key` file and no session cache, same certificate and backend' : 'no nginx row (nginx not installed or --no-nginx)'}; the load generator, the mock CAS and the`,
    'proxies share this 2-core machine with other sessions\' work: absolute figures move with them, the ratios within one',
    'round much less. CPU is utime + stime of every process of a target (casgate: primary, workers and the spare worker;',
    'nginx: master and worker). Each load runs open loop at',
    `the same fixed rate on every target (${LOADS.map((l) => `${l} ${RATES[l]}/s`).join(', ')}), so that every target`,
    'does the same work and the CPU it took is compared; medians of the rounds.',
    '',
    '| load | target | per second | per proxy CPU-second | × workers: 1 per CPU-second | busiest worker\'s share of worker CPU |',
    '|---|---|---:|---:|---:|---:|',
  ];
  const share = (target: string, load: LoadName) => median((samples.get(`${target}|${load}`) ?? []).map((s) => s.share));
  for (const load of LOADS) {
    const base = perCpu(TARGETS[0]!.name, load);
    for (const t of TARGETS.filter((x) => takes(x, load))) {
      const balance = t.workers > 1 && !t.nginx ? `${(share(t.name, load) * 100).toFixed(0)} %` : '';
      L.push(`| ${load} | ${t.name} | ${perS(t.name, load).toFixed(0)} | ${perCpu(t.name, load).toFixed(0)} | ${(perCpu(t.name, load) / base).toFixed(2)} | ${balance} |`);
    }
  }
  L.push('');
  for (const t of TARGETS) {
    L.push(`- ${t.name}: a resumed handshake costs ${(perCpu(t.name, 'resumed TLS handshake') / perCpu(t.name, 'full TLS handshake')).toFixed(2)} × fewer CPU-seconds than a full one.`);
  }
  const section = `${L.join('\n')}\n`;
  process.stdout.write(section);
  if (values.results) updateResultsFile(values.results, (previous) => replaceSection(previous, section));
  return 0;
}
