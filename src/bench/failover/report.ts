// The result of a failover run (JSON) and its Markdown summary: one row per event, then the whole run by kind.
import type { EventSummary, FailoverEvent, KindCounts, WindowSummary } from './timeline.js';

export interface FailoverResult {
  tool: 'casgate bench failover';
  startedAt: string;
  durationMs: number;
  settings: {
    /** Servers the run knew or saw answer. */
    servers: number;
    concurrency: number;
    pings: number;
    heartbeatMs: number;
    tunnels: number;
    bucketMs: number;
    /** `in-process` (the built-in lab) or `at <url>` (a casgate already running). */
    gateway: string;
    /** The built-in lab's settings; a remote casgate has its own. */
    lab?: {
      latencyMs: number;
      health: { intervalMs: number; fall: number; rise: number };
      slowStartMs: number;
      drainTimeoutMs: number;
    };
  };
  events: FailoverEvent[];
  perEvent: EventSummary[];
  overall: WindowSummary;
  tunnels: { opened: number; failedOpens: number; bytesSent: number };
  /** Requests taken per backend over the whole run. */
  perBackend: Record<string, number>;
  files: { json: string; markdown: string; svg: string };
}

const ms = (v: number | undefined) => (v === undefined ? 'n/a' : `${Math.round(v)} ms`);
const n = (v: number) => v.toLocaleString('en-US');

function lostText(k: KindCounts): string {
  return k.lostOnServer + k.lostElsewhere === 0 ? '0' : `${k.lostOnServer} + ${k.lostElsewhere}`;
}

function byKind(kinds: Record<string, KindCounts>, pick: (k: KindCounts) => number): string {
  const parts = Object.entries(kinds)
    .filter(([, k]) => pick(k) > 0)
    .map(([name, k]) => `${name} ${pick(k)}`);
  return parts.length ? parts.join(', ') : '-';
}

function heldText(w: WindowSummary): string {
  const lost = w.activesyncLost + w.rpcLost;
  if (lost === 0) return '0 / 0';
  return `${w.activesyncLost} / ${w.rpcLost}`;
}

export function toMarkdown(r: FailoverResult): string {
  const s = r.settings;
  const lines = [
    `### casgate bench failover`,
    '',
    `${r.startedAt}: ` +
      (s.lab ? `${s.servers} mock CAS processes, gateway ${s.gateway}; ` : `casgate ${s.gateway}, ${s.servers} servers seen; `) +
      `${s.concurrency} request loops (OWA, EWS, MAPI, OAB, Autodiscover), ${s.pings} ActiveSync Pings held (${s.heartbeatMs / 1000} s heartbeat), ${s.tunnels} RPC tunnels; ` +
      (s.lab
        ? `backend latency ${s.lab.latencyMs} ms; probes every ${s.lab.health.intervalMs} ms (fall ${s.lab.health.fall}, rise ${s.lab.health.rise}), ` +
          `slow start ${s.lab.slowStartMs} ms, drain deadline ${s.lab.drainTimeoutMs} ms; `
        : '') +
      `${(r.durationMs / 1000).toFixed(1)} s.`,
    '',
    '| at | event | requests | lost (on it + elsewhere) | lost by kind | retried, then OK | Pings / tunnels lost | out of (or back in) all pools | last new request / first request again | long-lived all back after (median) |',
    '|--:|---|--:|--:|---|--:|--:|--:|--:|--:|',
  ];
  for (const e of r.perEvent) {
    const lostKinds = byKind(e.kinds, (k) => k.lostOnServer + k.lostElsewhere);
    const traffic = e.lastNewRequestAfter !== undefined ? `last ${ms(e.lastNewRequestAfter)}` : `first ${ms(e.tookTrafficAfter)}`;
    const held =
      e.activesyncLost + e.rpcLost === 0
        ? '-'
        : `${ms(e.heldReconnectedAfter)} (${ms(e.heldReconnectMedian)})${e.heldNotReconnected ? `, ${e.heldNotReconnected} not back` : ''}`;
    lines.push(
      `| ${(e.event.at / 1000).toFixed(1)} s | ${e.event.action} ${e.event.server} | ${n(e.total.sent)} | ${lostText(e.total)} | ${lostKinds} | ${e.total.retriedOk} | ${heldText(e)} | ${ms(e.stateChangedAfter)} | ${traffic} | ${held} |`,
    );
  }
  const o = r.overall;
  lines.push(
    '',
    '| whole run | requests | lost on a failed server | lost elsewhere | other errors (4xx) | retried, then OK |',
    '|---|--:|--:|--:|--:|--:|',
  );
  for (const [kind, k] of Object.entries(o.kinds).sort()) {
    lines.push(`| ${kind} | ${n(k.sent)} | ${k.lostOnServer} | ${k.lostElsewhere} | ${k.otherErrors} | ${k.retriedOk} |`);
  }
  lines.push(`| **all** | ${n(o.total.sent)} | ${o.total.lostOnServer} | ${o.total.lostElsewhere} | ${o.total.otherErrors} | ${o.total.retriedOk} |`);
  lines.push(
    '',
    `Long-lived: ${o.activesyncLost} ActiveSync Pings and ${o.rpcLost} RPC tunnels lost, ${o.heldReconnected} reconnected elsewhere, ${o.heldNotReconnected} not by the end; ` +
      `${r.tunnels.opened} tunnels opened in all, ${r.tunnels.failedOpens} opens failed.`,
    `Requests per CAS: ${Object.entries(r.perBackend).map(([b, c]) => `${b} ${n(c)}`).join(', ')}.`,
    '',
    `Timeline: [${basename(r.files.svg)}](${basename(r.files.svg)}) (requests/s per CAS, lost requests, events). Full result: ${basename(r.files.json)}.`,
    '',
    'Lost: 5xx or a connection error, counted in the window from an event to the next; "on it" = the request was on the CAS the event was about. ' +
      'Out of all pools: until the gateway stopped choosing the CAS for any protocol (back in: for every protocol). ' +
      'Last new request: the last request the CAS took and answered after the event (0: none). First request again: the first one it answered after its recovery. ' +
      'Long-lived all back: until the last lost Ping or tunnel had a replacement on another CAS; median from each one\'s own loss.' +
      (s.lab
        ? ''
        : ' Against a running casgate, a request is attributed to a CAS by its X-FEServer answer: one cut before it answered (a held Ping, ' +
          'a request in flight on a killed CAS) counts as lost elsewhere; casgate\'s access log (backend=) says where it was. ' +
          'seen-down / seen-up: when casgate\'s admin API showed the CAS leave a pool and be back in all of them (polled every 100 ms).'),
  );
  return `${lines.join('\n')}\n`;
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
