// bench/RESULTS.md: what was run (date, versions, commands), absolute figures, figures per proxy core, and ratios
// against nginx and http-proxy. Absolute figures drift between runs; the ratios taken in one run are what to compare.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { perCore, type Sample } from './measure.js';
import { runCommand } from '../../src/bench/procs.js';

export type Metric = 'smallGet' | 'bigGet' | 'p99' | 'hsRsa' | 'hsEcdsa' | 'idleRss';

export interface PeersRun {
  date: string;
  elapsedS: number;
  rounds: number;
  durationS: number;
  idleCount: number;
  rate: number;
  rateWhy: string;
  loader: string;
  backend: string;
  targets: { name: string; describe: string; skipped: string | undefined }[];
  notes: string[];
  versions: Record<string, string>;
  commands: Record<string, string>;
  samples: Record<string, Partial<Record<Metric, Sample[]>>>;
  /** os.loadavg() when the run started and ended: other work on the machine shows here. */
  loadavg?: { start: number[]; end: number[] };
}

export async function versions(root: string): Promise<Record<string, string>> {
  const first = async (cmd: string, args: string[]): Promise<string> => {
    const r = await runCommand(cmd, args, 5000);
    return (r.stdout + r.stderr).trim().split('\n')[0] ?? '';
  };
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? '?';
  return {
    casgate: pkg.version,
    node: process.version,
    nginx: await first('nginx', ['-v']),
    haproxy: await first('haproxy', ['-v']),
    wrk: await first('wrk', ['-v']),
    openssl: await first('openssl', ['version']),
    kernel: `${os.type()} ${os.release()}`,
    cpu: `${os.cpus().length} × ${cpu}`,
  };
}

