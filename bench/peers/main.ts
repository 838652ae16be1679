// `npm run bench:peers`: the same load against the backend directly, casgate, nginx, HAProxy and
// http-proxy, in one run and in alternating order, the proxy pinned to CPU 0 and the load generator and backend to
// CPU 1. Writes bench/RESULTS.md (figures per proxy core and ratios) and bench/out/peers.json (every sample).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { engine, idleRss, wrk, type Sample } from './measure.js';
import { UsageError, verbMain, type VerbValues } from '../../src/bench/args.js';
import { updateResultsFile } from '../../src/bench/results-file.js';
import { startPinned, stop, waitForPorts, type Started } from '../../src/bench/procs.js';
import { keptSections, renderResults, versions, type Metric, type PeersRun } from './results.js';
import { ensureCerts, ensureFiles, ensureTools, startBackend } from './setup.js';
import { targets, type Target } from './targets.js';
import { LOADGEN_CPU } from './measure.js';

import { ROOT } from '../paths.js';


export const USAGE = `usage: npm run bench:peers -- [options]   (node bench/dist/bench/bin.js peers [options])
  --rounds N          rounds over all targets, order alternating (default 3: the median of three resists one noisy sample)
  --duration S        seconds per measurement (default 3)
  --targets LIST      comma-separated subset of direct,casgate,nginx,haproxy,http-proxy,undici (default all)
  --figures LIST      comma-separated subset of idle,small,big,rsa,ecdsa,p99 (default all): an A/B run of one
                      figure, e.g. \`--targets casgate,undici,http-proxy --figures big --rounds 7\`
  --before DIR        also run the casgate built in DIR (e.g. a git worktree of the previous commit, with
                      \`npm run build\` done there) as target casgate-before: what a change bought, side by side
  --before-flags=F    node flags for casgate-before (default none: node's own), e.g. --before-flags="--max-semi-space-size=16"
  --idle N            idle TLS connections for the memory figure (default 2000)
  --rate R            fixed rate for the p99 figure (default: half of casgate's small-GET maximum, or of the
                      lowest peer's when casgate is not there, capped by what the load generator reached direct)
  --loader L          wrk or casgate, for the two throughput figures (default wrk when installed)
  --no-install        do not apt-get missing tools
  --results FILE      where to write the report (default bench/RESULTS.md)
`;

