// The HA run as a section of bench/RESULTS.md (a table per scenario, then what it means) and a timeline SVG in the
// failover bench's style: who held the address, which node answered each probe, failed requests, held connections
// cut and back, the faults as labelled lines.
import { escapeXml, niceStep } from '../failover/svg.js';
import type { ScenarioFigures, VipSample } from './analyse.js';
import type { ClientEvent } from './client.js';

/** The active/active file: both addresses held, one per node; lb2's moves on kill -9 of its casgate and comes back. */
export interface ActiveActiveFigures {
  /** Seconds from keepalived's start until each node held its own address. */
  splitS: number;
  /** Node answering the first and the second address then. */
  answeredBy: [string, string];
  /** Seconds from kill -9 of casgate on lb2 until its address answered from lb1. */
  takeoverS: number;
  /** Seconds from lb2's casgate ready again until lb2 held its address again (preempt_delay 10 s), and who answered. */
  returnedAfterReadyS: number;
  answeredBackBy: string;
}

export interface HaRun {
  date: string;
  durationS: number;
  node: string;
  keepalived: string;
  scenarios: ScenarioFigures[];
  activeActive: ActiveActiveFigures;
  /** The notify script's lines from both nodes. */
  transitions: string;
}

export const HA_HEADING = '## High availability pair (keepalived)';
const KEPT_MARKER = '<!-- Sections below this line are kept when `npm run bench:peers` rewrites the file. -->';

const s = (v: number | null) => (v === null ? 'no' : `${v.toFixed(2)} s`);

function failedCell(f: ScenarioFigures): string {
  const kinds = Object.entries(f.failed).filter(([, v]) => v.inFlight + v.oldConnection + v.newConnection > 0);
  if (!kinds.length) return '0';
  return kinds.map(([k, v]) => `${k} ${v.inFlight}/${v.oldConnection}/${v.newConnection}`).join(', ');
}

function longLivedCell(f: ScenarioFigures): string {
  return (['activesync', 'rpc'] as const)
    .map((k) => {
      const l = f.longLived[k];
      const label = k === 'activesync' ? 'Pings' : 'RPC pairs';
      return l.cut === 0 ? `${label} 0 cut` : `${label} ${l.cut} cut, ${l.reconnected} back (last ${s(l.maxReconnectS)})`;
    })
    .join('; ');
}

export function renderHaSection(run: HaRun, svg: string): string {
  const L: string[] = [
    HA_HEADING,
    '',
    `Written by \`casgate bench ha\` (src/bench/ha) on ${run.date}: \`npm run bench:ha\` (${run.durationS} s). Two network namespaces lb1 and`,
    `lb2, each running \`casgate run\` (same config, shared \`tls.ticketKeyFile\`) and ${run.keepalived} with deploy/keepalived/keepalived.conf`,
    '(only addresses and script paths substituted: advert_int 1, track_script curl /ready interval 1 fall 2, nopreempt); 2 mock CAS in',
    'a third, the clients in a fourth, all on one bridge. Load on the VIP: 6 request loops (3 OWA GET, 3 EWS POST, 20 ms apart),',
    `4 ActiveSync Pings (3 s heartbeat), 2 RPC channel pairs, and a probe on a new connection every 100 ms. Node ${run.node}, 2 shared cores.`,
    '',
    '| scenario | VIP on the other node | answered from the other node | requests in window | failed (in flight / on an old connection / on a new one) | connects refused or timed out (last) | held connections cut, back (last, from the fault) | reconnecting TLS clients resumed |',
    '|---|--:|--:|--:|---|--:|---|--:|',
  ];
  for (const f of run.scenarios) {
    const share = f.handshakes ? `${f.resumed}/${f.handshakes} (${Math.round((100 * f.resumed) / f.handshakes)} %)` : 'none reconnected';
    L.push(
      `| ${f.name}: ${f.action} | ${s(f.vipMovedS)} | ${s(f.answeredS)} | ${f.requests} | ${failedCell(f)} | ${f.connectFailures}${f.lastConnectFailureS !== null ? ` (${f.lastConnectFailureS.toFixed(2)} s)` : ''} | ${longLivedCell(f)} | ${share} |`,
    );
  }
  L.push(
    '',
    'Times are from the fault. "VIP on the other node": the address appears on its interface (sampled every 50 ms); "answered":',
    'the first probe answered through it. A request "on an old connection" was sent after the fault on a keep-alive connection',
    'to the node that failed (the client could not know yet); "on a new one" would be a failure on a connection opened after',
    'the address moved. Connects that failed carried no request (the address was on no working node yet).',
    '',
    `Active/active (deploy/keepalived/keepalived-active-active.conf, both keepalived restarted with it after the above): lb1 held`,
    `the first address and lb2 the second ${run.activeActive.splitS.toFixed(2)} s after start, answered by ${run.activeActive.answeredBy.join(' and ')};`,
    `after kill -9 of casgate on lb2 its address answered from lb1 in ${run.activeActive.takeoverS.toFixed(2)} s; once lb2's casgate was ready`,
    `again, lb2 took its address back ${run.activeActive.returnedAfterReadyS.toFixed(2)} s later (rise 2 + preempt_delay 10 s), answered by ${run.activeActive.answeredBackBy}.`,
    '',
    `![timeline](${svg})`,
    '',
    'keepalived transitions (notify script):',
    '',
    '```',
    run.transitions,
    '```',
    '',
  );
  return L.join('\n');
}

