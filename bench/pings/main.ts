// `npm run bench:pings`: N ActiveSync Pings (default 20,000) held open through casgate at
// once, as phones hold them, and what that costs casgate. A mock CAS and casgate each run as a child process (casgate
// with `casgate run` and a generated Exchange config, as deployed), with their descriptor limits raised with prlimit;
// holder processes (bench/peers/idle-pings.ts, at most --per-holder Pings each) open one TLS connection per Ping.
// Once every Ping is held, they are held for --hold seconds while casgate's RSS, CPU and descriptors are read from
// /proc; then the mock answers them all at once (POST /__mock/answer-pings, as when a heartbeat ends) and the holders
// close their connections. Writes summary.md and result.json to --out, and the section into --results when given.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { descriptorLimit, RESERVED_DESCRIPTORS } from '../../src/frontend/descriptor-limit.js';
import { spawnMockCasProcess, type MockCasProcess } from '../../src/lab/mock-process.js';
import { issueCertificate } from '../../src/tls/generate.js';
import { UsageError, verbMain, type VerbValues } from '../../src/bench/args.js';
import { updateResultsFile } from '../../src/bench/results-file.js';
import { cpuSeconds, freePort, rssBytes, runCommand, portOpen } from '../../src/bench/procs.js';
import { CASGATE_CLI, ROOT } from '../paths.js';
import { DEFAULT_WORKER_FLAGS } from '../../src/config/worker-flags.js';
import { renderPings, replaceSection, type PingsRun } from './report.js';

const n = (x: number): string => Math.round(x).toLocaleString('en-US');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = CASGATE_CLI;
const HOLDER = path.join(HERE, '..', 'peers', 'idle-pings.js');
const REFERENCE = path.join(HERE, 'reference-proxy.js');
const HOSTNAME = 'mail.contoso.lab';

export const USAGE = `usage: npm run bench:pings -- [options]   (node bench/dist/bench/bin.js pings [options])
  --pings N          ActiveSync Pings held at once (default 20000)
  --hold S           seconds to hold them once all are held (default 60)
  --per-holder N     Pings per holder process (default 5000)
  --concurrency N    handshakes in flight per holder while opening (default 25)
  --processes N      casgate processes, each on its own port with a share of the Pings (default: as many as the
                     descriptor limit needs, 1 when it can be raised)
  --out DIR          where summary.md and result.json go (default bench/out/pings-<time>)
  --results FILE     also write the section into FILE (npm run bench:pings: bench/RESULTS.md), after the line
                     that bench peers keeps, replacing the previous one
  --reference        then hold as many Pings through the smallest Node proxy (node:https + undici, no features:
                     bench/pings/reference-proxy.ts), same harness, same flags, same mocks: the floor casgate's
                     memory per held Ping is judged against
Needs about 2 descriptors per Ping in casgate (client and CAS sockets) and 1 in the mock CAS. It raises its own
limit with prlimit (children inherit it); where the hard limit cannot be raised (no CAP_SYS_RESOURCE), it runs
enough casgate processes and mock CAS servers to stay under it, and says so.
`;

