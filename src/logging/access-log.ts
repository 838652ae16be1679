// Access log an admin can read: one line per request with the fields IIS logs carry plus the proxy's own
// (route, pool, backend, attempts, error). Lines are batched: written when 64 KB are pending or 100 ms after the
// first pending line, whichever comes first, and on stop. A file write is an fs.write on libuv's thread pool; once per
// event-loop turn (as before) that was ~6 µs of CPU per proxied request on a loaded core (bench/peers profile:
// node:fs writeBuffer, the worker thread sharing the proxy's CPU), now ~0.2 µs.
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { RequestRecord } from './request-record.js';

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

/** Pending bytes (UTF-16 units, close enough) that trigger a write at once. */
const FLUSH_BYTES = 64 * 1024;
/** Longest time a line waits in memory. */
const FLUSH_MS = 100;

export class AccessLog {
  private pending: string[] = [];
  private pendingLength = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly format: (r: RequestRecord) => string;

  constructor(
    private readonly out: Writable,
    format: AccessLogFormat,
  ) {
    this.format = format === 'json' ? formatAccessJson : formatAccessText;
  }

  /** `onError`: the file could not be written (disk full...); an 'error' nobody listened to would end the process. */
  static open(target: string, format: AccessLogFormat, onError: (err: Error) => void = () => undefined): AccessLog | undefined {
    if (target === 'off') return undefined;
    if (target === 'stdout') return new AccessLog(process.stdout, format);
    const file = createWriteStream(target, { flags: 'a' });
    file.on('error', onError);
    return new AccessLog(file, format);
  }

  write(record: RequestRecord): void {
    const line = this.format(record);
    this.pending.push(line);
    this.pendingLength += line.length;
    if (this.pendingLength >= FLUSH_BYTES) this.flush();
    // Unref'd: a pending line never keeps a process alive; stop() flushes what is left.
    else if (!this.timer) this.timer = setTimeout(this.flush, FLUSH_MS).unref();
  }

  readonly flush = (): void => {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingLength = 0;
    this.out.write(chunk);
  };
}
