// Header handling as pure functions (STYLE.md habit 7): outgoing headers are built as new flat arrays
// (`[name, value, name, value, ...]`), never by mutating the incoming request. Flat arrays keep repeated
// lines as separate lines: IIS sends `WWW-Authenticate: Negotiate` and `WWW-Authenticate: NTLM` apart,
// and some clients only understand them that way.

/** RFC 9110 §7.6.1 connection-specific fields, plus `expect` (answered at the proxy) and the proxy-* pair. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-authenticate', 'proxy-authorization', 'expect',
]);

// x-request-id: casgate sets its own (engine.ts), the client's is dropped like the X-Forwarded-* set.
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-request-id']);

/** Tokens listed in `Connection` name more hop-by-hop fields (`Connection: close, X-Foo`). */
function connectionTokens(raw: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') {
      for (const t of raw[i + 1]!.split(',')) {
        const token = t.trim().toLowerCase();
        if (token) (tokens ??= new Set()).add(token);
      }
    }
  }
  return tokens;
}

interface ForwardContext {
  /** Client address as seen on the socket. */
  clientIp: string;
  /** Whether the peer is a trusted proxy whose X-Forwarded-For is kept and appended to. */
  trustForwarded: boolean;
  /** Port the client connected to, for X-Forwarded-Port. */
  listenerPort: number;
  /** Used as Host when the client sent none (HTTP/1.0). */
  fallbackHost: string;
}

/**
 * Headers sent to the CAS: hop-by-hop fields removed, the client's Host kept (TMG rewrote it, which breaks
 * Exchange), X-Forwarded-For appended (or replaced when the peer is not trusted), -Proto/-Host/-Port set.
 */
export function oldUpstream(raw: readonly string[], ctx: ForwardContext): string[] {
  const extra = connectionTokens(raw);
  const out: string[] = [];
  let host: string | undefined;
  let priorFor: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || extra?.has(lower)) continue;
    if (FORWARDED.has(lower)) {
      if (ctx.trustForwarded && lower === 'x-forwarded-for') priorFor = priorFor ? `${priorFor}, ${raw[i + 1]}` : raw[i + 1];
      continue;
    }
    if (lower === 'host') host = raw[i + 1];
    out.push(name, raw[i + 1]!);
  }
  if (host === undefined) {
    host = ctx.fallbackHost;
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
export function oldClient(raw: readonly Buffer[]): string[] {
  const names: string[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i += 2) names[i] = raw[i]!.toString('latin1');
  let extra: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (names[i]!.length === 10 && names[i]!.toLowerCase() === 'connection') {
      for (const t of raw[i + 1]!.toString('latin1').split(',')) {
        const token = t.trim().toLowerCase();
        if (token) (extra ??= new Set()).add(token);
      }
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = names[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || extra?.has(lower)) continue;
    out.push(names[i]!, raw[i + 1]!.toString('latin1'));
  }
  return out;
}

/** First value of a header in a flat raw list, case-insensitive. */
export function oldRawHeader(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === lowerName) return raw[i + 1];
  return undefined;
}
