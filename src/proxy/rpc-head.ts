// A strict, bounded parser for the request heads of Outlook Anywhere (RPC over HTTP) connections, which Node's
// HTTP parser refuses. Only what RPC over HTTP uses is accepted: `RPC_IN_DATA` / `RPC_OUT_DATA` request lines,
// HTTP/1.0 or 1.1, token header names, a Content-Length (no chunked bodies: MS-RPCH channels are sized).

export const MAX_HEAD_BYTES = 65_536;
const METHODS = new Set(['RPC_IN_DATA', 'RPC_OUT_DATA']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TARGET = /^\/[\x21-\x7e]*$/;

export interface RpcRequestHead {
  method: 'RPC_IN_DATA' | 'RPC_OUT_DATA';
  target: string;
  version: 'HTTP/1.0' | 'HTTP/1.1';
  /** Header lines in order, names as sent. */
  headers: Array<[string, string]>;
  contentLength: number;
  /** Bytes the head took, including the blank line. */
  length: number;
}

export type HeadResult =
  | { kind: 'head'; head: RpcRequestHead }
  | { kind: 'incomplete' }
  /** `tooLarge`: answered 431 rather than 400. */
  | { kind: 'error'; reason: string; tooLarge?: boolean };

const TOO_LARGE: HeadResult = { kind: 'error', reason: `request head larger than ${MAX_HEAD_BYTES} bytes`, tooLarge: true };

export function parseRpcHead(buf: Buffer): HeadResult {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    if (buf.length > MAX_HEAD_BYTES) return TOO_LARGE;
    // A head whose lines end in a bare LF would never end in CRLF CRLF: refused now, not at the head deadline.
    return hasBareLf(buf) ? { kind: 'error', reason: 'line ended by a bare LF' } : { kind: 'incomplete' };
  }
  if (end + 4 > MAX_HEAD_BYTES) return TOO_LARGE;
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const parts = lines[0]!.split(' ');
  if (parts.length !== 3) return { kind: 'error', reason: 'malformed request line' };
  const [method, target, version] = parts as [string, string, string];
  if (!METHODS.has(method)) return { kind: 'error', reason: `method ${method.slice(0, 32)} is not an RPC over HTTP method` };
  if (!TARGET.test(target)) return { kind: 'error', reason: 'malformed request target' };
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return { kind: 'error', reason: 'unsupported HTTP version' };
  const headers: Array<[string, string]> = [];
  let contentLength: number | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return { kind: 'error', reason: `malformed header line ${i}` };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { kind: 'error', reason: `invalid header name on line ${i}` };
    const value = line.slice(colon + 1).trim();
    if (/[\0\r\n]/.test(value)) return { kind: 'error', reason: `invalid header value on line ${i}` };
    const lower = name.toLowerCase();
    if (lower === 'transfer-encoding') return { kind: 'error', reason: 'chunked RPC channels are not supported' };
    if (lower === 'content-length') {
      if (!/^\d{1,15}$/.test(value) || (contentLength !== undefined && contentLength !== Number(value))) {
        return { kind: 'error', reason: 'invalid Content-Length' };
      }
      contentLength = Number(value);
    }
    headers.push([name, value]);
  }
  return {
    kind: 'head',
    head: { method: method as RpcRequestHead['method'], target, version, headers, contentLength: contentLength ?? 0, length: end + 4 },
  };
}

export function headerValue(head: Pick<RpcRequestHead, 'headers'>, lowerName: string): string | undefined {
  return head.headers.find(([n]) => n.toLowerCase() === lowerName)?.[1];
}

function hasBareLf(buf: Buffer): boolean {
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) if (i === 0 || buf[i - 1] !== 0x0d) return true;
  return false;
}
