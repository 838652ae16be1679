// Parser for request heads on Outlook Anywhere connections. llhttp (Node's HTTP parser) rejects the RPC_IN_DATA and
// RPC_OUT_DATA methods with HPE_INVALID_METHOD, so the mock reads these heads itself. Strict on purpose: anything
// malformed is a 400 and the connection closes.

export const RPC_METHODS = ['RPC_IN_DATA', 'RPC_OUT_DATA'] as const;
export type RpcMethod = (typeof RPC_METHODS)[number];

/** Largest head accepted: Negotiate tokens can be large, but 64 KiB is far beyond any real one. */
export const MAX_HEAD_BYTES = 64 * 1024;

export interface RequestHead {
  method: string;
  target: string;
  httpVersion: string;
  /** Lower-cased names; repeated headers joined with ", " (Content-Length repeats must agree). */
  headers: Record<string, string>;
  rawHeaders: [string, string][];
  contentLength: number;
  /** Bytes of the head including the blank line. */
  headLength: number;
}

export type HeadResult = { kind: 'more' } | { kind: 'head'; head: RequestHead } | { kind: 'bad'; reason: string };

const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(1\.[01])$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Classify the first bytes of a connection: an RPC method, something else, or too short to tell. */
export function sniffRpc(buf: Buffer): 'rpc' | 'other' | 'more' {
  const head = buf.subarray(0, 13).toString('latin1');
  let undecided = false;
  for (const m of RPC_METHODS) {
    const token = m + ' ';
    if (head.startsWith(token)) return 'rpc';
    if (token.startsWith(head)) undecided = true;
  }
  return undecided ? 'more' : 'other';
}

export function parseHead(buf: Buffer): HeadResult {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) {
    return buf.length > MAX_HEAD_BYTES ? { kind: 'bad', reason: 'request head too large' } : { kind: 'more' };
  }
  if (end + 4 > MAX_HEAD_BYTES) return { kind: 'bad', reason: 'request head too large' };
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = REQUEST_LINE.exec(lines[0] ?? '');
  if (!m) return { kind: 'bad', reason: 'malformed request line' };
  const headers: Record<string, string> = {};
  const rawHeaders: [string, string][] = [];
  let contentLength: number | null = null;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!HEADER_NAME.test(name)) return { kind: 'bad', reason: 'malformed header line' };
    const value = line.slice(colon + 1).trim();
    const lower = name.toLowerCase();
    rawHeaders.push([name, value]);
    if (lower === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) return { kind: 'bad', reason: 'invalid Content-Length' };
      if (contentLength !== null && contentLength !== Number(value)) return { kind: 'bad', reason: 'conflicting Content-Length' };
      contentLength = Number(value);
    }
    if (lower === 'transfer-encoding') return { kind: 'bad', reason: 'Transfer-Encoding is not used by RPC over HTTP' };
    headers[lower] = headers[lower] === undefined ? value : `${headers[lower]}, ${value}`;
  }
  return {
    kind: 'head',
    head: {
      method: m[1] as string,
      target: m[2] as string,
      httpVersion: m[3] as string,
      headers,
      rawHeaders,
      contentLength: contentLength ?? 0,
      headLength: end + 4,
    },
  };
}

/** The RTS VirtualConnectionCookie in the first PDU of a channel (CONN/A1 on OUT, CONN/B1 on IN), as hex. */
export function virtualConnectionCookie(pdu: Buffer): string | null {
  // Common header (16) + RTS flags (2) + command count (2); then Version command (type 6, 4 bytes of value),
  // then Cookie command (type 3, 16 bytes) at offset 28. MS-RPCH 2.2.4.2 / 2.2.4.3.
  if (pdu.length < 48 || pdu[0] !== 5 || pdu[2] !== 0x14) return null;
  if (pdu.readUInt32LE(20) !== 6 || pdu.readUInt32LE(28) !== 3) return null;
  return pdu.subarray(32, 48).toString('hex');
}
