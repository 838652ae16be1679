// Path handling shared by every protocol handler. IIS matches virtual directories case-insensitively,
// so everything here compares lower-cased paths; the original spelling is kept only for echoing.

/** Virtual directories by their lower-cased path segment, named like casgate's config (src/config/exchange.ts). */
const VDIR_BY_SEGMENT: Record<string, string> = {
  owa: 'owa',
  ecp: 'ecp',
  ews: 'ews',
  mapi: 'mapi',
  rpc: 'rpc',
  'microsoft-server-activesync': 'activesync',
  oab: 'oab',
  autodiscover: 'autodiscover',
  powershell: 'powershell',
  __mock: 'mock',
};

/** Vdirs that answer GET /<vdir>/healthcheck.htm (PowerShell has none, EXCHANGE.md). */
export const HEALTH_VDIRS: readonly string[] = ['owa', 'ecp', 'ews', 'mapi', 'rpc', 'activesync', 'oab', 'autodiscover'];

/** Accept the names an operator would type in a control request: "EWS", "ews", "Microsoft-Server-ActiveSync". */
export function canonicalVdir(name: string): string | undefined {
  const lower = name.toLowerCase().replace(/^\/+|\/+$/g, '');
  if (lower === '*' || lower === 'all') return '*';
  if (HEALTH_VDIRS.includes(lower) || lower === 'powershell') return lower;
  return VDIR_BY_SEGMENT[lower];
}

export interface ParsedTarget {
  /** Path as sent (no query), for echoing. */
  path: string;
  /** Lower-cased path: what every route compares against. */
  lower: string;
  query: URLSearchParams;
  /** Canonical vdir name, "other" for anything outside Exchange's vdirs. */
  vdir: string;
}

/** Parse a request target; accepts origin-form ("/a?b") and absolute-form ("http://h/a?b") as proxies may send. */
export function parseTarget(target: string): ParsedTarget {
  let pathAndQuery = target;
  if (!target.startsWith('/')) {
    try {
      const u = new URL(target);
      pathAndQuery = u.pathname + u.search;
    } catch {
      pathAndQuery = '/';
    }
  }
  const q = pathAndQuery.indexOf('?');
  const path = q === -1 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : pathAndQuery.slice(q + 1));
  const lower = path.toLowerCase();
  const segment = lower.split('/')[1] ?? '';
  return { path, lower, query, vdir: VDIR_BY_SEGMENT[segment] ?? 'other' };
}

/** True when `lowerPath` is `prefix` itself or lies under it; prefixes are compared case-insensitively. */
export function underPrefix(lowerPath: string, prefix: string): boolean {
  const p = prefix.toLowerCase();
  return p === '' || p === '/' || lowerPath.startsWith(p);
}
