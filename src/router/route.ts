// A route is the runtime form of one publishing rule: which requests it takes and where they go.
import type { BlockList } from 'node:net';
import type { ExchangeService } from '../config/exchange.js';

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
