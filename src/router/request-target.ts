// The one canonical form of a request target, computed once per request and used for routing, for every ACL (route
// `allow`, the Exchange admin networks) and as what the CAS receives. ProxyLogon and ProxyShell were path-confusion
// attacks on Exchange's virtual directories: `/owa/../ecp/`, `/owa/%2e%2e/ecp/` or `/EWS/..;/ecp/` looked like OWA or
// EWS to a front end comparing prefixes, and IIS resolved them to ECP. Here the path is normalised the way IIS would
// read it, and anything IIS could read differently from casgate is refused:
//
// - percent-encoded unreserved characters (RFC 3986 §2.3: ALPHA DIGIT - . _ ~) are decoded (`%2e` → `.`,
//   `%41` → `A`); other escapes are kept, with upper-case hex (§6.2.2.1);
// - dot segments are removed (§5.2.4), after decoding; a path that climbs above the root is refused;
// - empty segments are merged (`//` → `/`), as nginx (`merge_slashes on`) and Envoy (`merge_slashes`) do; the CAS
//   receives the merged path, so no backend sees a `//` that casgate routed differently;
// - refused: an encoded slash (`%2f`: Envoy's `path_with_escaped_slashes_action: REJECT_REQUEST`), a backslash raw or
//   `%5c` (IIS and Windows read it as a separator), `;` raw or `%3b` (IIS and ASP.NET treat `..;` as `..`), a `#`,
//   control characters and raw bytes outside printable ASCII (raw or encoded, `%00`...), malformed escapes (`%zz`,
//   IIS's `%u002e`), encoded bytes that are not valid UTF-8 (overlong `%c0%ae` is a dot to some decoders) or that
//   encode a Unicode look-alike of `.`, `/` or `\` (`%ef%bc%8f`, fullwidth solidus), and
//   segments ending in `.` or in an encoded space (Windows drops trailing dots and spaces: `/ecp./` is `/ecp/`);
// - the letter case is kept as sent (IIS is case-insensitive; the router lower-cases for matching);
// - the query is passed as sent (OWA and ActiveSync put `@` and `%40` there), only checked for control characters
//   and raw non-ASCII bytes.
//
// Compared with HAProxy's `http-request normalize-uri` (path-merge-slashes, path-strip-dot, path-strip-dotdot,
// percent-decode-unreserved, percent-to-uppercase) and nginx's ngx_http_parse_complex_uri (which decodes every
// escape, so `%2f` becomes a separator): the transformations are HAProxy's, but anything that would change the path's
// segments after casgate's reading (encoded `/`, `\`, `;`) is a 400 rather than a guess.
//
// Absolute-form targets (RFC 9112 §3.2.2, `http://host/path`) are accepted: the authority is returned (it replaces
// Host) and the path is canonicalised like any other. Asterisk-form (`OPTIONS *`) and authority-form (CONNECT) are
// refused: Exchange uses neither.
//
// The common case (no `%`, `\`, `;`, `#`, no `.` right after a `/`, no `//`) is one scan with no allocation but the
// result and, when there is a query, the two slices.

export type RequestTarget =
  | {
      ok: true;
      /** Canonical absolute path, always starting with `/`; letter case as sent. */
      path: string;
      /** The query as sent, with its `?` (`''` when there is none): what the CAS receives is `path + query`. */
      query: string;
      /** Absolute-form only: the authority (`host[:port]`) as sent, which replaces the Host header. */
      authority?: string;
    }
  | { ok: false; reason: string };

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const QUESTION = 0x3f;
const BACKSLASH = 0x5c;
const SEMICOLON = 0x3b;
const HASH = 0x23;

function refuse(reason: string): RequestTarget {
  return { ok: false, reason };
}

/** The canonical form of a request target as sent on the request line (`req.url`). */
export function canonicalTarget(target: string): RequestTarget {
  if (target.charCodeAt(0) === SLASH) return originForm(target, 0, undefined);
  if (target === '*') return refuse('asterisk-form target');
  const scheme = schemeLength(target);
  if (scheme === 0) return refuse('request target is not an absolute path');
  // Absolute-form: authority up to the first `/`, `?` or `#`.
  let end = scheme;
  while (end < target.length) {
    const c = target.charCodeAt(end);
    if (c === SLASH || c === QUESTION || c === HASH) break;
    end++;
  }
  const authority = target.slice(scheme, end);
  if (authority === '') return refuse('absolute-form target without a host');
  if (authority.includes('@')) return refuse('absolute-form target with user information');
  if (end === target.length) return { ok: true, path: '/', query: '', authority };
  if (target.charCodeAt(end) === HASH) return refuse('fragment in the request target');
  if (target.charCodeAt(end) === QUESTION) {
    const query = checkQuery(target, end);
    return typeof query === 'string' ? { ok: true, path: '/', query, authority } : query;
  }
  return originForm(target, end, authority);
}

/** `http://` or `https://`, any letter case: the length of the prefix, or 0. */
function schemeLength(target: string): number {
  const lower = target.slice(0, 8).toLowerCase();
  if (lower.startsWith('http://')) return 7;
  if (lower.startsWith('https://')) return 8;
  return 0;
}

function checkQuery(target: string, from: number): string | RequestTarget {
  for (let i = from + 1; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return refuse('control character or raw non-ASCII byte in the query');
    if (c === HASH) return refuse('fragment in the request target');
  }
  return target.slice(from);
}