function log(s: string): void {
  process.stderr.write(`[peers ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
}

const OPTIONS = {
  rounds: { type: 'string' },
  duration: { type: 'string' },
  targets: { type: 'string' },
  figures: { type: 'string' },
  before: { type: 'string' },
  'before-flags': { type: 'string' },
  idle: { type: 'string' },
  rate: { type: 'string' },
  loader: { type: 'string' },
  'no-install': { type: 'boolean' },
  results: { type: 'string' },
} as const;

/** Bad options (UsageError): a message, the usage and exit status 2, as the shipped bench verbs answer. */
export const main = verbMain('peers', USAGE, OPTIONS, run, 'bench');

async function run(values: VerbValues<typeof OPTIONS>): Promise<number> {
  const rounds = Number(values.rounds ?? 3);
  const durationS = Number(values.duration ?? 3);
  const idleCount = Number(values.idle ?? 2000);
  if (!(rounds >= 1) || !(durationS > 0) || !(idleCount >= 1)) throw new UsageError('--rounds, --duration and --idle must be positive');
  const FIGURES = ['idle', 'small', 'big', 'rsa', 'ecdsa', 'p99'];
  const figures = new Set(values.figures ? values.figures.split(',').map((f) => f.trim()) : FIGURES);
  const unknown = [...figures].filter((f) => !FIGURES.includes(f));
  if (unknown.length > 0) throw new UsageError(`unknown figure ${unknown.join(', ')} (known: ${FIGURES.join(', ')})`);
  const out = path.join(ROOT, 'bench', 'out');
  const peersDir = path.join(ROOT, 'bench', 'peers');
  const resultsFile = values.results ?? path.join(ROOT, 'bench', 'RESULTS.md');
  mkdirSync(out, { recursive: true });
  const started = Date.now();
  const loadStart = os.loadavg();

  const tools = await ensureTools(!values['no-install'], log);
  await ensureCerts(out);
  ensureFiles(out);
  const loader = values.loader ?? (tools.have.has('wrk') ? 'wrk' : 'casgate');
  if (loader === 'wrk' && !tools.have.has('wrk')) {
    process.stderr.write('bench peers: --loader wrk but wrk is not installed\n');
    return 2;
  }

  const { backend, description: backendDescription } = await startBackend(tools.have, peersDir, out);

  const wanted = values.targets?.split(',').map((s) => s.trim());
  const before = values.before ? { root: path.resolve(values.before), flags: values['before-flags']?.split(/\s+/).filter(Boolean) ?? [] } : undefined;
  const all = targets({ root: ROOT, out, peersDir, backend, before }).filter((t) => !wanted || wanted.includes(t.name) || t.name === 'casgate-before');
  const skipped = new Map<string, string>();
  for (const t of all) {
    if ((t.name === 'nginx' || t.name === 'haproxy') && !tools.have.has(t.name)) skipped.set(t.name, `${t.name} not installed`);
  }
  const samples = new Map<string, Map<Metric, Sample[]>>();
  /** The round being measured: side-by-side ratios pair samples of the same round. */
  let currentRound = 0;
  const add = (target: string, metric: Metric, s: Sample): void => {
    const m = samples.get(target) ?? new Map<Metric, Sample[]>();
    samples.set(target, m);
    m.set(metric, [...(m.get(metric) ?? []), { ...s, round: currentRound }]);
  };
  const commands = new Map<string, string>();

  const throughput = async (t: Target, pids: number[], metric: 'smallGet' | 'bigGet'): Promise<void> => {
    const urlPath = metric === 'smallGet' ? '/__mock/static' : '/__mock/bytes?size=1048576';
    const url = `https://127.0.0.1:${t.rsaPort}${urlPath}`;
    const conns = metric === 'smallGet' ? 64 : 16;
    if (loader === 'wrk') {
      const s = await wrk(pids, url, conns, durationS);
      // 1 MiB bodies: requests/s is MiB/s.
      commands.set(metric, s.command);
      add(t.name, metric, s);
    } else {
      const s = await engine(pids, ['--url', url, '--connections', String(conns), '--warmup', '1'], durationS, (r) =>
        metric === 'smallGet' ? r.throughput.requestsPerS : r.throughput.mibPerS,
      );
      commands.set(metric, s.command);
      add(t.name, metric, s);
    }
  };

  const measureTarget = async (t: Target, round: number): Promise<void> => {
    if (skipped.has(t.name)) return;
    log(`round ${round + 1}: ${t.name}`);
    currentRound = round;
    let run;
    try {
      run = await t.start();
    } catch (err) {
      skipped.set(t.name, (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' '));
      log(`  skipped: ${skipped.get(t.name)}`);
      return;
    }
    try {
      const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
        try {
          await fn();
        } catch (err) {
          log(`  ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      };
      // Memory first, on a target that has not carried load yet in this start.
      if (figures.has('idle')) await step('idle', async () => {
        const s = await idleRss(run.pids, t.rsaPort, idleCount);
        commands.set('idleRss', `taskset -c 1 node bench/dist/bench/peers/idle-client.js <port> ${idleCount}`);
        add(t.name, 'idleRss', s);
      });
      // A proxy in service is warm. A JIT runtime's first seconds of load run unoptimised code at a fraction of its
      // speed (casgate and the undici reference: 1,000-2,700 req/s in their first 2 s, 5,000-11,000 after), which a
      // 3 s measurement would average in: 2 s of closed-loop load on each port first, not counted, for every target
      // alike. Both ports where the target runs a process per certificate (casgate: its ECDSA process, left cold,
      // measured 695 handshakes/s per core in its first run and 1,072 and 1,110 in the next two).
      await step('warm-up', async () => {
        for (const port of run.pids.length > 1 ? [t.rsaPort, t.ecdsaPort] : [t.rsaPort]) {
          await engine(run.pids, ['--url', `https://127.0.0.1:${port}/__mock/static`, '--connections', '64', '--warmup', '0'], 2, (r) => r.throughput.requestsPerS);
        }
      });
      if (figures.has('small')) await step('small GET', () => throughput(t, run.pids, 'smallGet'));
      if (figures.has('big')) await step('1 MiB GET', () => throughput(t, run.pids, 'bigGet'));
      for (const [metric, port] of [
        ['hsRsa', t.rsaPort],
        ['hsEcdsa', t.ecdsaPort],
      ] as const) {
        if (!figures.has(metric === 'hsRsa' ? 'rsa' : 'ecdsa')) continue;
        await step(metric, async () => {
          const s = await engine(
            run.pids,
            ['--url', `https://127.0.0.1:${port}/__mock/static`, '--fresh-connections', '--connections', '16', '--warmup', '1'],
            durationS,
            (r) => r.throughput.requestsPerS,
          );
          commands.set(metric, s.command);
          add(t.name, metric, s);
        });
      }
    } finally {
      await run.stop();
    }
  };

  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [...all] : [...all].reverse();
      const shift = Math.floor(round / 2) % Math.max(1, all.length);
      for (const t of [...order.slice(shift), ...order.slice(0, shift)]) await measureTarget(t, round);
    }

    // p99 at one fixed rate for everyone.
    const median = (xs: number[]): number => {
      const s = [...xs].sort((a, b) => a - b);
      const m = Math.floor(s.length / 2);
      return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
    };
    const maxOf = (name: string): number | undefined => {
      const xs = samples.get(name)?.get('smallGet')?.map((s) => s.value);
      return xs && xs.length > 0 ? median(xs) : undefined;
    };
    let rate = values.rate ? Number(values.rate) : undefined;
    let rateWhy = 'given with --rate';
    if (!figures.has('p99')) {
      rate = 0;
      rateWhy = 'not measured in this run (--figures)';
    }
    if (rate === undefined) {
      // What our own open-loop generator can sustain bounds the rate too: measure it direct, closed loop.
      const direct = all.find((t) => t.name === 'direct');
      let engineMax = Infinity;
      if (direct) {
        const s = await engine([backend.pid], ['--url', `https://127.0.0.1:${direct.rsaPort}/__mock/static`, '--connections', '64', '--warmup', '1'], 3, (r) => r.throughput.requestsPerS);
        engineMax = s.value;
      }
      const casgateMax = maxOf('casgate');
      const peerMaxes = all.filter((t) => t.name !== 'direct' && t.name !== 'casgate').map((t) => maxOf(t.name)).filter((x) => x !== undefined);
      const base = casgateMax ?? (peerMaxes.length > 0 ? Math.min(...peerMaxes) : engineMax);
      // On this 2-core machine the generator shares its core with the backend (and with whatever else runs):
      // above about a quarter of its closed-loop maximum, its own queueing shows in the p99 of every target alike.
      rate = Math.max(100, Math.floor(Math.min(base / 2, engineMax / 4) / 100) * 100);
      rateWhy =
        `the lower of half of ${casgateMax !== undefined ? "casgate's" : "the slowest peer's"} small-GET maximum and a quarter of what ` +
        `the load generator reached direct in closed loop (${Math.round(engineMax)} req/s)`;
    }
    if (rate > 0) log(`p99 at ${rate} req/s`);
    for (const t of rate > 0 ? all : []) {
      if (skipped.has(t.name)) continue;
      let run;
      try {
        run = await t.start();
      } catch (err) {
        log(`  ${t.name} did not start for p99: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      try {
        // Each target starts afresh here; a JIT runtime (casgate, http-proxy, undici) runs its first seconds unoptimised,
        // and at a fixed rate the backlog of those seconds would be the p99. A proxy in service is warm: warm it with
        // 3 s of closed-loop load first, as the throughput figures are (their wrk warm-up), then measure.
        await engine(run.pids, ['--url', `https://127.0.0.1:${t.rsaPort}/__mock/static`, '--connections', '64', '--warmup', '0'], 3, (r) => r.throughput.requestsPerS);
        const s = await engine(
          run.pids,
          ['--url', `https://127.0.0.1:${t.rsaPort}/__mock/static`, '--rate', String(rate), '--connections', '64', '--warmup', '1'],
          durationS,
          (r) => r.latencyMs.p99,
        );
        commands.set('p99', s.command);
        add(t.name, 'p99', s);
        log(`  ${t.name}: p99 ${s.value} ms`);
      } catch (err) {
        log(`  ${t.name} p99 failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        await run.stop();
      }
    }

    const run: PeersRun = {
      date: new Date(started).toISOString(),
      elapsedS: Math.round((Date.now() - started) / 1000),
      rounds,
      durationS,
      idleCount,
      rate,
      rateWhy,
      loader,
      backend: backendDescription,
      targets: all.map((t) => ({ name: t.name, describe: t.describe, skipped: skipped.get(t.name) })),
      notes: tools.notes,
      versions: await versions(ROOT),
      commands: Object.fromEntries(commands),
      samples: Object.fromEntries([...samples].map(([k, m]) => [k, Object.fromEntries(m)])),
      loadavg: { start: loadStart, end: os.loadavg() },
    };
    writeFileSync(path.join(out, 'peers.json'), JSON.stringify(run, null, 2));
    // What bounds each figure (CPU side, then memory), written by hand from profiles and kept across reruns.
    const analysisFiles = ['analysis.md', 'analysis-memory.md'].map((f) => path.join(peersDir, f)).filter((f) => existsSync(f));
    const analysis = analysisFiles.length ? analysisFiles.map((f) => readFileSync(f, 'utf8').trimEnd()).join('\n\n') : undefined;
    updateResultsFile(resultsFile, (previous) => renderResults(run, analysis) + keptSections(previous));
    log(`wrote ${path.relative(process.cwd(), resultsFile)} in ${run.elapsedS} s`);
    return 0;
  } finally {
    await stop(backend);
  }
}
