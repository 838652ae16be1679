// Header handling as pure functions (STYLE.md habit 7): outgoing headers are built as new flat arrays
// (`[name, value, name, value, ...]`), never by mutating the incoming request. Flat arrays keep repeated
// lines as separate lines: IIS sends `WWW-Authenticate: Negotiate` and `WWW-Authenticate: NTLM` apart,
// and some clients only understand them that way.
//
// These run for every request and response, so names are classified without lower-casing them: a switch on the
// length, then a case-insensitive compare with the few names of that length (bench/micro: hot-path.ts headers).

/** `name` equals `lower` (lower-case ASCII) ignoring ASCII case; allocates nothing. */
export function equalsLower(name: string, lower: string): boolean {
  const n = lower.length;
  if (name.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    const t = lower.charCodeAt(i);
    if (c !== t && (t < 97 || t > 122 || c !== t - 32)) return false;
  }
  return true;
}

const NONE = 0;
const HOP = 1;
const FWD_FOR = 2;
const FWD_OTHER = 3;
const HOST = 4;
const CONNECTION = 5;

/**
 * RFC 9110 §7.6.1 connection-specific fields, plus `expect` (answered at the proxy) and the proxy-* pair (HOP, with
 * CONNECTION for `connection` itself); the X-Forwarded-* set; Host.
 */
function classify(name: string): number {
  switch (name.length) {
    case 2:
      return equalsLower(name, 'te') ? HOP : NONE;
    case 4:
      return equalsLower(name, 'host') ? HOST : NONE;
    case 5:
      // Reserved (RFC 9112 §9.6): a field named like the `close` option is never forwarded.
      return equalsLower(name, 'close') ? HOP : NONE;
    case 6:
      return equalsLower(name, 'expect') ? HOP : NONE;
    case 7:
      return equalsLower(name, 'trailer') || equalsLower(name, 'upgrade') ? HOP : NONE;
    case 10:
      return equalsLower(name, 'connection') ? CONNECTION : equalsLower(name, 'keep-alive') ? HOP : NONE;
    case 12:
      // casgate sets its own request id (engine.ts): a client's is dropped (it could forge entries in the CAS's
      // logs); a CAS's passes back to the client.
      return equalsLower(name, 'x-request-id') ? FWD_OTHER : NONE;
    case 15:
      return equalsLower(name, 'x-forwarded-for') ? FWD_FOR : NONE;
    case 16:
      if (equalsLower(name, 'proxy-connection')) return HOP;
      return equalsLower(name, 'x-forwarded-host') || equalsLower(name, 'x-forwarded-port') ? FWD_OTHER : NONE;
    case 17:
      if (equalsLower(name, 'transfer-encoding')) return HOP;
      return equalsLower(name, 'x-forwarded-proto') ? FWD_OTHER : NONE;
    case 18:
      return equalsLower(name, 'proxy-authenticate') ? HOP : NONE;
    case 19:
      return equalsLower(name, 'proxy-authorization') ? HOP : NONE;
    default:
      return NONE;
  }
}

/** Adds the tokens of one `Connection` value (`close, X-Foo`) to `tokens`, lower-cased. */
function addConnectionTokens(value: string, tokens: Set<string> | undefined): Set<string> | undefined {
  // `Connection: keep-alive` (most responses from the backend's keep-alive connections) and `Connection: close` (every
  // client that opens a connection per request) name only fields removed anyway: no split, no Set, no second pass.
  if (equalsLower(value, 'keep-alive') || equalsLower(value, 'close')) return tokens;
  for (const t of value.split(',')) {
    const token = t.trim().toLowerCase();
    if (token) (tokens ??= new Set()).add(token);
  }
  return tokens;
}

/** Whether a set of `Connection` tokens names a field other than the hop-by-hop ones removed anyway. */
function namesOtherFields(tokens: Set<string>): boolean {
  for (const t of tokens) {
    const kind = classify(t);
    if (kind !== HOP && kind !== CONNECTION) return true;
  }
  return false;
}

