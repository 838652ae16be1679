// Refuses requests shaped like known Exchange exploits (rules: config/exchange-mitigations.ts) before any route or
// backend is chosen. The engine hands over the canonical request target (router/request-target.ts), which decodes only
// unreserved escapes and passes the query as sent; for matching, this decodes further, as IIS and Exchange decode
// (percent and %u escapes, up to three rounds so double encoding does not hide a shape the CAS decodes twice,
// backslashes as slashes, doubled slashes collapsed, dot segments removed, lower case), the query included.
import type { IncomingHttpHeaders } from 'node:http';
import { MITIGATION_RULES, type MitigationRule } from '../config/exchange-mitigations.js';
import type { Logger } from '../logging/logger.js';
import type { Runtime, RuntimeConsumer } from '../runtime/runtime.js';

export interface MitigationMatch {
  rule: MitigationRule;
}

export interface CanonicalForMatching {
  path: string;
  query: string;
  uri: string;
  /**
   * The decoded target before dot-segment removal (IIS URL Rewrite's view): `/autodiscover\..\powershell` is
   * `/powershell` once resolved, yet Microsoft's rule refuses it; `uri` patterns are tried on both.
   */
  decodedUri: string;
}

const HEX = /%(?:u([0-9a-f]{4})|([0-9a-f]{2}))/gi;
/** A path with an escape, a backslash, a doubled slash or a dot segment needs decoding and resolving. */
const NEEDS_WORK = /%|\\|\/\/|\/\.|^[^/]/;

/** One round of IIS-style decoding: %XX as one byte (read as Latin-1: patterns are ASCII) and %uXXXX. */
function decodeOnce(text: string): string {
  return text.replace(HEX, (_, u: string | undefined, b: string | undefined) => String.fromCharCode(parseInt((u ?? b)!, 16)));
}

function decodeFully(text: string): string {
  let current = text;
  for (let i = 0; i < 3 && current.includes('%'); i++) {
    const next = decodeOnce(current);
    if (next === current) break;
    current = next;
  }
  return current;
}

/** RFC 3986 §5.2.4 over a path that already uses only '/'; a path climbing above the root stays at the root. */
function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '..') out.pop();
    else if (s !== '.') out.push(s);
    if ((s === '.' || s === '..') && i === segments.length - 1) out.push('');
  }
  return '/' + out.join('/');
}

export function canonicalForMatching(url: string): CanonicalForMatching {
  let target = url;
  if (target.charCodeAt(0) !== 47 /* / */) {
    // Absolute form: only the path and query count.
    const scheme = target.indexOf('://');
    const slash = scheme > 0 ? target.indexOf('/', scheme + 3) : -1;
    target = slash === -1 ? '/' : target.slice(slash);
  }
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const rawQuery = q === -1 ? '' : target.slice(q + 1);
  if (!NEEDS_WORK.test(rawPath) && (rawQuery === '' || !/[%+]/.test(rawQuery))) {
    // The common case: nothing to decode or resolve (one scan each, no intermediate strings).
    const path = rawPath.toLowerCase();
    const query = rawQuery.toLowerCase();
    const uri = q === -1 ? path : `${path}?${query}`;
    return { path, query, uri, decodedUri: uri };
  }
  const decodedPath = decodeFully(rawPath).replace(/\\/g, '/').replace(/\/{2,}/g, '/');
  const rooted = (decodedPath.startsWith('/') ? decodedPath : `/${decodedPath}`).toLowerCase();
  const path = removeDotSegments(rooted);
  const query = decodeFully(rawQuery.replace(/\+/g, ' ')).toLowerCase();
  const suffix = q === -1 ? '' : `?${query}`;
  return { path, query, uri: path + suffix, decodedUri: rooted + suffix };
}

/** Cheap pre-check before splitting a Cookie header (OWA's run to kilobytes): the names any rule asks for. */
const ROUTING_COOKIE = new RegExp(
  MITIGATION_RULES.flatMap((r) => r.match.cookieOrHeader?.names ?? []).map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|') || '(?!)',
  'i',
);

