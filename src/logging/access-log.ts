// Access log an admin can read: one line per request with the fields IIS logs carry plus the proxy's own
// (route, pool, backend, attempts, error), in three formats:
//   text  one readable line; every client-supplied value escaped as nginx does (`"`, `\`, controls, non-ASCII and,
//         outside quotes, spaces as \xHH), so a hostile Host or URL cannot shift the fields after it;
//   w3c   the W3C extended format of IIS logs (#Fields: header), read by Log Parser and IIS log tools;
//   json  one object per line for log shippers.
// Lines are batched: written when 64 KB are pending or 100 ms after the first pending line, whichever comes first, and
// on stop. A file write is an fs.write on libuv's thread pool; once per event-loop turn (as before) that was ~6 µs of
// CPU per proxied request on a loaded core (bench/peers profile: node:fs writeBuffer, the worker thread sharing the
// proxy's CPU), now ~0.2 µs. `reopen()` (SIGUSR1, POST /api/logs/reopen) opens the file again after logrotate moved it.
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { RequestRecord } from './request-record.js';
import { VERSION } from '../version.js';

export type AccessLogFormat = 'text' | 'json' | 'w3c';

/** `.000Z` to `.999Z`: the end of an ISO time, by millisecond. */
const MILLIS = Array.from({ length: 1000 }, (_, ms) => `.${String(ms).padStart(3, '0')}Z`);
/** The ISO time up to the seconds (`2026-12-01T08:46:58`) of the last second formatted. */
let lastSecond = -1;
let lastSecondIso = '';
/**
 * Date.now() as toISOString() writes it. Formatted once per second and completed by millisecond: a request per
 * millisecond or fewer (new TLS connections) paid a Date and its formatting for every line.
 */
export function isoNow(ms = Date.now()): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastSecondIso = new Date(second * 1000).toISOString().slice(0, 19);
  }
  return lastSecondIso + MILLIS[ms - second * 1000]!;
}

const NEEDS_ESCAPE = /[^\x21\x23-\x5b\x5d-\x7e ]/;
const NEEDS_ESCAPE_UNQUOTED = /[^\x21\x23-\x5b\x5d-\x7e]/;

/**
 * nginx's `escape=default`: `"`, `\`, control characters and bytes above 0x7e become \xHH (UTF-8 bytes), so a value
 * never ends its quotes or its line early. `unquoted` also escapes spaces, for the fields written without quotes.
 */
export function escapeLogValue(value: string, unquoted = false): string {
  if (!(unquoted ? NEEDS_ESCAPE_UNQUOTED : NEEDS_ESCAPE).test(value)) return value;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const keep = byte >= 0x21 && byte <= 0x7e && byte !== 0x22 && byte !== 0x5c;
    out += keep || (byte === 0x20 && !unquoted) ? String.fromCharCode(byte) : `\\x${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function quoted(s: string | undefined): string {
  return s ? `"${escapeLogValue(s)}"` : '-';
}

function bare(s: string | undefined): string {
  return s ? escapeLogValue(s, true) : '-';
}

export function formatAccessText(r: RequestRecord, now?: Date): string {
  return (
    `${now ? now.toISOString() : isoNow()} ${r.clientIp} ${bare(r.host)} "${escapeLogValue(r.method)} ${escapeLogValue(r.url)} HTTP/${r.httpVersion}" ${r.status} ${r.bytesSent} ` +
    `${r.durationMs.toFixed(1)}ms route=${bare(r.route)} pool=${bare(r.pool)} backend=${bare(r.backend)}` +
    `${r.attempts > 1 ? ` attempts=${r.attempts}` : ''}${r.pinned ? ' pinned' : ''}` +
    `${r.user ? ` user=${quoted(r.user)}` : ''}${r.peerIp ? ` peer=${r.peerIp}` : ''}` +
    `${r.error ? ` error=${r.error}` : ''}${r.errorDetail ? ` detail=${quoted(r.errorDetail)}` : ''} ua=${quoted(r.userAgent)} id=${r.requestId}\n`
  );
}

/** Wall-clock time of a performance.now() reading. */
function wallClock(performanceMs: number): Date {
  return new Date(performance.timeOrigin + performanceMs);
}

export function formatAccessJson(r: RequestRecord, now?: Date): string {
  return `${JSON.stringify({
    time: now ? now.toISOString() : isoNow(),
    ...r,
    startedAt: wallClock(r.startedAt).toISOString(),
    durationMs: Math.round(r.durationMs * 10) / 10,
    ...(r.upstreamConnectMs !== undefined ? { upstreamConnectMs: Math.round(r.upstreamConnectMs * 10) / 10 } : {}),
    ...(r.upstreamFirstByteMs !== undefined ? { upstreamFirstByteMs: Math.round(r.upstreamFirstByteMs * 10) / 10 } : {}),
  })}\n`;
}

/**
 * W3C extended log fields: IIS's names first (what Log Parser queries and IIS admins know, e.g. `cs-username` to find
 * one ActiveSync device's traffic), then casgate's own with the `x-` prefix the W3C draft reserves for extensions.
 * cs-bytes is what the client sent, sc-bytes what casgate sent it; times in milliseconds.
 */
export const W3C_FIELDS = [
  'date', 'time', 's-ip', 'cs-method', 'cs-uri-stem', 'cs-uri-query', 's-port', 'cs-username', 'c-ip', 'cs(User-Agent)',
  'cs(Referer)', 'cs-host', 'sc-status', 'time-taken', 'cs-bytes', 'sc-bytes',
  'x-backend', 'x-backend-address', 'x-pool', 'x-route', 'x-error', 'x-tls-version', 'x-sni', 'x-upstream-connect',
  'x-upstream-first-byte', 'x-request-id', 'x-peer-ip',
] as const;

/** The lines that start a W3C log (and every reopened file): Log Parser reads the field list from #Fields. */
export function w3cHeader(now = new Date()): string {
  const stamp = now.toISOString().replace('T', ' ').slice(0, 19);
  return `#Software: casgate ${VERSION}\n#Version: 1.0\n#Date: ${stamp}\n#Fields: ${W3C_FIELDS.join(' ')}\n`;
}

