// Strict Host (RFC 9110 §7.2, RFC 9112 §3.2): a request names at most one host, and that host is a DNS name, an IPv4
// address or a bracketed IPv6 literal, with an optional port 1-65535. Anything else is refused before routing, so it
// never reaches a backend: undici refuses a second Host line itself, and that refusal used to be counted against the
// CAS (issue 15, item 4); an empty, spaced or `@`-carrying Host used to reach the CAS and the redirect's Location.
import { isIPv6 } from 'node:net';

export type HostCheck = { ok: true; /** As sent. */ host: string; /** Lower case, no port, no trailing dot. */ name: string } | { ok: false; reason: string };

const MAX_HOST_LENGTH = 261; // 253 for the name, a trailing dot, `:65535`

function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
}

function refuse(reason: string): HostCheck {
  return { ok: false, reason };
}

/** Validates one Host (or absolute-form authority, or X-Forwarded-Host element) value. */
export function parseHost(value: string): HostCheck {
  if (value.length === 0) return refuse('empty Host');
  if (value.length > MAX_HOST_LENGTH) return refuse('Host too long');
  let end = value.length;
  let name: string;
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf(']');
    if (close < 0 || !isIPv6(value.slice(1, close))) return refuse('invalid IPv6 literal in Host');
    name = value.slice(0, close + 1).toLowerCase();
    end = close + 1;
    if (end < value.length && value.charCodeAt(end) !== 0x3a /* : */) return refuse('invalid character after an IPv6 literal in Host');
  } else {
    // Labels of letters, digits, `-` and `_`, separated by single dots; one trailing dot allowed.
    let label = 0;
    let i = 0;
    for (; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c === 0x3a /* : */) break;
      if (c === 0x2e /* . */) {
        if (label === 0) return refuse('empty label in Host');
        label = 0;
      } else if (isNameChar(c)) {
        if (++label > 63) return refuse('Host label longer than 63 characters');
      } else {
        return refuse('invalid character in Host');
      }
    }
    if (i === 0) return refuse('Host without a name');
    end = i;
    const trailingDot = value.charCodeAt(i - 1) === 0x2e;
    if (trailingDot && i === 1) return refuse('Host without a name');
    name = value.slice(0, trailingDot ? i - 1 : i).toLowerCase();
  }
  if (end < value.length) {
    // `:port`, 1 to 5 digits, 1-65535.
    const port = value.slice(end + 1);
    if (!/^[0-9]{1,5}$/.test(port)) return refuse('invalid port in Host');
    const n = Number(port);
    if (n < 1 || n > 65_535) return refuse('port out of range in Host');
  }
  return { ok: true, host: value, name };
}

/** `name` equals `lower` (lower-case letters and `-`) ignoring ASCII case; no allocation (runs on every header line). */
function isName(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

export type RequestHost = { ok: true; /** Undefined when the request has no Host (HTTP/1.0). */ host?: string; name?: string } | { ok: false; reason: string };

/**
 * The request's Host from its raw header lines (`[name, value, ...]`, as Node gives them): at most one Host line, valid;
 * HTTP/1.1 requires one. X-Forwarded-Host from a trusted peer is validated the same way (every element of every line);
 * from anyone else it is dropped when forwarding (headers.ts), so it is not looked at.
 */
export function requestHost(raw: readonly string[], httpVersion: string, trustForwarded: boolean): RequestHost {
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (isName(name, 'host')) {
      if (host !== undefined) return { ok: false, reason: 'more than one Host' };
      host = raw[i + 1]!;
    } else if (trustForwarded && isName(name, 'x-forwarded-host')) {
      for (const part of raw[i + 1]!.split(',')) {
        const checked = parseHost(part.trim());
        if (!checked.ok) return { ok: false, reason: `X-Forwarded-Host: ${checked.reason}` };
      }
    }
  }
  if (host === undefined) return httpVersion === '1.0' ? { ok: true } : { ok: false, reason: 'no Host' };
  const checked = parseHost(host);
  return checked.ok ? { ok: true, host, name: checked.name } : checked;
}