const median = (xs: number[]): number | undefined => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function figure(run: PeersRun, target: string, metric: Metric, core: boolean): number | undefined {
  const samples = run.samples[target]?.[metric] ?? [];
  return median(samples.map((s) => (core ? perCore(s) ?? NaN : s.value)));
}

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(2)} ×`);

const PER_CORE: Metric[] = ['smallGet', 'bigGet', 'hsRsa', 'hsEcdsa'];
const HEAD: Record<Metric, string> = {
  smallGet: 'small GET req/s',
  bigGet: '1 MiB GET MiB/s',
  p99: 'p99 ms at fixed rate',
  hsRsa: 'new TLS handshakes/s RSA-2048',
  hsEcdsa: 'new TLS handshakes/s ECDSA P-256',
  idleRss: 'RSS per idle TLS conn (KB)',
};

/**
 * casgate over a peer per round: the two were measured minutes apart at most, in alternating order, so the machine's
 * drift (2× within minutes on these shared cores) cancels out of each round's ratio far better than out of a ratio of
 * medians. Undefined where a round lacks either figure.
 */
export function roundRatios(run: PeersRun, metric: Metric, target: string, base: string): number[] {
  const value = (s: Sample): number | undefined => (PER_CORE.includes(metric) ? perCore(s) : s.value);
  const b = run.samples[base]?.[metric] ?? [];
  const out: number[] = [];
  for (const [i, sa] of (run.samples[target]?.[metric] ?? []).entries()) {
    const sb = sa.round === undefined ? b[i] : b.find((s) => s.round === sa.round);
    if (!sb) continue;
    const x = value(sa);
    const y = value(sb);
    if (x !== undefined && y !== undefined && y > 0 && Number.isFinite(x / y)) out.push(x / y);
  }
  return out;
}

/** Issue 13's targets for the engine, judged on the per-round ratios. */
const ENGINE_GOALS: { metric: Metric; base: string; min: number }[] = [
  { metric: 'bigGet', base: 'http-proxy', min: 1.0 },
  { metric: 'bigGet', base: 'undici', min: 1.2 },
  { metric: 'smallGet', base: 'undici', min: 0.95 },
  { metric: 'hsRsa', base: 'undici', min: 0.95 },
  { metric: 'hsEcdsa', base: 'undici', min: 0.95 },
];

function sideBySide(run: PeersRun, names: string[]): string[] {
  const L = ['## Side by side: casgate over each peer, round by round', ''];
  L.push(
    'Per proxy core, one ratio per round (the two measured in the same round, minutes apart at most): median and ' +
      'spread (lowest–highest) over the rounds. This is the figure of record for the engine: it drifts far less than ' +
      'the absolute figures.',
    '',
  );
  const bases = ['casgate-before', 'undici', 'http-proxy', 'nginx'].filter((b) => names.includes(b));
  L.push(`| figure | ${bases.map((b) => `× ${b}`).join(' | ')} |`, `|---|${bases.map(() => '--:').join('|')}|`);
  for (const m of PER_CORE) {
    const cells = bases.map((b) => {
      const rs = roundRatios(run, m, 'casgate', b);
      const med = median(rs);
      return med === undefined ? '–' : `${med.toFixed(2)} (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)}, n=${rs.length})`;
    });
    L.push(`| ${HEAD[m]} | ${cells.join(' | ')} |`);
  }
  L.push('');
  const goals = ENGINE_GOALS.filter((g) => names.includes(g.base) && roundRatios(run, g.metric, 'casgate', g.base).length > 0);
  if (goals.length > 0) {
    L.push('Goals of issue 13 (median of the round ratios):', '', '| goal | measured | met |', '|---|--:|---|');
    for (const g of goals) {
      const med = median(roundRatios(run, g.metric, 'casgate', g.base))!;
      L.push(`| ${HEAD[g.metric]} ≥ ${g.min.toFixed(2)} × ${g.base} | ${med.toFixed(2)} × | ${med >= g.min ? 'yes' : 'no'} |`);
    }
    L.push('');
  }
  return L;
}

function cpuShare(run: PeersRun, target: string, metric: Metric): string {
  const xs = (run.samples[target]?.[metric] ?? []).map((s) => (s.cpuS / s.wallS) * 100);
  const m = median(xs);
  return m === undefined ? '–' : `${fmt(m)} %`;
}

/**
 * Everything after this line in bench/RESULTS.md belongs to other benchmarks (failover, idle Pings) and to people:
 * bench peers rewrites only what is above it.
 */
export const KEPT_MARKER = '<!-- Sections below this line are kept when `npm run bench:peers` rewrites the file. -->';

/** The part of an existing RESULTS.md that a rerun keeps: the marker and what follows it (the marker alone if none). */
/** Above this p99 straight to the backend (ms), the p99 row of the goals is left undecided. */
const P99_FLOOR_MS = 20;

export function keptSections(previous: string): string {
  const at = previous.indexOf(KEPT_MARKER);
  return at < 0 ? `${KEPT_MARKER}\n` : previous.slice(at);
}

/** `analysis`: bench/peers/analysis.md (what bounds each figure, profiles, micro-benchmarks), kept across reruns. */
export function renderResults(run: PeersRun, analysis?: string): string {
  const names = run.targets.filter((t) => !t.skipped || run.samples[t.name]).map((t) => t.name);
  const L: string[] = [];
  L.push('# casgate against its peers', '');
  L.push(
    `Written by \`npm run bench:peers\` (src/bench/peers) on ${run.date}, in ${run.elapsedS} s: ${run.rounds} rounds over all targets in ` +
      `alternating order, ${run.durationS} s per measurement after a 1 s warm-up; figures are medians over the rounds. ` +
      'Rerun with `npm run bench:peers` (options: `npm run bench:peers -- --help`).',
    '',
  );
  L.push('**Compare ratios, not absolute figures**: this machine has 2 shared, noisy cores, and absolute figures drift between runs.', '');
  L.push('## Setup', '');
  L.push(`- Versions: ${Object.entries(run.versions).map(([k, v]) => `${k}: ${v}`).join('; ')}.`);
  L.push('- Proxy pinned to CPU 0 (`taskset -c 0`); load generator and backend pinned to CPU 1. Only one proxy runs at a time.');
  L.push(`- Backend: ${run.backend}. Same URLs as the mock CAS: \`/__mock/static\` (300 bytes), \`/__mock/bytes\` (1 MiB).`);
  L.push('- Every proxy: TLS 1.3 in front (RSA-2048 and ECDSA P-256 leaves made with the openssl CLI), HTTP/1.1 keep-alive to the backend, X-Forwarded-For added; nginx and HAProxy with access logs off.');
  L.push(
    "- Per proxy core: each figure divided by the share of one core the proxy's processes used meanwhile (utime+stime from /proc/<pid>/stat " +
      'over the measurement). When the load generator, not the proxy, is the limit, the proxy runs below 100 % and this extrapolates.',
  );
  L.push(`- Small GET and 1 MiB GET loaded by ${run.loader === 'wrk' ? 'wrk (1 thread; 64 and 16 connections)' : '`casgate bench load` (64 and 16 connections)'}, after 2 s of closed-loop load on each freshly started target (on each of its processes) (not counted: a JIT runtime's first seconds are not a proxy in service).`);
  L.push('- New handshakes: `casgate bench load --fresh-connections` (undici, 16 connections, `Connection: close` and no TLS session cache, so every request pays a full handshake).');
  L.push(
    `- p99: \`casgate bench load --rate ${run.rate}\` (open loop, latency from the intended send time), ${run.rateWhy}; each target is started afresh and warmed by 3 s of closed-loop load first (a cold JIT's first seconds are not a proxy in service).`,
  );
  L.push(`- Memory: ${run.idleCount} TLS connections opened, one GET each, then held idle; (VmRSS after − before) / connections, summed over the proxy's processes.`);
  for (const t of run.targets) L.push(`- ${t.name}: ${t.describe}${t.skipped ? ` — **skipped: ${t.skipped}**` : ''}.`);
  if (run.loadavg) {
    const f = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
    L.push(`- Load average (1, 5, 15 min) at the start: ${f(run.loadavg.start)}; at the end: ${f(run.loadavg.end)} (2 cores).`);
  }
  for (const n of run.notes) L.push(`- Note: ${n}.`);
  L.push('', 'Commands (ports vary by target):', '', '```');
  for (const [k, v] of Object.entries(run.commands)) L.push(`# ${HEAD[k as Metric] ?? k}`, v);
  L.push('```', '');

  L.push('## Absolute figures', '');
  L.push(`| target | ${HEAD.smallGet} | proxy CPU | ${HEAD.bigGet} | proxy CPU | ${HEAD.p99} (${fmt(run.rate)} req/s) | ${HEAD.hsRsa} | ${HEAD.hsEcdsa} | ${HEAD.idleRss} |`);
  L.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const t of run.targets) {
    if (t.skipped && !run.samples[t.name]) {
      L.push(`| ${t.name} | ${t.name === 'casgate' ? 'casgate not built' : 'skipped'} | | | | | | | |`);
      continue;
    }
    const f = (m: Metric, d = 0): string => fmt(figure(run, t.name, m, false), d);
    const rss = figure(run, t.name, 'idleRss', false);
    const max = figure(run, t.name, 'smallGet', false);
    const over = max !== undefined && max < run.rate ? ' (rate above its maximum)' : '';
    L.push(
      `| ${t.name} | ${f('smallGet')} | ${cpuShare(run, t.name, 'smallGet')} | ${f('bigGet')} | ${cpuShare(run, t.name, 'bigGet')} | ${f('p99', 2)}${over} | ` +
        `${f('hsRsa')} | ${f('hsEcdsa')} | ${fmt(rss === undefined ? undefined : rss / 1024, 1)} |`,
    );
  }
  L.push('');
  L.push('## Per proxy core', '');
  L.push(`| target | ${PER_CORE.map((m) => HEAD[m]).join(' | ')} |`, `|---|${PER_CORE.map(() => '--:').join('|')}|`);
  for (const n of names) L.push(`| ${n} | ${PER_CORE.map((m) => fmt(figure(run, n, m, true))).join(' | ')} |`);
  L.push('');
  L.push('## Ratios (per proxy core; p99 and memory as they are, lower is better for those two)', '');
  const cols: Metric[] = [...PER_CORE, 'p99', 'idleRss'];
  for (const base of ['nginx', 'http-proxy', 'undici']) {
    if (!names.includes(base)) continue;
    L.push(`vs ${base}:`, '');
    L.push(`| target | ${cols.map((m) => HEAD[m]).join(' | ')} |`, `|---|${cols.map(() => '--:').join('|')}|`);
    for (const n of names) {
      const core = (m: Metric): boolean => PER_CORE.includes(m);
      L.push(`| ${n} | ${cols.map((m) => ratio(figure(run, n, m, core(m)), figure(run, base, m, core(m)))).join(' | ')} |`);
    }
    L.push('');
  }
  if (names.includes('casgate')) L.push(...sideBySide(run, names));
  if (names.includes('casgate')) {
    L.push('## casgate against the goals of issue 5', '');
    const c = (m: Metric, base: string): number | undefined => {
      const a = figure(run, 'casgate', m, PER_CORE.includes(m));
      const b = figure(run, base, m, PER_CORE.includes(m));
      return a === undefined || b === undefined ? undefined : a / b;
    };
    const goals: [string, number | undefined, (x: number) => boolean][] = [
      ['small GET ≥ 1.6 × http-proxy', c('smallGet', 'http-proxy'), (x) => x >= 1.6],
      ['small GET ≥ 0.5 × nginx', c('smallGet', 'nginx'), (x) => x >= 0.5],
      ['1 MiB GET ≥ 1.0 × nginx', c('bigGet', 'nginx'), (x) => x >= 1.0],
      ['RSA handshakes ≥ 0.8 × nginx', c('hsRsa', 'nginx'), (x) => x >= 0.8],
      ['ECDSA handshakes ≥ 0.8 × nginx', c('hsEcdsa', 'nginx'), (x) => x >= 0.8],
      ['p99 ≤ 2 × nginx', c('p99', 'nginx'), (x) => x <= 2],
    ];
    // The backend straight from the load generator is the floor of every p99: when even it is slow, the generator's
    // core was busy (other processes on this shared machine) and no proxy's p99 says anything about the proxy.
    const directP99 = figure(run, 'direct', 'p99', false);
    const p99Undecided = directP99 !== undefined && directP99 > P99_FLOOR_MS;
    L.push('| goal | measured | met |', '|---|--:|---|');
    for (const [g, v, ok] of goals) {
      const met =
        v === undefined ? '–' : g.startsWith('p99') && p99Undecided ? `undecided: direct itself had p99 ${fmt(directP99, 1)} ms (the load generator's core was busy)` : ok(v) ? 'yes' : 'no';
      L.push(`| ${g} | ${v === undefined ? '–' : `${v.toFixed(2)} ×`} | ${met} |`);
    }
    const rss = figure(run, 'casgate', 'idleRss', false);
    L.push(`| RSS ≤ 24 KB per idle TLS connection | ${fmt(rss === undefined ? undefined : rss / 1024, 1)} KB | ${rss === undefined ? '–' : rss <= 24 * 1024 ? 'yes' : 'no'} |`);
    L.push('');
  }
  L.push('Every sample (with CPU seconds and wall time) is in `bench/out/peers.json` after a run.', '');
  if (analysis) L.push(analysis.trimEnd(), '');
  return L.join('\n');
}
