// Load and measurements against one running target. Throughput with wrk when installed (C, so the load generator
// gives out later than the proxies do), otherwise with `casgate bench load`; handshakes, fixed-rate p99 and idle
// connections with our own clients (wrk can neither hold a rate nor refuse session resumption).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from '../../src/bench/load/options.js';
import { CASGATE_CLI } from '../paths.js';
import { cpuSeconds, rssBytes, runCommand } from '../../src/bench/procs.js';

export const LOADGEN_CPU = 1;
const IDLE = fileURLToPath(new URL('./idle-client.js', import.meta.url));

export interface Sample {
  value: number;
  /** CPU seconds the target used over the measurement, and the wall time it took. */
  cpuS: number;
  wallS: number;
  errors: number;
  note?: string;
  /** The round of a peers run it was taken in (side-by-side ratios pair samples of one round). */
  round?: number;
}

async function sampled(pids: number[], fn: () => Promise<{ value: number; errors: number; note?: string }>): Promise<Sample> {
  const cpu = (): number => pids.reduce((s, p) => s + cpuSeconds(p), 0);
  const c0 = cpu();
  const t0 = performance.now();
  const r = await fn();
  const wallS = (performance.now() - t0) / 1000;
  return { ...r, cpuS: cpu() - c0, wallS };
}

export function perCore(s: Sample): number | undefined {
  const fraction = s.cpuS / s.wallS;
  return fraction > 0.02 ? s.value / fraction : undefined;
}

/** wrk -t1 pinned to the load generator's CPU. Value: requests/s. */
export function wrkCommand(url: string, connections: number, durationS: number): string[] {
  return ['taskset', '-c', String(LOADGEN_CPU), 'wrk', '-t1', `-c${connections}`, `-d${durationS}s`, '--timeout', '10s', url];
}

export function parseWrk(text: string): { rps: number; errors: number } {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]) : 0;
  return { rps, errors: non2xx + socketErrors };
}

export async function wrk(pids: number[], url: string, connections: number, durationS: number): Promise<Sample & { command: string }> {
  const warm = wrkCommand(url, connections, 1);
  await runCommand(warm[0]!, warm.slice(1), 20_000);
  const argv = wrkCommand(url, connections, durationS);
  const s = await sampled(pids, async () => {
    const r = await runCommand(argv[0]!, argv.slice(1), (durationS + 20) * 1000);
    const p = parseWrk(r.stdout);
    if (!Number.isFinite(p.rps)) throw new Error(`wrk failed: ${(r.stderr || r.stdout).trim().slice(-300)}`);
    return { value: p.rps, errors: p.errors };
  });
  return { ...s, command: argv.join(' ') };
}

export function loadCommand(args: string[]): string[] {
  return ['taskset', '-c', String(LOADGEN_CPU), process.execPath, CASGATE_CLI, 'bench', 'load', '--json', '-', '--quiet', '--insecure', ...args];
}

/** `casgate bench load` in its own process, pinned; returns its JSON result. */
export async function engine(pids: number[], args: string[], durationS: number, pick: (r: LoadResult) => number): Promise<Sample & { command: string; result: LoadResult }> {
  const argv = loadCommand([...args, '--duration', String(durationS)]);
  let result: LoadResult | undefined;
  const s = await sampled(pids, async () => {
    const r = await runCommand(argv[0]!, argv.slice(1), (durationS + 40) * 1000);
    try {
      result = JSON.parse(r.stdout) as LoadResult;
    } catch {
      throw new Error(`bench load failed (${r.code}): ${r.stderr.trim().slice(-300)}`);
    }
    return { value: pick(result), errors: result.requests.errors };
  });
  return { ...s, command: argv.join(' ').replace(process.execPath, 'node').replace(CASGATE_CLI, 'dist/cli.js'), result: result! };
}

/** Holds `count` idle TLS connections open on the target; value: RSS growth per connection in bytes. */
export async function idleRss(pids: number[], port: number, count: number): Promise<Sample & { ok: number }> {
  const rss = (): number => pids.reduce((s, p) => s + rssBytes(p), 0);
  const before = rss();
  const child = spawn('taskset', ['-c', String(LOADGEN_CPU), process.execPath, IDLE, String(port), String(count)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('idle client: no READY within 90 s')), 90_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /READY \d+ \d+/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[0]);
        }
      });
      child.on('exit', (code) => reject(new Error(`idle client exited with ${code}`)));
    });
    const [, okText, failedText] = line.split(' ');
    await new Promise((r) => setTimeout(r, 1500)); // let the target settle
    const after = rss();
    const ok = Number(okText);
    return { value: ok > 0 ? (after - before) / ok : NaN, cpuS: 0, wallS: 1, errors: Number(failedText), ok };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
  }
}
