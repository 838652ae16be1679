// Summarises a V8 .cpuprofile (node --cpu-prof) of a proxy under load: self time by category (casgate, undici, node:http,
// streams, GC...), by file and by function, optionally per request and over the steady-state window only, and the
// difference between two profiles (e.g. casgate against the undici reference proxy, taken one after the other).
//   node bench/dist/bench/profile/summarise.js A.cpuprofile [--requests-per-s R] [--window S] [--top N] [--vs B.cpuprofile --vs-requests-per-s R2]
// --window S: only the samples of the S seconds before the last sample, minus 20 % at each end (start-up and shutdown
// left out). With --requests-per-s (what wrk printed), figures are µs per request; else % of busy time.
// Caveat: V8 counts native work run straight from libuv callbacks (TLS decryption, handshakes, reads) as "(idle)";
// use `perf record` for the native split.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export function category(fn: string, url: string): string {
  if (fn === '(garbage collector)') return 'V8 GC';
  if (fn === '(program)') return 'V8 (program)';
  if (!url) return ['writev', 'writeLatin1String', 'writeBuffer', 'writeUtf8String'].includes(fn) ? 'native stream writes (TLS + syscalls)' : `native ${fn}`;
  if (url.startsWith('wasm')) return 'undici llhttp (wasm)';
  if (url.includes('node_modules/undici')) return 'undici JS';
  if (url.includes('node_modules/prom-client')) return 'prom-client';
  if (url.includes('/dist/')) return 'casgate JS';
  if (/_http_|http_parser/.test(url)) return 'node:http';
  if (/streams|stream_base|node:net|_tls/.test(url)) return 'node streams/net/tls';
  if (/events|timers|task_queues|async_hooks/.test(url)) return 'node events/timers/ticks';
  return 'node other';
}

interface Summary {
  busyUs: number;
  idleUs: number;
  byCategory: Map<string, number>;
  byFunction: Map<string, number>;
  windowS: number;
}

export function summarise(profile: CpuProfile, windowS?: number): Summary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const stamps: number[] = [];
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) stamps.push((t += profile.timeDeltas[i] ?? 0));
  const end = stamps.at(-1) ?? profile.startTime;
  const lo = windowS ? end - windowS * 0.8e6 : -Infinity;
  const hi = windowS ? end - windowS * 0.2e6 : Infinity;
  const s: Summary = { busyUs: 0, idleUs: 0, byCategory: new Map(), byFunction: new Map(), windowS: windowS ? windowS * 0.6 : (end - profile.startTime) / 1e6 };
  for (let i = 0; i < profile.samples.length; i++) {
    if (stamps[i]! < lo || stamps[i]! > hi) continue;
    const { functionName, url, lineNumber } = byId.get(profile.samples[i]!)!.callFrame;
    const d = profile.timeDeltas[i] ?? 0;
    if (functionName === '(idle)') {
      s.idleUs += d;
      continue;
    }
    s.busyUs += d;
    const cat = category(functionName, url);
    s.byCategory.set(cat, (s.byCategory.get(cat) ?? 0) + d);
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}`;
    s.byFunction.set(key, (s.byFunction.get(key) ?? 0) + d);
  }
  return s;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'requests-per-s': { type: 'string' },
      window: { type: 'string' },
      top: { type: 'string', default: '25' },
      vs: { type: 'string' },
      'vs-requests-per-s': { type: 'string' },
    },
  });
  if (positionals.length !== 1) {
    process.stderr.write('usage: summarise.js A.cpuprofile [--requests-per-s R] [--window S] [--top N] [--vs B.cpuprofile --vs-requests-per-s R2]\n');
    process.exit(2);
  }
  const windowS = values.window ? Number(values.window) : undefined;
  const load = (file: string, rps?: string) => {
    const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, windowS);
    // Per request (µs) when the rate is known, else per cent of busy time.
    const scale = rps ? 1 / (Number(rps) * s.windowS) : 100 / s.busyUs;
    return { s, scale, unit: rps ? 'µs/req' : '%' };
  };
  const a = load(positionals[0]!, values['requests-per-s']);
  const b = values.vs ? load(values.vs, values['vs-requests-per-s']) : undefined;
  const top = Number(values.top);
  const fmt = (x: number) => x.toFixed(2).padStart(8);
  const table = (title: string, pick: (s: Summary) => Map<string, number>) => {
    console.log(`\n${title} (${a.unit}${b ? `; A − B, A, B` : ''})`);
    const keys = new Set([...pick(a.s).keys(), ...(b ? pick(b.s).keys() : [])]);
    const rows = [...keys].map((k) => ({ k, x: (pick(a.s).get(k) ?? 0) * a.scale, y: b ? (pick(b.s).get(k) ?? 0) * b.scale : 0 }));
    rows.sort((r, q) => (b ? Math.abs(q.x - q.y) - Math.abs(r.x - r.y) : q.x - r.x));
    for (const r of rows.slice(0, top)) console.log(b ? `${fmt(r.x - r.y)} ${fmt(r.x)} ${fmt(r.y)}  ${r.k}` : `${fmt(r.x)}  ${r.k}`);
  };
  const line = (name: string, x: typeof a) =>
    `${name}: busy ${(x.s.busyUs * x.scale).toFixed(1)} ${x.unit}, (idle) ${((100 * x.s.idleUs) / (x.s.idleUs + x.s.busyUs)).toFixed(0)} % of samples, window ${x.s.windowS.toFixed(1)} s`;
  console.log(line('A', a));
  if (b) console.log(line('B', b));
  table('by category', (s) => s.byCategory);
  table('by function, self time', (s) => s.byFunction);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