/** Removes (in place) the lines whose lower-cased name is in `tokens`. */
function dropNamed(out: string[], tokens: Set<string>): string[] {
  let w = 0;
  for (let r = 0; r < out.length; r += 2) {
    if (tokens.has(out[r]!.toLowerCase())) continue;
    out[w++] = out[r]!;
    out[w++] = out[r + 1]!;
  }
  out.length = w;
  return out;
}

export interface ForwardContext {
  /** Client address as seen on the socket. */
  clientIp: string;
  /** Whether the peer is a trusted proxy whose X-Forwarded-For is kept and appended to. */
  trustForwarded: boolean;
  /** Port the client connected to, for X-Forwarded-Port. */
  listenerPort: number;
  /** Used as Host when the client sent none (HTTP/1.0). */
  fallbackHost: string;
  /**
   * The request's validated Host, when it differs from the Host line or there is none: the authority of an
   * absolute-form target (RFC 9112 §3.2.2) replaces the client's Host line.
   */
  host?: string;
}

/**
 * Headers sent to the CAS: hop-by-hop fields removed, the client's Host kept (TMG rewrote it, which breaks
 * Exchange), X-Forwarded-For appended (or replaced when the peer is not trusted), -Proto/-Host/-Port set.
 */
export function upstreamRequestHeaders(raw: readonly string[], ctx: ForwardContext): string[] {
  const out: string[] = [];
  let extra: Set<string> | undefined;
  let host: string | undefined;
  let priorFor: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    switch (classify(name)) {
      case NONE:
        out.push(name, raw[i + 1]!);
        break;
      case HOST:
        host = ctx.host ?? raw[i + 1]!;
        out.push(name, host);
        break;
      case FWD_FOR:
        if (ctx.trustForwarded) priorFor = priorFor ? `${priorFor}, ${raw[i + 1]}` : raw[i + 1];
        break;
      case CONNECTION:
        extra = addConnectionTokens(raw[i + 1]!, extra);
        break;
      default: // HOP, FWD_OTHER
        break;
    }
  }
  // Fields named in Connection (rare: `Connection: close` and `keep-alive` name nothing else) go too, wherever
  // they appeared; Host and the X-Forwarded-* set are handled above whatever Connection says.
  if (extra && namesOtherFields(extra)) {
    dropNamed(out, extra);
    if (host !== undefined && extra.has('host')) host = undefined;
    if (extra.has('x-forwarded-for')) priorFor = undefined;
  }
  if (host === undefined) {
    host = ctx.host ?? ctx.fallbackHost;
    out.push('host', host);
  }
  out.push(
    'x-forwarded-for', priorFor ? `${priorFor}, ${ctx.clientIp}` : ctx.clientIp,
    'x-forwarded-proto', 'https',
    'x-forwarded-host', host,
    'x-forwarded-port', String(ctx.listenerPort),
  );
  return out;
}

/** Response headers for the client, from undici's raw header buffers; hop-by-hop fields removed, repeats kept. */
export function clientResponseHeaders(raw: readonly Buffer[]): string[] {
  const out: string[] = [];
  let extra: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const kind = classify(name);
    if (kind === CONNECTION) extra = addConnectionTokens(raw[i + 1]!.toString('latin1'), extra);
    else if (kind !== HOP) out.push(name, raw[i + 1]!.toString('latin1'));
  }
  return extra && namesOtherFields(extra) ? dropNamed(out, extra) : out;
}

/** First value of a header in a flat raw list, case-insensitive. */
export function rawHeader(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (equalsLower(raw[i]!, lowerName)) return raw[i + 1];
  return undefined;
}

/** The Strict-Transport-Security value for `tls.hsts`; undefined when it is off (maxAge 0). */
export function strictTransportSecurity(hsts: { maxAge: number; includeSubDomains: boolean; preload: boolean }): string | undefined {
  if (hsts.maxAge <= 0) return undefined;
  return `max-age=${hsts.maxAge}${hsts.includeSubDomains ? '; includeSubDomains' : ''}${hsts.preload ? '; preload' : ''}`;
}
