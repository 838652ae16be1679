// Maps (host, path) to a route. Paths match case-insensitively on whole segments, exactly as IIS treats
// Exchange's virtual directories: `/OWA/` and `/owa` match `/owa`, `/owafoo` does not. Routes bound to the
// request's host win over host-less routes; within each group the longest prefix wins.
import type { Route } from '../config/route.js';

export class Router {
  private readonly hostRoutes: Route[];
  private readonly anyHostRoutes: Route[];

  constructor(routes: Route[]) {
    const byLength = (a: Route, b: Route) => b.matchPath.length - a.matchPath.length;
    this.hostRoutes = routes.filter((r) => r.hosts).sort(byLength);
    this.anyHostRoutes = routes.filter((r) => !r.hosts).sort(byLength);
  }

  get routes(): readonly Route[] {
    return [...this.hostRoutes, ...this.anyHostRoutes];
  }

  /** `host` is the Host header (port allowed); `url` the request target (query allowed). */
  match(host: string | undefined, url: string): Route | undefined {
    const path = lowerPath(url);
    if (this.hostRoutes.length && host) {
      const name = hostName(host);
      for (const route of this.hostRoutes) {
        if (route.hosts!.some((h) => hostMatches(h, name)) && pathMatches(route.matchPath, path)) return route;
      }
    }
    for (const route of this.anyHostRoutes) if (pathMatches(route.matchPath, path)) return route;
    return undefined;
  }
}

/** The path part of a request target, lower-cased. Absolute-form targets (`http://h/p`) are reduced to their path. */
export function lowerPath(url: string): string {
  let start = 0;
  if (url.charCodeAt(0) !== 47 /* / */) {
    const scheme = url.indexOf('://');
    if (scheme > 0) {
      const slash = url.indexOf('/', scheme + 3);
      if (slash < 0) return '/';
      start = slash;
    }
  }
  let end = url.length;
  const q = url.indexOf('?', start);
  if (q >= 0) end = q;
  const hash = url.indexOf('#', start);
  if (hash >= 0 && hash < end) end = hash;
  return url.slice(start, end).toLowerCase();
}

/** `prefix` is lower-case without a trailing slash ('' for the root). */
export function pathMatches(prefix: string, path: string): boolean {
  if (prefix === '') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47 /* / */;
}

/** Host header without port, lower-cased; IPv6 literals keep their brackets. */
export function hostName(host: string): string {
  const h = host.toLowerCase();
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    return close > 0 ? h.slice(0, close + 1) : h;
  }
  const colon = h.indexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

/** A `*.domain` pattern covers exactly one extra label, as certificate wildcards do. */
export function hostMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const suffix = pattern.slice(1);
  return host.endsWith(suffix) && host.length > suffix.length && !host.slice(0, host.length - suffix.length).includes('.');
}

