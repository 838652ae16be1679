// `node bench/dist/bench/bin.js pair`: two targets of bench peers measured at the same time, on the same core, each
// loaded by its own load generator; the figure is the ratio of their throughputs per CPU second, run by run.
//
// Why: on this machine's shared cores the speed of a core changes within seconds, so two targets measured one after
// the other (bench peers' rounds) can differ by 20–40 % for that alone, and a 3 % change drowns. Run together, both
// meet the same core at the same moment: the same build against itself reads 1.00 ± 0.02, run after run. Use it to
// decide whether a change pays (`--a casgate --b casgate-before --before DIR`), and bench peers for the figures of
// record. Sharing a core also means sharing its caches: a target with a larger footprint loses a little more here than
// alone, so ratios to another program read lower than in bench peers.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError, verbMain, type VerbValues } from '../../src/bench/args.js';
import { stop } from '../../src/bench/procs.js';
import { engine, perCore, wrk, type Sample } from './measure.js';
import { ensureCerts, ensureFiles, ensureTools, startBackend } from './setup.js';
import { targets, type Running, type Target } from './targets.js';
import { makeBareBuild } from './bare-build.js';
import { ROOT } from '../paths.js';
import { DEFAULT_WORKER_FLAGS } from '../../src/config/worker-flags.js';

export const USAGE = `usage: node bench/dist/bench/bin.js pair [options]
  --a NAME            the first target (default casgate): one of bench peers' targets, casgate-before, or
                      casgate-bare (casgate's process doing the reference's per-request work: bare-build.ts)
  --b NAME            the second target (default undici)
  --figure F          small (GETs of 300 bytes), big (1 MiB), rsa or ecdsa (new TLS handshakes); default small
  --runs N            runs, each with both targets started afresh (default 5)
  --duration S        seconds per measurement (default 8)
  --before DIR        the casgate build in DIR as target casgate-before (with its dist/ built)
  --before-flags=F    node flags for casgate-before (default: the flags casgate gives its workers)
Prints, per run, each target's throughput per CPU second and their ratio (a over b), then the median and spread.`;

const OPTIONS = {
  a: { type: 'string' },
  b: { type: 'string' },
  figure: { type: 'string' },
  runs: { type: 'string' },
  duration: { type: 'string' },
  before: { type: 'string' },
  'before-flags': { type: 'string' },
  'no-install': { type: 'boolean' },
} as const;

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const main = verbMain('pair', USAGE, OPTIONS, run, 'bench');

function log(s: string): void {
  process.stderr.write(`[pair ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
}

/** One measurement of `figure` on `t`, in parallel with the other target's. */
function measure(figure: string, t: Target, r: Running, durationS: number): Promise<Sample> {
  if (figure === 'small' || figure === 'big') {
    const url = `https://127.0.0.1:${t.rsaPort}${figure === 'small' ? '/__mock/static' : '/__mock/bytes?size=1048576'}`;
    return wrk(r.pids, url, figure === 'small' ? 32 : 8, durationS);
  }
  const port = figure === 'rsa' ? t.rsaPort : t.ecdsaPort;
  const args = ['--url', `https://127.0.0.1:${port}/__mock/static`, '--fresh-connections', '--connections', '16', '--warmup', '1'];
  return engine(r.pids, args, durationS, (res) => res.throughput.requestsPerS);
}

async function run(values: VerbValues<typeof OPTIONS>): Promise<number> {
  const figure = values.figure ?? 'small';
  const runs = Number(values.runs ?? 5);
  const durationS = Number(values.duration ?? 8);
  if (!['small', 'big', 'rsa', 'ecdsa'].includes(figure)) throw new UsageError(`--figure: small, big, rsa or ecdsa, not ${figure}`);
  if (!(runs >= 1) || !(durationS > 0)) throw new UsageError('--runs and --duration must be positive');
  const out = path.join(ROOT, 'bench', 'out');
  const peersDir = path.join(ROOT, 'bench', 'peers');
  mkdirSync(out, { recursive: true });
  const tools = await ensureTools(!values['no-install'], log);
  if (!tools.have.has('wrk') && (figure === 'small' || figure === 'big')) {
    process.stderr.write('bench pair: wrk is needed for the small and big figures\n');
    return 2;
  }
  await ensureCerts(out);
  ensureFiles(out);
  const wantsBare = [values.a, values.b].includes('casgate-bare');
  // Made before the backend starts: a build that cannot be patched stops the run with nothing to clean up.
  const bareRoot = wantsBare ? makeBareBuild(ROOT, out, path.join(HERE, 'reference-handler.js')) : undefined;
  const { backend } = await startBackend(tools.have, peersDir, out);
  const flags = values['before-flags']?.split(/\s+/).filter(Boolean);
  const before = values.before ? { root: path.resolve(values.before), flags: flags ?? [...DEFAULT_WORKER_FLAGS] } : undefined;
  const all = targets({ root: ROOT, out, peersDir, backend, before, bareRoot });
  const pick = (name: string): Target => {
    const t = all.find((x) => x.name === name);
    if (!t) throw new UsageError(`unknown target ${name} (known: ${all.map((x) => x.name).join(', ')}${before ? '' : '; casgate-before needs --before'})`);
    return t;
  };
  const [a, b] = [pick(values.a ?? 'casgate'), pick(values.b ?? 'undici')];
  if (a.rsaPort === b.rsaPort) throw new UsageError('--a and --b must be two different targets');
  const ratios: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const started = await Promise.allSettled([a.start(), b.start()]);
      if (started.some((r) => r.status === 'rejected')) {
        // One did not start: stop the other, say why, and give up (a ratio needs both).
        for (const r of started) if (r.status === 'fulfilled') await r.value.stop();
        const why = started.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason;
        process.stderr.write(`bench pair: a target did not start: ${why instanceof Error ? why.message : String(why)}\n`);
        return 1;
      }
      const [ra, rb] = started.map((r) => (r as PromiseFulfilledResult<Running>).value) as [Running, Running];
      try {
        // Both warm (a JIT's first seconds are not a proxy in service), then both measured at once.
        await Promise.all([measure(figure, a, ra, 2), measure(figure, b, rb, 2)]);
        const [sa, sb] = await Promise.all([measure(figure, a, ra, durationS), measure(figure, b, rb, durationS)]);
        const [pa, pb] = [perCore(sa), perCore(sb)];
        const ratio = pa !== undefined && pb !== undefined ? pa / pb : NaN;
        ratios.push(ratio);
        const show = (name: string, s: Sample, p: number | undefined): string =>
          `${name} ${Math.round(s.value)}/s at ${((100 * s.cpuS) / s.wallS).toFixed(0)} % CPU = ${p === undefined ? '–' : Math.round(p)} per CPU s`;
        process.stdout.write(`run ${i + 1}: ${show(a.name, sa, pa)}; ${show(b.name, sb, pb)}; ${a.name}/${b.name} ${ratio.toFixed(3)}\n`);
      } finally {
        await Promise.all([ra.stop(), rb.stop()]);
      }
    }
  } finally {
    await stop(backend);
  }
  const sorted = ratios.filter(Number.isFinite).sort((x, y) => x - y);
  if (sorted.length === 0) return 1;
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  process.stdout.write(`${figure}: ${a.name}/${b.name} per CPU second ${median.toFixed(3)} (${sorted[0]!.toFixed(3)}–${sorted.at(-1)!.toFixed(3)}, n=${sorted.length})\n`);
  return 0;
}