const W3C_UNSAFE = /[^\x21-\x7e]/;

/**
 * As IIS writes values: spaces become `+` (User-Agent), an empty value is `-`, `DOMAIN\user` stays as it is (what
 * Log Parser queries compare with); control characters and other bytes are escaped as \xHH so a record stays one line
 * of space-separated fields.
 */
function w3c(value: string | undefined): string {
  if (!value) return '-';
  const spaced = value.replaceAll(' ', '+');
  if (!W3C_UNSAFE.test(spaced)) return spaced;
  let out = '';
  for (const byte of Buffer.from(spaced, 'utf8')) {
    out += byte >= 0x21 && byte <= 0x7e ? String.fromCharCode(byte) : `\\x${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function ms(value: number | undefined): string {
  return value === undefined ? '-' : String(Math.round(value));
}

export function formatAccessW3c(r: RequestRecord, now?: Date): string {
  const iso = now ? now.toISOString() : isoNow();
  const q = r.url.indexOf('?');
  const fields = [
    iso.slice(0, 10),
    iso.slice(11, 19),
    r.serverIp || '-',
    w3c(r.method),
    w3c(q === -1 ? r.url : r.url.slice(0, q)),
    q === -1 || q === r.url.length - 1 ? '-' : w3c(r.url.slice(q + 1)),
    String(r.serverPort),
    w3c(r.user),
    r.clientIp || '-',
    w3c(r.userAgent),
    w3c(r.referer),
    w3c(r.host),
    String(r.status),
    ms(r.durationMs),
    String(r.bytesReceived),
    String(r.bytesSent),
    w3c(r.backend),
    w3c(r.backendAddress),
    w3c(r.pool),
    w3c(r.route),
    w3c(r.error),
    w3c(r.tlsVersion),
    w3c(r.sni),
    ms(r.upstreamConnectMs),
    ms(r.upstreamFirstByteMs),
    r.requestId,
    r.peerIp || '-',
  ];
  return `${fields.join(' ')}\n`;
}

const FORMATS: Record<AccessLogFormat, (r: RequestRecord) => string> = { text: formatAccessText, json: formatAccessJson, w3c: formatAccessW3c };

/** Pending bytes that trigger a write at once. */
const FLUSH_BYTES = 64 * 1024;
/** Room for one more line past FLUSH_BYTES: a line is encoded into the pending buffer when it surely fits. */
const BUFFER_BYTES = FLUSH_BYTES + 16 * 1024;
/** Longest time a line waits in memory. */
const FLUSH_MS = 100;
/** After a write failed (disk full, file system gone read-only): how long lines are dropped before the file is tried again. */
const RETRY_MS = 5_000;

/** What an access-log file tells its owner: a write failed, or writing works again after one did. */
export interface AccessLogEvents {
  /** Writing failed; lines are dropped (and counted) until a retry succeeds. Called once per failure, not per retry. */
  onError(err: Error): void;
  /** A retry wrote again; `linesLost` lines were dropped meanwhile (at least: lines in flight at the failure too). */
  onRecovered?(linesLost: number): void;
}

export class AccessLog {
  /**
   * Lines are encoded into this buffer as they are made, and the buffer is handed to the stream whole: a line dies at
   * once instead of waiting, as a string of ~30 pieces, for a join and an encoding of 64 KB (each a pass over every
   * piece; the waiting lines were also copied by every young-generation GC). Small GETs, the same build with the log
   * on and off side by side on one core: the log cost 3.5–6.5 % of CPU per request before, 1–5 % after.
   */
  private pending = Buffer.allocUnsafe(BUFFER_BYTES);
  private pendingLength = 0;
  private pendingLines = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly format: (r: RequestRecord) => string;
  private out: Writable;
  /** Date.now() of the last failed write or retry, while the file cannot be written. */
  private failedAt: number | undefined;
  private lostSinceFailure = 0;
  /** Lines dropped because the file could not be written, since start (metrics). */
  droppedLines = 0;

  /**
   * `open`: for a file, makes a new stream on it (at start, on reopen() and on each retry after a failed write);
   * for stdout, returns process.stdout.
   */
  constructor(
    private readonly open: () => Writable,
    private readonly formatName: AccessLogFormat,
    /** Whether `open` makes a file stream (reopen() and the retries after a failure apply to files only). */
    private readonly isFile: boolean,
    private readonly events: AccessLogEvents = { onError: () => undefined },
  ) {
    this.format = FORMATS[formatName];
    this.out = this.start();
  }

  /** `events.onError`: the file could not be written (disk full...); an 'error' nobody listened to would end the process. */
  static open(target: string, format: AccessLogFormat, events?: AccessLogEvents): AccessLog | undefined {
    if (target === 'off') return undefined;
    if (target === 'stdout') return new AccessLog(() => process.stdout, format, false, events);
    return new AccessLog(() => createWriteStream(target, { flags: 'a' }), format, true, events);
  }

  /** A new stream from `open`, watched for errors, with the W3C header a new file starts with. */
  private start(): Writable {
    const out = this.open();
    if (this.isFile) out.on('error', (err) => this.failed(out, err));
    if (this.formatName === 'w3c') out.write(w3cHeader());
    return out;
  }

  private failed(stream: Writable, err: Error): void {
    // A stream replaced since (reopen, retry) no longer matters.
    if (stream !== this.out) return;
    const first = this.failedAt === undefined;
    this.failedAt = Date.now();
    if (first) this.events.onError(err);
  }

  write(record: RequestRecord): void {
    const line = this.format(record);
    // A UTF-16 unit is at most 3 bytes of UTF-8: a line that might not fit goes after a flush, or (longer than the
    // whole buffer: a URL near maxHeaderSize) straight to the stream.
    if (this.pendingLength + line.length * 3 > BUFFER_BYTES) {
      this.flush();
      if (line.length * 3 > BUFFER_BYTES) return this.emit(line, 1);
    }
    this.pendingLength += this.pending.write(line, this.pendingLength, 'utf8');
    this.pendingLines++;
    if (this.pendingLength >= FLUSH_BYTES) this.flush();
    // Unref'd: a pending line never keeps a process alive; stop() flushes what is left.
    else if (!this.timer) this.timer = setTimeout(this.flush, FLUSH_MS).unref();
  }

  readonly flush = (): void => {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pendingLength === 0) return;
    // The stream keeps the buffer until it is written: the next lines go into a new one.
    const chunk = this.pending.subarray(0, this.pendingLength);
    const lines = this.pendingLines;
    this.pending = Buffer.allocUnsafe(BUFFER_BYTES);
    this.pendingLength = 0;
    this.pendingLines = 0;
    this.emit(chunk, lines);
  };

  /**
   * Hands `lines` to the stream. While the file cannot be written they are dropped and counted; every RETRY_MS the
   * file is opened again and tried, so logging resumes by itself once there is room (a failed stream stays failed:
   * without this, a full disk stopped the access log until the next logrotate).
   */
  private emit(data: Buffer | string, lines: number): void {
    if (this.failedAt !== undefined) {
      if (Date.now() - this.failedAt < RETRY_MS) return this.lost(lines);
      this.failedAt = Date.now();
      this.out.destroy();
      this.out = this.start();
      const out = this.out;
      out.write(data, (err) => {
        if (err) return this.lost(lines);
        if (out !== this.out || this.failedAt === undefined) return;
        this.failedAt = undefined;
        const lost = this.lostSinceFailure;
        this.lostSinceFailure = 0;
        this.events.onRecovered?.(lost);
      });
      return;
    }
    // Counted when the write fails (the failure itself is reported once, by the stream's 'error').
    this.out.write(data, (err) => err && this.lost(lines));
  }

  private lost(lines: number): void {
    this.droppedLines += lines;
    this.lostSinceFailure += lines;
  }

  /**
   * After logrotate renamed the file: flush what is pending into the old one, then open the path again (a new file,
   * with the W3C header). Resolves once the old file is closed. Nothing to do for stdout.
   */
  async reopen(): Promise<boolean> {
    if (!this.isFile) return false;
    this.flush();
    // A file that could not be written is tried again with the next lines, at once (emit opens it).
    if (this.failedAt !== undefined) {
      this.failedAt = 0;
      return true;
    }
    const old = this.out;
    this.out = this.start();
    await new Promise<void>((resolve) => old.end(resolve));
    return true;
  }

  /** Flushes and closes a log file (stdout stays open). */
  async close(): Promise<void> {
    this.flush();
    const out = this.out;
    if (this.isFile) await new Promise<void>((resolve) => (out.destroyed ? resolve() : out.end(resolve)));
  }
}
