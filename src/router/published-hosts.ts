// The names casgate publishes (exchange.hostnames and the routes' hosts, `*.domain` wildcards included): an
// absolute-form target must name one of them, and the HTTP → HTTPS redirect only ever points at one of them.
import { hostMatches } from './router.js';

export class PublishedHosts {
  private readonly patterns: string[];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map((p) => p.toLowerCase().replace(/\.$/, ''));
  }

  /** Whether any name is published at all (without one, nothing can be checked against them). */
  get any(): boolean {
    return this.patterns.length > 0;
  }

  /** The first published name that is not a wildcard: where a redirect goes when the client's Host is not published. */
  get first(): string | undefined {
    return this.patterns.find((p) => !p.startsWith('*.'));
  }

  /** `name` is lower case without port or trailing dot (request-host.ts's `name`). */
  covers(name: string): boolean {
    for (const p of this.patterns) if (hostMatches(p, name)) return true;
    return false;
  }
}
