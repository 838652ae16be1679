// Writers for a load result: JSON as it is, and a Markdown summary a person reads (and RESULTS.md embeds).
import type { LatencySummary } from './histogram.js';
import type { LoadResult } from './options.js';

const num = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (n: number): string => (n >= 100 ? num(n, 0) : n >= 10 ? num(n, 1) : num(n, 2));

function latencyRow(name: string, count: number, errors: number, l: LatencySummary): string {
  return `| ${name} | ${num(count)} | ${num(errors)} | ${ms(l.p50)} | ${ms(l.p90)} | ${ms(l.p99)} | ${ms(l.p999)} | ${ms(l.max)} |`;
}

export function toJson(r: LoadResult): string {
  return JSON.stringify(r, null, 2) + '\n';
}

export function toMarkdown(r: LoadResult): string {
  const lines: string[] = [];
  const load = r.mode === 'open-loop' ? `open loop at ${num(r.rate ?? 0)} req/s over ${r.connections} connections` : `closed loop, ${r.connections} connections`;
  lines.push(`### casgate bench load: ${r.target}`, '');
  lines.push(
    `${r.startedAt}: ${r.workload}, ${load}, ${r.workers} worker${r.workers === 1 ? '' : 's'}, ` +
      `${r.durationS} s measured after ${r.warmupS} s warm-up${r.freshConnections ? ', a new TLS connection per request' : ''}.`,
    '',
  );
  lines.push('| requests/s | MiB/s | completed | ok | errors | unfinished |', '|--:|--:|--:|--:|--:|--:|');
  lines.push(
    `| ${num(r.throughput.requestsPerS, 1)} | ${num(r.throughput.mibPerS, 2)} | ${num(r.requests.completed)} | ${num(r.requests.ok)} | ` +
      `${num(r.requests.errors)} | ${num(r.requests.unfinished)} |`,
    '',
  );
  lines.push('| latency (ms) | count | errors | p50 | p90 | p99 | p99.9 | max |', '|---|--:|--:|--:|--:|--:|--:|--:|');
  lines.push(latencyRow('all', r.latencyMs.count, r.requests.errors, r.latencyMs));
  if (Object.keys(r.kinds).length > 1) for (const [k, v] of Object.entries(r.kinds)) lines.push(latencyRow(k, v.completed, v.errors, v.latencyMs));
  if (r.held.activesync) {
    const a = r.held.activesync;
    lines.push(latencyRow(`ActiveSync Ping (${a.concurrent} held)`, a.answered, Object.values(a.errors).reduce((s, n) => s + n, 0), a.latencyMs));
  }
  if (r.held.rpc) {
    const t = r.held.rpc;
    lines.push(latencyRow(`RPC tunnel setup (${t.tunnels} tunnels)`, t.opened, Object.values(t.errors).reduce((s, n) => s + n, 0), t.setupMs));
  }
  lines.push('');
  if (r.mode === 'open-loop') {
    lines.push('Open loop: latency runs from each request\'s intended send time; requests not answered by the end count with the wait they had.', '');
  }
  if (r.held.rpc) {
    const t = r.held.rpc;
    lines.push(`RPC tunnels: ${t.opened} opened, ${t.lost} lost after opening, ${num(t.bytesSent)} bytes sent, ${num(t.bytesReceived)} received.`, '');
  }
  const errs = Object.entries(r.errors).sort((a, b) => b[1] - a[1]);
  if (errs.length > 0) {
    lines.push('| error | count |', '|---|--:|');
    for (const [k, v] of errs) lines.push(`| ${k} | ${num(v)} |`);
    lines.push('');
  }
  const codes = Object.entries(r.statusCodes);
  if (codes.length > 0) lines.push(`Status codes: ${codes.map(([c, n]) => `${c}: ${num(n)}`).join(', ')}.`, '');
  return lines.join('\n') + '\n';
}

/** One line for a terminal, rewritten in place each second. */
export function progressLine(p: { elapsedS: number; phase: string; completed: number; errors: number }, totalS: number): string {
  const width = 20;
  const done = Math.min(width, Math.round((p.elapsedS / totalS) * width));
  return `\r[${'#'.repeat(done)}${' '.repeat(width - done)}] ${p.elapsedS.toFixed(0)}/${totalS} s ${p.phase} ${num(p.completed)} ok ${num(p.errors)} errors `;
}
