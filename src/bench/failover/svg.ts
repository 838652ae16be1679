// The timeline chart of a failover run, as a standalone SVG a browser opens: requests/s per backend as one line each,
// lost requests as marks along the bottom, events as labelled vertical lines, and the times a server was out of
// service shaded. No dependency: the chart is a few hundred elements written as text.
import type { AvailabilityChange, FailoverEvent, Timeline } from './timeline.js';

export interface ErrorMark {
  /** ms since the run began. */
  t: number;
  kind: string;
}

export interface ChartInput {
  title: string;
  timeline: Timeline;
  events: readonly FailoverEvent[];
  errors: readonly ErrorMark[];
  availability?: readonly AvailabilityChange[];
  endMs: number;
}

const W = 1100;
const H = 520;
const M = { left: 64, right: 150, top: 46, bottom: 96 };
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** A round step for axis ticks: 1, 2 or 5 times a power of ten, giving about `count` ticks over `span`. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
}

const r1 = (n: number) => Math.round(n * 10) / 10;

export function renderTimelineSvg(input: ChartInput): string {
  const { timeline: tl, events, errors, endMs } = input;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const t0 = tl.startMs;
  const t1 = Math.max(endMs, t0 + tl.widthMs);
  const x = (t: number) => r1(M.left + ((t - t0) / (t1 - t0)) * plotW);
  let maxRate = 0;
  for (const b of tl.backends) for (const v of tl.rates[b]!) maxRate = Math.max(maxRate, v);
  const yStep = niceStep(maxRate || 1, 5);
  const yMax = Math.max(yStep, Math.ceil((maxRate * 1.08) / yStep) * yStep);
  const y = (v: number) => r1(M.top + plotH - (v / yMax) * plotH);
  const color = (i: number) => PALETTE[i % PALETTE.length]!;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${M.left}" y="22" font-size="15" font-weight="bold">${escapeXml(input.title)}</text>`,
  );

  // Shaded spans: a server out of every pool.
  const byServer = new Map<string, AvailabilityChange[]>();
  for (const c of input.availability ?? []) {
    let list = byServer.get(c.backend);
    if (!list) byServer.set(c.backend, (list = []));
    list.push(c);
  }
  out.push('<g class="out-of-service">');
  for (const [server, changes] of byServer) {
    const i = tl.backends.indexOf(server);
    let outSince: number | undefined;
    const spans: Array<[number, number]> = [];
    for (const c of [...changes].sort((a, b) => a.t - b.t)) {
      if (c.available === 0 && outSince === undefined) outSince = c.t;
      else if (c.available > 0 && outSince !== undefined) {
        spans.push([outSince, c.t]);
        outSince = undefined;
      }
    }
    if (outSince !== undefined) spans.push([outSince, t1]);
    for (const [a, b] of spans) {
      const xa = x(Math.max(a, t0));
      out.push(
        `<rect x="${xa}" y="${M.top}" width="${r1(Math.max(1, x(Math.min(b, t1)) - xa))}" height="${plotH}" fill="${color(Math.max(0, i))}" fill-opacity="0.08"><title>${escapeXml(server)} out of service</title></rect>`,
      );
    }
  }
  out.push('</g>');

  // Grid and axes.
  out.push('<g class="axes" stroke="#dddddd">');
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    out.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${y(v)}" y2="${y(v)}"/>`);
    out.push(`<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end" stroke="none" fill="#333">${r1(v)}</text>`);
  }
  const tStep = niceStep((t1 - t0) / 1000, 10) * 1000;
  for (let t = Math.ceil(t0 / tStep) * tStep; t <= t1; t += tStep) {
    out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${M.top + plotH}" y2="${M.top + plotH + 5}" stroke="#333"/>`);
    out.push(`<text x="${x(t)}" y="${M.top + plotH + 18}" text-anchor="middle" stroke="none" fill="#333">${r1(t / 1000)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push('</g>');
  out.push(`<text x="${M.left + plotW / 2}" y="${M.top + plotH + 36}" text-anchor="middle">time (s)</text>`);
  out.push(`<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">requests/s taken per CAS</text>`);

  // One line per backend, a point per bucket at the bucket's middle.
  tl.backends.forEach((b, i) => {
    const pts = tl.rates[b]!.map((v, k) => `${k === 0 ? 'M' : 'L'}${x(t0 + (k + 0.5) * tl.widthMs)},${y(v)}`).join(' ');
    out.push(`<path class="series" data-backend="${escapeXml(b)}" d="${pts}" fill="none" stroke="${color(i)}" stroke-width="1.8" stroke-linejoin="round"/>`);
  });

  // Lost requests: a mark each along the bottom of the plot, by kind on its own row.
  const kinds = [...new Set(errors.map((e) => e.kind))].sort();
  out.push('<g class="errors">');
  for (const e of errors) {
    if (e.t < t0 || e.t > t1) continue;
    const row = kinds.indexOf(e.kind);
    const cy = M.top + plotH - 6 - row * 8;
    out.push(`<path class="error" d="M${x(e.t) - 3},${cy - 3} l6,6 m0,-6 l-6,6" stroke="#d62728" stroke-width="1.4"><title>${escapeXml(e.kind)} lost at ${r1(e.t / 1000)} s</title></path>`);
  }
  out.push('</g>');

  // Events: a vertical line and a label each; labels alternate between two heights so that close events stay readable.
  out.push('<g class="events">');
  events.forEach((ev, i) => {
    const ex = x(ev.at);
    const label = `${ev.action} ${ev.server}`;
    out.push(
      `<g class="event" data-action="${ev.action}"><line x1="${ex}" x2="${ex}" y1="${M.top}" y2="${M.top + plotH}" stroke="#444" stroke-dasharray="4 3"/>` +
        `<text x="${ex + 3}" y="${M.top + 12 + (i % 2) * 14}" fill="#222">${escapeXml(label)}</text></g>`,
    );
  });
  out.push('</g>');

  // Legend.
  out.push('<g class="legend">');
  const lx = M.left + plotW + 14;
  tl.backends.forEach((b, i) => {
    const ly = M.top + 10 + i * 20;
    out.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${color(i)}" stroke-width="3"/><text x="${lx + 28}" y="${ly + 4}">${escapeXml(b)}</text>`);
  });
  const ly = M.top + 10 + tl.backends.length * 20;
  out.push(`<path d="M${lx + 8},${ly - 3} l6,6 m0,-6 l-6,6" stroke="#d62728" stroke-width="1.4"/><text x="${lx + 28}" y="${ly + 4}">lost request</text>`);
  out.push(`<rect x="${lx}" y="${ly + 12}" width="22" height="12" fill="#888" fill-opacity="0.2"/><text x="${lx + 28}" y="${ly + 22}">out of service</text>`);
  if (kinds.length > 0) out.push(`<text x="${lx}" y="${ly + 44}" fill="#555">error rows, bottom up:</text>`);
  kinds.forEach((k, i) => out.push(`<text x="${lx}" y="${ly + 60 + i * 14}" fill="#555">${i + 1}. ${escapeXml(k)}</text>`));
  out.push('</g>');
  out.push(
    `<text x="${M.left}" y="${H - 14}" fill="#555">Buckets of ${tl.widthMs} ms, by the time the gateway took each request. Dashed lines: events. Shaded: the CAS was out of every pool.</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
