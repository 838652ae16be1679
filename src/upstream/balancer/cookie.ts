// Inserted-cookie affinity (Exchange 2010 coexistence: OWA/ECP). A client whose cookie names an available
// backend goes there; anyone else (no cookie, or its server is gone) is placed by smooth weighted round-robin
// and the response sets the cookie (`pools.<name>.cookieName`) through setCookie().
import type { Backend } from '../backend.js';
import type { Balancer, PickContext } from './balancer.js';
import { smoothWeightedPick } from './weighted.js';

export class CookieBalancer implements Balancer {
  constructor(private readonly cookieName: string) {}

  pick(candidates: readonly Backend[], ctx: PickContext): Backend {
    const affinity = affinityFromCookie(ctx.cookie, this.cookieName);
    if (affinity) for (const b of candidates) if (b.affinityId === affinity) return b;
    return smoothWeightedPick(candidates, performance.now());
  }

  /** Set whenever the client's cookie does not already name `backend` (none, stale, or its server was gone). */
  setCookie(backend: Backend, ctx: PickContext): string | undefined {
    return affinityFromCookie(ctx.cookie, this.cookieName) === backend.affinityId ? undefined : affinitySetCookie(this.cookieName, backend.affinityId);
  }
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function affinityFromCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value that sends a client back to the backend with `affinityId`: a session cookie, HTTPS only. */
export function affinitySetCookie(name: string, affinityId: string): string {
  return `${name}=${affinityId}; Path=/; Secure; HttpOnly; SameSite=Lax`;
}