function log(s: string): void {
  process.stderr.write(`[pings ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Raises a running process's descriptor limit (soft and hard); returns what went wrong, if anything. */
async function raiseNofile(pid: number, limit: number): Promise<string | undefined> {
  const r = await runCommand('prlimit', ['--pid', String(pid), `--nofile=${limit}:${limit}`], 10_000);
  return r.code === 0 ? undefined : (r.stderr || r.stdout).trim().replace(/^prlimit: /, '') || `prlimit exited with ${r.code}`;
}

/** Descriptors a process keeps for itself besides the Pings' sockets: the same reserve `casgate run` assumes. */
const MARGIN = RESERVED_DESCRIPTORS;

/** Another process's descriptor limit (0 when /proc does not say), read as `casgate run` reads its own. */
function nofileOf(pid: number): number {
  return descriptorLimit(() => readFileSync(`/proc/${pid}/limits`, 'utf8')) ?? 0;
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

async function mockStats(mock: MockCasProcess): Promise<{ activeLongPolls: { activesync: number } }> {
  const res = await fetch(`http://127.0.0.1:${mock.controlPort}/__mock/stats`);
  return (await res.json()) as { activeLongPolls: { activesync: number } };
}

interface Holder {
  child: ChildProcess;
  count: number;
  ready?: { held: number; failed: number };
  held: number;
  failed: number;
  answered: number;
  closed: number;
  failures: Record<string, number>;
  exited: Promise<void>;
}

function startHolder(port: number, count: number, concurrency: number): Holder {
  const child = spawn(process.execPath, [HOLDER, String(port), String(count), '3540000', String(concurrency)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const h: Holder = { child, count, held: 0, failed: 0, answered: 0, closed: 0, failures: {}, exited: new Promise((r) => child.once('exit', () => r())) };
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const [kind, a, b, c, d2, ...rest] = line.split(' ');
      if (kind === 'READY') {
        h.ready = { held: Number(a), failed: Number(b) };
        h.held = Number(a);
        h.failed = Number(b);
      } else if (kind === 'HELD') {
        h.held = Number(a);
        h.failed = Number(b);
        h.answered = Number(c);
        h.closed = Number(d2);
        if (rest.length > 0) h.failures = JSON.parse(rest.join(' ')) as Record<string, number>;
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[holder ${child.pid}] ${d.toString()}`));
  return h;
}

/** Holders for `pings` Pings shared out evenly over the proxies' `ports`, at most `perHolder` per holder. */
function startHolders(ports: number[], pings: number, perHolder: number, concurrency: number): Holder[] {
  const holders: Holder[] = [];
  ports.forEach((port, i) => {
    const share = Math.floor(pings / ports.length) + (i < pings % ports.length ? 1 : 0);
    for (let left = share; left > 0; left -= perHolder) holders.push(startHolder(port, Math.min(perHolder, left), concurrency));
  });
  return holders;
}

const sum = (hs: Holder[], f: (h: Holder) => number): number => hs.reduce((s, h) => s + f(h), 0);

async function until(what: string, timeoutMs: number, ok: () => boolean | Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok()) return true;
    await sleep(250);
  }
  log(`timed out waiting for ${what}`);
  return false;
}

const OPTIONS = {
  pings: { type: 'string' },
  hold: { type: 'string' },
  'per-holder': { type: 'string' },
  concurrency: { type: 'string' },
  processes: { type: 'string' },
  out: { type: 'string' },
  results: { type: 'string' },
  reference: { type: 'boolean' },
} as const;

/** Bad options (UsageError): a message, the usage and exit status 2, as the shipped bench verbs answer. */
export const main = verbMain('pings', USAGE, OPTIONS, run, 'bench');

async function run(values: VerbValues<typeof OPTIONS>, argv: string[]): Promise<number> {
  const pings = Number(values.pings ?? 20_000);
  const holdS = Number(values.hold ?? 60);
  const perHolder = Number(values['per-holder'] ?? 5_000);
  const concurrency = Number(values.concurrency ?? 25);
  if (![pings, holdS, perHolder, concurrency].every((x) => Number.isInteger(x) && x > 0) || (values.processes && !(Number(values.processes) >= 1))) {
    throw new UsageError('--pings, --hold, --per-holder, --concurrency and --processes must be positive integers');
  }
  if (!existsSync(CLI) || !existsSync(HOLDER)) {
    process.stderr.write('bench pings: build first (npm run build; npm --prefix bench run build): dist/cli.js or bench/dist/bench/peers/idle-pings.js missing\n');
    return 2;
  }
  const started = new Date();
  const out = values.out ?? path.join(ROOT, 'bench', 'out', `pings-${started.toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(out, { recursive: true });
  const notes: string[] = [];

  // One casgate holds a client and a CAS socket per Ping: 2 × pings + margin in one process. Children inherit our limit.
  const wanted = 2 * pings + MARGIN;
  const raiseError = nofileOf(process.pid) >= wanted ? undefined : await raiseNofile(process.pid, wanted);
  const limit = nofileOf(process.pid);
  if (raiseError) {
    notes.push(
      `the descriptor limit is ${n(limit)} per process and could not be raised to the ${n(wanted)} one casgate needs for ${n(pings)} Pings ` +
        `(prlimit: ${raiseError}; root without CAP_SYS_RESOURCE here)`,
    );
  }
  const processes = values.processes ? Number(values.processes) : Math.max(1, Math.ceil((2 * pings) / Math.max(1, limit - MARGIN)));
  const mocksNeeded = Math.max(1, Math.ceil(pings / Math.max(1, limit - MARGIN)));
  const mocksText = mocksNeeded === 1 ? 'one mock CAS' : `${mocksNeeded} mock CAS servers (the mock needs a descriptor per Ping)`;
  if (processes > 1) notes.push(`${processes} casgate processes (each on its own port, as behind DNS round robin or an L4 balancer) and ${mocksText} share the Pings`);
  else if (mocksNeeded > 1) notes.push(`${mocksText} share the Pings`);

  const ca = issueCertificate({ commonName: 'casgate bench CA', isCa: true });
  const leaf = issueCertificate({ commonName: HOSTNAME, dnsNames: [HOSTNAME], issuer: ca });
  writeFileSync(path.join(out, 'mail.crt'), leaf.certPem + ca.certPem);
  writeFileSync(path.join(out, 'mail.key'), leaf.keyPem);

  log(`starting ${mocksNeeded} mock CAS`);
  const mocks = await Promise.all(Array.from({ length: mocksNeeded }, (_, i) => spawnMockCasProcess(`cas${i + 1}`, { script: path.join(ROOT, 'dist', 'lab', 'mock-cas-main.js') })));
  const gateways: { child: ChildProcess; pid: number; port: number; output: () => string }[] = [];
  const holders: Holder[] = [];
  const casgatePids = (): number[] => gateways.map((g) => g.pid);
  const rss = (): number => casgatePids().reduce((t, p) => t + rssBytes(p), 0);
  const cpu = (): number => casgatePids().reduce((t, p) => t + cpuSeconds(p), 0);
  const fds = (): number => casgatePids().reduce((t, p) => t + fdCount(p), 0);
  const mocksHeld = async (): Promise<number> => (await Promise.all(mocks.map(mockStats))).reduce((t, st) => t + st.activeLongPolls.activesync, 0);
  const stopGateways = (): Promise<unknown> =>
    Promise.all(
      gateways.map(async (g) => {
        if (g.child.exitCode !== null) return;
        const exited = new Promise((r) => g.child.once('exit', r));
        g.child.kill('SIGTERM');
        await Promise.race([exited, sleep(10_000)]);
        if (g.child.exitCode === null) g.child.kill('SIGKILL');
      }),
    );
  try {
    for (let i = 0; i < processes; i++) {
      const port = await freePort();
      const config = {
        // One process each: this bench measures what one casgate process holds (memory, descriptors per Ping).
        workers: 1,
        listen: { https: { address: '127.0.0.1', port } },
        admin: { address: '127.0.0.1', port: await freePort() },
        certificates: [{ cert: path.join(out, 'mail.crt'), key: path.join(out, 'mail.key') }],
        pools: { cas: { servers: mocks.map((m) => ({ name: m.name, host: '127.0.0.1', port: m.httpPort, httpsPort: m.httpsPort })) } },
        exchange: { pool: 'cas', hostnames: [HOSTNAME] },
        logging: { access: path.join(out, `access-${i + 1}.log`) },
      };
      const configFile = path.join(out, `casgate-${i + 1}.yaml`);
      writeFileSync(configFile, `# Written by bench pings: the Exchange preset in front of the mock CAS servers.\n${stringify(config)}`);
      // Started as casgate starts its workers (workerFlags' default); `workers: 1` alone would run with node's own.
      const child = spawn(process.execPath, [...DEFAULT_WORKER_FLAGS, CLI, 'run', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      const logFile = createWriteStream(path.join(out, `casgate-${i + 1}.log`));
      let tail = '';
      const keep = (d: Buffer): void => {
        tail = (tail + d.toString()).slice(-4000);
        logFile.write(d);
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      gateways.push({ child, pid: child.pid!, port, output: () => tail });
    }
    log(`started ${processes} casgate: node ${DEFAULT_WORKER_FLAGS.join(' ')} dist/cli.js run --config ${path.relative(process.cwd(), path.join(out, 'casgate-1.yaml'))}${processes > 1 ? ' ...' : ''}`);
    for (const g of gateways) if (!(await until('casgate to listen', 15_000, () => portOpen(g.port)))) throw new Error(`casgate did not listen: ${g.output()}`);
    // Health probes mark the CAS servers up before the first Ping.
    await sleep(2_000);
    const limits = { casgate: nofileOf(gateways[0]!.pid), mock: nofileOf(mocks[0]!.pid) };
    const before = { rss: rss(), fds: fds(), mockRss: mocks.reduce((t, m) => t + rssBytes(m.pid), 0) };
    log(`casgate RSS ${(before.rss / 2 ** 20).toFixed(1)} MiB before; descriptor limits: casgate ${limits.casgate}, mock ${limits.mock}`);

    const rampStart = performance.now();
    const cpuRamp0 = cpu();
    holders.push(...startHolders(gateways.map((g) => g.port), pings, perHolder, concurrency));
    log(`${holders.length} holders opening ${pings} Pings`);
    const progress = setInterval(() => log(`  ${sum(holders, (h) => h.held)} held, ${sum(holders, (h) => h.failed)} failed so far`), 10_000);
    await until('every holder READY', 20 * 60_000, () => holders.every((h) => h.ready !== undefined || h.child.exitCode !== null));
    clearInterval(progress);
    const rampS = (performance.now() - rampStart) / 1000;
    const rampCpuS = cpu() - cpuRamp0;
    const sent = sum(holders, (h) => (h.ready ? h.ready.held + h.ready.failed : 0));
    const failedOpening = sum(holders, (h) => h.ready?.failed ?? 0);
    log(`all sent in ${rampS.toFixed(1)} s: ${sum(holders, (h) => h.held)} held, ${failedOpening} failed`);
    // The last Pings reach the mock a moment after the holders wrote them.
    await until('the mock CAS to hold every Ping', 30_000, async () => (await mocksHeld()) >= sum(holders, (h) => h.held));
    await sleep(3_000);

    const holdStart = performance.now();
    const cpu0 = cpu();
    const heldAtStart = sum(holders, (h) => h.held);
    const failedBeforeHold = sum(holders, (h) => h.failed);
    const during = { rss: rss(), fds: fds(), mockRss: mocks.reduce((t, m) => t + rssBytes(m.pid), 0), mockHeld: await mocksHeld() };
    let peakRss = during.rss;
    log(`holding ${heldAtStart} Pings for ${holdS} s; casgate RSS ${(during.rss / 2 ** 20).toFixed(1)} MiB, ${during.fds} descriptors`);
    while (performance.now() - holdStart < holdS * 1000) {
      await sleep(1_000);
      peakRss = Math.max(peakRss, rss());
    }
    const holdWallS = (performance.now() - holdStart) / 1000;
    const idleCpuS = cpu() - cpu0;
    const heldAtEnd = sum(holders, (h) => h.held);
    const cutDuringHold = sum(holders, (h) => h.failed) - failedBeforeHold;
    const answeredEarly = sum(holders, (h) => h.answered);
    log(`held ${heldAtEnd} at the end (${cutDuringHold} cut, ${answeredEarly} answered early); casgate CPU ${((100 * idleCpuS) / holdWallS).toFixed(1)} %`);

    // The heartbeat ends for everyone at once: each mock answers every Ping it holds.
    const answerStart = performance.now();
    const failedBeforeAnswer = sum(holders, (h) => h.failed);
    await Promise.all(mocks.map((m) => fetch(`http://127.0.0.1:${m.controlPort}/__mock/answer-pings`, { method: 'POST', body: '{}' })));
    await until('every Ping answered', 120_000, () => sum(holders, (h) => h.answered + h.failed) >= sent);
    const answerS = (performance.now() - answerStart) / 1000;
    const answered = sum(holders, (h) => h.answered);
    const failedAtAnswer = sum(holders, (h) => h.failed) - failedBeforeAnswer;
    log(`${answered} answered in ${answerS.toFixed(1)} s, ${failedAtAnswer} failed meanwhile`);

    // The phones go away: every connection ended by the client (close_notify, FIN).
    for (const h of holders) h.child.kill('SIGTERM');
    await Promise.all(holders.map((h) => h.exited));
    const closedCleanly = sum(holders, (h) => h.closed);
    await sleep(2_000);
    const after = { rss: rss(), fds: fds(), mockHeld: await mocksHeld() };
    const failures: Record<string, number> = {};
    for (const h of holders) for (const [k, v] of Object.entries(h.failures)) failures[k] = (failures[k] ?? 0) + v;
    // casgate's pooled CAS connections would hold the mocks' descriptors: it goes first.
    if (values.reference) await stopGateways();
    const reference = values.reference ? await referencePhase({ mocks, mocksHeld, pings, processes, perHolder, concurrency, certDir: out }) : undefined;

    const run: PingsRun = {
      date: started.toISOString(),
      command: ['npm run bench:pings --', ...argv.filter((a) => !a.startsWith('--results') && a !== values.results)].join(' '),
      node: process.version,
      cpus: os.cpus().length,
      pings,
      processes,
      mocks: mocks.length,
      holders: holders.length,
      holdS: Math.round(holdWallS),
      limits,
      notes,
      sent,
      failedOpening,
      rampS,
      rampCpuS,
      heldAtStart,
      heldAtEnd,
      mockHeld: during.mockHeld,
      cutDuringHold,
      answeredEarly,
      answered,
      answerS,
      failedAtAnswer,
      closedCleanly,
      failures,
      rssBefore: before.rss,
      rssHeld: during.rss,
      rssPeak: peakRss,
      rssAfter: after.rss,
      mockRssHeld: during.mockRss - before.mockRss,
      fdsBefore: before.fds,
      fdsHeld: during.fds,
      fdsAfter: after.fds,
      idleCpuS,
      mockHeldAfter: after.mockHeld,
      ...(reference ? { reference } : {}),
    };
    writeFileSync(path.join(out, 'result.json'), JSON.stringify(run, null, 2));
    const section = renderPings(run);
    writeFileSync(path.join(out, 'summary.md'), section);
    process.stdout.write(section);
    if (values.results) {
      updateResultsFile(values.results, (previous) => replaceSection(previous, section));
      log(`wrote the section into ${values.results}`);
    }
    return run.heldAtEnd === run.pings && run.answered === run.pings ? 0 : 1;
  } finally {
    for (const h of holders) if (h.child.exitCode === null) h.child.kill('SIGKILL');
    await stopGateways();
    await Promise.all(mocks.map((m) => m.kill()));
  }
}

/**
 * The same Pings through reference-proxy.ts instead of casgate (as many processes, the same flags and mocks): its RSS
 * before and while holding them, measured as casgate's is.
 */
async function referencePhase(ctx: {
  mocks: MockCasProcess[];
  mocksHeld: () => Promise<number>;
  pings: number;
  processes: number;
  perHolder: number;
  concurrency: number;
  certDir: string;
}): Promise<NonNullable<PingsRun['reference']>> {
  const backends = ctx.mocks.map((m) => `http://127.0.0.1:${m.httpPort}`);
  const proxies: { child: ChildProcess; port: number }[] = [];
  const holders: Holder[] = [];
  try {
    for (let i = 0; i < ctx.processes; i++) {
      const port = await freePort();
      const args = [...DEFAULT_WORKER_FLAGS, REFERENCE, String(port), path.join(ctx.certDir, 'mail.crt'), path.join(ctx.certDir, 'mail.key'), ...backends];
      proxies.push({ child: spawn(process.execPath, args, { stdio: 'ignore' }), port });
    }
    log(`reference: started ${ctx.processes} × node ${DEFAULT_WORKER_FLAGS.join(' ')} bench/dist/bench/pings/reference-proxy.js`);
    for (const p of proxies) if (!(await until('the reference proxy to listen', 15_000, () => portOpen(p.port)))) throw new Error('the reference proxy did not listen');
    await sleep(2_000);
    const rss = (): number => proxies.reduce((t, p) => t + rssBytes(p.child.pid!), 0);
    const rssBefore = rss();
    holders.push(...startHolders(proxies.map((p) => p.port), ctx.pings, ctx.perHolder, ctx.concurrency));
    await until('every reference holder READY', 20 * 60_000, () => holders.every((h) => h.ready !== undefined || h.child.exitCode !== null));
    await until('the mock CAS to hold every Ping', 30_000, async () => (await ctx.mocksHeld()) >= sum(holders, (h) => h.held));
    await sleep(3_000);
    const result = { held: sum(holders, (h) => h.held), failed: sum(holders, (h) => h.failed), rssBefore, rssHeld: rss() };
    log(`reference: ${result.held} held, RSS ${(result.rssBefore / 2 ** 20).toFixed(1)} → ${(result.rssHeld / 2 ** 20).toFixed(1)} MiB`);
    await Promise.all(ctx.mocks.map((m) => fetch(`http://127.0.0.1:${m.controlPort}/__mock/answer-pings`, { method: 'POST', body: '{}' })));
    await until('every reference Ping answered', 120_000, () => sum(holders, (h) => h.answered + h.failed) >= result.held + result.failed);
    return result;
  } finally {
    for (const h of holders) h.child.kill('SIGTERM');
    await Promise.all(holders.map((h) => Promise.race([h.exited, sleep(10_000)])));
    for (const p of proxies) p.child.kill('SIGKILL');
  }
}
