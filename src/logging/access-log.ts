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

export class AccessLog {
  /**
   * Lines are encoded into this buffer as they are made, and the buffer is handed to the stream whole: a line dies at
   * once instead of waiting, as a string of ~30 pieces, for a join and an encoding of 64 KB (each a pass over every
   * piece; the waiting lines were also copied by every young-generation GC). Small GETs, the same build with the log
   * on and off side by side on one core: the log cost 3.5–6.5 % of CPU per request before, 1–5 % after.
   */
  private pending = Buffer.allocUnsafe(BUFFER_BYTES);
  private pendingLength = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly format: (r: RequestRecord) => string;

  constructor(
    private out: Writable,
    private readonly formatName: AccessLogFormat,
    /** The file behind `out`, when it is one: reopen() opens it again. */
    private readonly file?: string,
    /** Write errors of a reopened file go here too. */
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    this.format = FORMATS[formatName];
    if (formatName === 'w3c') this.out.write(w3cHeader());
  }

  /** `onError`: the file could not be written (disk full...); an 'error' nobody listened to would end the process. */
  static open(target: string, format: AccessLogFormat, onError: (err: Error) => void = () => undefined): AccessLog | undefined {
    if (target === 'off') return undefined;
    if (target === 'stdout') return new AccessLog(process.stdout, format);
    const file = createWriteStream(target, { flags: 'a' });
    file.on('error', onError);
    return new AccessLog(file, format, target, onError);
  }

  write(record: RequestRecord): void {
    const line = this.format(record);
    // A UTF-16 unit is at most 3 bytes of UTF-8: a line that might not fit goes after a flush, or (longer than the
    // whole buffer: a URL near maxHeaderSize) straight to the stream.
    if (this.pendingLength + line.length * 3 > BUFFER_BYTES) {
      this.flush();
      if (line.length * 3 > BUFFER_BYTES) return void this.out.write(line);
    }
    this.pendingLength += this.pending.write(line, this.pendingLength, 'utf8');
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
    this.pending = Buffer.allocUnsafe(BUFFER_BYTES);
    this.pendingLength = 0;
    this.out.write(chunk);
  };

  /**
   * After logrotate renamed the file: flush what is pending into the old one, then open the path again (a new file,
   * with the W3C header). Resolves once the old file is closed. Nothing to do for stdout.
   */
  async reopen(): Promise<boolean> {
    if (!this.file) return false;
    this.flush();
    const old = this.out;
    this.out = createWriteStream(this.file, { flags: 'a' });
    this.out.on('error', this.onError);
    if (this.formatName === 'w3c') this.out.write(w3cHeader());
    await new Promise<void>((resolve) => old.end(resolve));
    return true;
  }

  /** Flushes and closes a log file (stdout stays open). */
  async close(): Promise<void> {
    this.flush();
    if (this.file) await new Promise<void>((resolve) => this.out.end(resolve));
  }
}
