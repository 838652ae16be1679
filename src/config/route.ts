// A route is the planned form of one publishing rule: which requests it takes and where they go. config/plan.ts
// makes routes and router/ matches requests against them, so the type lives here, below both (config is the bottom
// layer; router imports it, never the other way).
import type { BlockList } from 'node:net';
import type { ExchangeService } from './exchange.js';

export interface Route {
  /** Shown in logs, metrics and the admin API: `exchange/owa`, or the route's configured name. */
  name: string;
  /** Lower-case host names (`*.domain` for one label); undefined = any host. */
  hosts?: string[];
  /** Path prefix as configured (for display) and lower-cased without a trailing slash (for matching). */
  path: string;
  matchPath: string;
  /** Runtime pool name (Exchange pools are `<pool>/<service>`). */
  pool: string;
  /** 0 = no limit. Node's and undici's 300 s defaults never apply: these always do. */
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  /** Clients allowed; undefined = everyone. */
  allow?: BlockList;
  service?: ExchangeService;
  /** Carries Outlook Anywhere channels (rpc-tunnel.ts): the Exchange preset's `rpc` service, or a route with `rpc`. */
  rpc?: boolean;
}

/** Normalises a configured prefix for matching: lower case, no trailing slash, '' for '/'. */
export function matchPathOf(path: string): string {
  return path.toLowerCase().replace(/\/+$/, '');
}