/** Cookie values by lower-case name, only for the names asked (the Cookie header is not parsed otherwise). */
function cookieValues(cookie: string | undefined, names: readonly string[]): string[] {
  if (!cookie || !ROUTING_COOKIE.test(cookie)) return [];
  const found: string[] = [];
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (names.includes(name)) found.push(eq === -1 ? '' : part.slice(eq + 1).trim());
  }
  return found;
}

function matches(rule: MitigationRule, c: CanonicalForMatching, headers: IncomingHttpHeaders): boolean {
  const m = rule.match;
  if (m.hint && !c.uri.includes(m.hint) && (c.decodedUri === c.uri || !c.decodedUri.includes(m.hint))) return false;
  if (m.uri && !m.uri.test(c.uri) && (c.decodedUri === c.uri || !m.uri.test(c.decodedUri))) return false;
  if (m.path && !m.path.test(c.path)) return false;
  if (m.query && !m.query.test(c.query)) return false;
  if (m.cookieOrHeader) {
    const { names, value } = m.cookieOrHeader;
    const values = cookieValues(headers.cookie, names);
    for (const name of names) {
      const h = headers[name];
      if (h !== undefined) values.push(...(Array.isArray(h) ? h : [h]));
    }
    if (!values.some((v) => value.test(decodeFully(v)))) return false;
  }
  return true;
}

/** Addresses remembered for log rate limiting; past this the memory is cleared (at worst a few extra log lines). */
const LOG_MEMORY = 10_000;
const LOG_EVERY_MS = 60_000;

export class Mitigations implements RuntimeConsumer {
  private active: MitigationRule[] = [];
  /** Refusals per rule name since start (kept across reloads). */
  readonly refusals = new Map<string, number>();
  private readonly lastLogged = new Map<string, number>();

  constructor(
    enabled: Readonly<Record<string, boolean>> | undefined,
    private readonly logger: Logger,
  ) {
    this.configure(enabled);
    for (const r of MITIGATION_RULES) this.refusals.set(r.name, 0);
  }

  /** `enabled` is `exchange.mitigations` (undefined: no Exchange preset, no rule applies). */
  configure(enabled: Readonly<Record<string, boolean>> | undefined): void {
    this.active = enabled ? MITIGATION_RULES.filter((r) => enabled[r.name] !== false) : [];
  }

  /** At start and at every reload: the rules `exchange.mitigations` turns on; refusal counts are kept. */
  apply(runtime: Pick<Runtime, 'config'>): void {
    this.configure(runtime.config.exchange?.mitigations);
  }

  get rules(): ReadonlyArray<{ rule: MitigationRule; enabled: boolean; refusals: number }> {
    return MITIGATION_RULES.map((rule) => ({ rule, enabled: this.active.includes(rule), refusals: this.refusals.get(rule.name) ?? 0 }));
  }

  /** The first active rule the request matches; counts and logs (once per address per minute) when one does. */
  check(url: string, headers: IncomingHttpHeaders, clientIp: string): MitigationRule | undefined {
    if (this.active.length === 0) return undefined;
    const canonical = canonicalForMatching(url);
    for (const rule of this.active) {
      if (!matches(rule, canonical, headers)) continue;
      this.refusals.set(rule.name, (this.refusals.get(rule.name) ?? 0) + 1);
      this.logOnce(rule, clientIp, url);
      return rule;
    }
    return undefined;
  }

  private logOnce(rule: MitigationRule, clientIp: string, url: string): void {
    const now = Date.now();
    const key = `${rule.name} ${clientIp}`;
    const last = this.lastLogged.get(key);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    if (this.lastLogged.size >= LOG_MEMORY) this.lastLogged.clear();
    this.lastLogged.set(key, now);
    this.logger.warn('request refused: known Exchange exploit', {
      rule: rule.name,
      cve: rule.cves.join(','),
      client: clientIp,
      // The raw target, cut short: enough to recognise the shape, not a way to flood the log.
      url: url.length > 200 ? `${url.slice(0, 200)}…` : url,
    });
  }
}