/** `target[start]` is the path's leading `/`. */
function originForm(target: string, start: number, authority: string | undefined): RequestTarget {
  const n = target.length;
  let special = false;
  let prev = 0;
  let i = start;
  for (; i < n; i++) {
    const c = target.charCodeAt(i);
    if (c === QUESTION) break;
    if (c <= 0x20 || c >= 0x7f) return refuse('control character or raw non-ASCII byte in the path');
    if (c === PERCENT || c === BACKSLASH || c === SEMICOLON || c === HASH || (prev === SLASH && (c === DOT || c === SLASH))) special = true;
    // A segment ending in `.` (`/ecp./`) also needs the slow path; `/a.b/` does not.
    else if (c === SLASH && prev === DOT) special = true;
    prev = c;
  }
  if (prev === DOT) special = true;
  let query = '';
  if (i < n) {
    const checked = checkQuery(target, i);
    if (typeof checked !== 'string') return checked;
    query = checked;
  }
  if (!special) {
    const path = start === 0 && i === n ? target : target.slice(start, i);
    return authority === undefined ? { ok: true, path, query } : { ok: true, path, query, authority };
  }
  const path = normalisePath(target, start, i);
  if (typeof path !== 'string') return path;
  return authority === undefined ? { ok: true, path, query } : { ok: true, path, query, authority };
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function isUnreserved(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === DOT || b === 0x5f || b === 0x7e;
}

const HEX = '0123456789ABCDEF';
/**
 * Unicode look-alikes of `.`, `/` and `\` (fullwidth, division slash, set minus, small reverse solidus...): Windows'
 * "best fit" conversion to a code page turns some of them into the ASCII character, after casgate has routed.
 */
const LOOKALIKES = /[\u2024\u2044\u2215\u2216\u29f5\u29f8\u29f9\ufe52\ufe68\uff0e\uff0f\uff3c]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The slow path: decode, split into segments, remove dot segments, merge empty ones. */
function normalisePath(target: string, start: number, end: number): string | RequestTarget {
  const out: string[] = [];
  let segment = '';
  // Encoded bytes >= 0x80 of the current run, checked as UTF-8 when the run ends.
  let high: number[] | undefined;
  let endsWithSlash = false;
  const closeRun = (): RequestTarget | undefined => {
    if (!high) return undefined;
    let text: string;
    try {
      text = utf8.decode(new Uint8Array(high));
    } catch {
      return refuse('percent-encoded bytes that are not UTF-8 in the path');
    }
    if (LOOKALIKES.test(text)) return refuse('encoded look-alike of a dot, slash or backslash in the path');
    high = undefined;
    return undefined;
  };
  const closeSegment = (last: boolean): RequestTarget | undefined => {
    const bad = closeRun();
    if (bad) return bad;
    if (segment === '..') {
      if (out.length === 0) return refuse('path climbs above the root');
      out.pop();
    } else if (segment === '.' || segment === '') {
      // `.` removed, `//` merged.
    } else if (segment.charCodeAt(segment.length - 1) === DOT || segment.endsWith('%20')) {
      return refuse('path segment ending in a dot or a space');
    } else {
      out.push(segment);
    }
    // The path ends in a slash when its last segment is empty (`/owa/`) or a dot segment (`/a/.` and `/a/b/..` are
    // `/a/`, RFC 3986 §5.2.4 steps 2B and 2C).
    if (last) endsWithSlash = segment === '' || segment === '.' || segment === '..';
    segment = '';
    return undefined;
  };
  for (let i = start + 1; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c === SLASH) {
      const bad = closeSegment(false);
      if (bad) return bad;
      continue;
    }
    if (c === BACKSLASH) return refuse('backslash in the path');
    if (c === SEMICOLON) return refuse('`;` path parameter in the path');
    if (c === HASH) return refuse('fragment in the request target');
    if (c !== PERCENT) {
      if (high) {
        const bad = closeRun();
        if (bad) return bad;
      }
      segment += target[i];
      continue;
    }
    const h1 = i + 2 < end ? hexValue(target.charCodeAt(i + 1)) : -1;
    const h2 = h1 >= 0 ? hexValue(target.charCodeAt(i + 2)) : -1;
    if (h2 < 0) return refuse('malformed percent-encoding in the path');
    const b = h1 * 16 + h2;
    i += 2;
    if (b === SLASH) return refuse('encoded slash (%2F) in the path');
    if (b === BACKSLASH) return refuse('encoded backslash (%5C) in the path');
    if (b === SEMICOLON) return refuse('encoded `;` (%3B) in the path');
    if (b < 0x20 || b === 0x7f) return refuse('encoded control character in the path');
    if (b >= 0x80) {
      (high ??= []).push(b);
      segment += `%${HEX[h1]}${HEX[h2]}`;
      continue;
    }
    if (high) {
      const bad = closeRun();
      if (bad) return bad;
    }
    segment += isUnreserved(b) ? String.fromCharCode(b) : `%${HEX[h1]}${HEX[h2]}`;
  }
  const bad = closeSegment(true);
  if (bad) return bad;
  if (out.length === 0) return '/';
  return `/${out.join('/')}${endsWithSlash ? '/' : ''}`;
}