/** Replaces the HA section below the kept-sections marker, or appends it there. */
export function replaceHaSection(previous: string, section: string): string {
  const text = previous.includes(KEPT_MARKER) ? previous : `${previous}${previous && !previous.endsWith('\n') ? '\n' : ''}\n${KEPT_MARKER}\n`;
  const start = text.indexOf(HA_HEADING, text.indexOf(KEPT_MARKER));
  if (start < 0) return `${text.replace(/\n*$/, '\n')}\n${section.replace(/\n*$/, '\n')}`;
  const after = text.slice(start + HA_HEADING.length);
  const next = after.search(/^## /m);
  const rest = next < 0 ? '' : after.slice(next);
  return `${text.slice(0, start)}${section.replace(/\n*$/, '\n')}${rest ? `\n${rest}` : ''}`;
}

const W = 1100;
const H = 420;
const M = { left: 120, right: 30, top: 46, bottom: 70 };
const NODE_COLOUR: Record<string, string> = { lb1: '#1f77b4', lb2: '#ff7f0e' };

export function renderTimelineSvg(run: HaRun, events: readonly ClientEvent[], vip: readonly VipSample[], marks: ReadonlyArray<{ at: number; label: string }>, t0: number): string {
  const endMs = Math.max(...events.map((e) => ('end' in e ? e.end : e.at)), ...vip.map((v) => v.at)) - t0;
  const x = (t: number) => M.left + ((t - t0) / endMs) * (W - M.left - M.right);
  const rows = ['VIP on lb1', 'VIP on lb2', 'probe answered by', 'failed requests', 'Pings / RPC cut', 'back'];
  const rowY = (i: number) => M.top + 20 + i * 48;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${M.left}" y="24" font-size="15" font-weight="bold">${escapeXml(`casgate HA pair under load: who holds the VIP, who answers, what fails (${run.date.slice(0, 10)})`)}</text>`,
  ];
  rows.forEach((label, i) => out.push(`<text x="${M.left - 8}" y="${rowY(i) + 4}" text-anchor="end">${escapeXml(label)}</text>`));
  // VIP bands.
  for (const [i, node] of (['lb1', 'lb2'] as const).entries()) {
    for (let k = 0; k < vip.length; k++) {
      const v = vip[k]!;
      if (!v[node]) continue;
      const until = vip[k + 1]?.at ?? t0 + endMs;
      out.push(`<rect x="${x(v.at).toFixed(1)}" y="${rowY(i) - 8}" width="${Math.max(1, x(until) - x(v.at)).toFixed(1)}" height="16" fill="${NODE_COLOUR[node]}"/>`);
    }
  }
  const nodeOf = (addr?: string) => (addr?.endsWith('.1') ? 'lb1' : addr?.endsWith('.2') ? 'lb2' : undefined);
  for (const e of events) {
    if (e.e === 'probe') {
      const n = nodeOf(e.node);
      out.push(`<rect x="${x(e.end).toFixed(1)}" y="${rowY(2) - 8}" width="2" height="16" fill="${e.ok && n ? NODE_COLOUR[n] : '#d62728'}"/>`);
    } else if (e.e === 'req' && !e.ok) {
      out.push(`<circle cx="${x(e.end).toFixed(1)}" cy="${rowY(3) + (e.connect ? 8 : -8)}" r="3" fill="${e.connect ? '#999' : '#d62728'}"><title>${escapeXml(`${e.kind} ${e.failure ?? ''}${e.connect ? ' (connect)' : ''}`)}</title></circle>`);
    } else if (e.e === 'lost') {
      out.push(`<text x="${x(e.at).toFixed(1)}" y="${rowY(4) + 4 + (e.kind === 'rpc' ? 8 : -6)}" text-anchor="middle" fill="#d62728">×</text>`);
    } else if (e.e === 'back') {
      out.push(`<circle cx="${x(e.at).toFixed(1)}" cy="${rowY(5) + (e.kind === 'rpc' ? 8 : -6)}" r="3" fill="none" stroke="#2ca02c"/>`);
    }
  }
  for (const m of marks) {
    out.push(`<line x1="${x(m.at).toFixed(1)}" x2="${x(m.at).toFixed(1)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${(x(m.at) + 3).toFixed(1)}" y="${M.top + 2}">${escapeXml(m.label)}</text>`);
  }
  const step = niceStep(endMs / 1000, 12);
  for (let t = 0; t <= endMs / 1000; t += step) {
    const px = x(t0 + t * 1000).toFixed(1);
    out.push(`<line x1="${px}" x2="${px}" y1="${H - M.bottom}" y2="${H - M.bottom + 5}" stroke="#333"/><text x="${px}" y="${H - M.bottom + 18}" text-anchor="middle">${t}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`);
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - M.bottom + 36}" text-anchor="middle">seconds since the run started (lb1 blue, lb2 orange, red: failed; grey dots: connects refused; RPC below Pings)</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
