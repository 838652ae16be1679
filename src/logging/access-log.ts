// Access log an admin can read: one line per request with the fields IIS logs carry plus the proxy's own
// (route, pool, backend, attempts, error). Lines are batched and written once per event-loop turn, so a busy
// proxy makes one write() per turn instead of one per request.
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { RequestRecord } from '../proxy/engine.js';

export type AccessLogFormat = 'text' | 'json';

/** The ISO time of the last millisecond formatted: a busy proxy logs many lines per millisecond. */
let lastMs = -1;
let lastIso = '';
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

function q(s: string | undefined): string {
  return s ? JSON.stringify(s) : '-';
}

export function formatAccessText(r: RequestRecord, now?: Date): string {
  return (
    `${now ? now.toISOString() : isoNow()} ${r.clientIp} ${r.host || '-'} "${r.method} ${r.url} HTTP/${r.httpVersion}" ${r.status} ${r.bytesSent} ` +
    `${r.durationMs.toFixed(1)}ms route=${r.route ?? '-'} pool=${r.pool ?? '-'} backend=${r.backend ?? '-'}` +
    `${r.attempts > 1 ? ` attempts=${r.attempts}` : ''}${r.pinned ? ' pinned' : ''}` +
    `${r.error ? ` error=${r.error}` : ''}${r.errorDetail ? ` detail=${q(r.errorDetail)}` : ''} ua=${q(r.userAgent)}\n`
  );
}

export function formatAccessJson(r: RequestRecord, now?: Date): string {
  return `${JSON.stringify({ time: now ? now.toISOString() : isoNow(), ...r, durationMs: Math.round(r.durationMs * 10) / 10 })}\n`;
}

export class AccessLog {
  private pending: string[] = [];
  private scheduled = false;
  private readonly format: (r: RequestRecord) => string;

  constructor(
    private readonly out: Writable,
    format: AccessLogFormat,
  ) {
    this.format = format === 'json' ? formatAccessJson : formatAccessText;
  }

  static open(target: string, format: AccessLogFormat): AccessLog | undefined {
    if (target === 'off') return undefined;
    return new AccessLog(target === 'stdout' ? process.stdout : createWriteStream(target, { flags: 'a' }), format);
  }

  write(record: RequestRecord): void {
    this.pending.push(this.format(record));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.out.write(chunk);
  };
}
