// Inserted-cookie affinity (Exchange 2010 coexistence: OWA/ECP). A client whose cookie names an available
// backend goes there; anyone else (no cookie, or its server is gone) is placed by smooth weighted round-robin
// and the engine sets the cookie (`pools.<name>.cookieName`) on the response.
import type { Backend } from '../backend.js';
import type { Balancer, PickContext } from './balancer.js';
import { smoothWeightedPick } from './weighted.js';

export class CookieBalancer implements Balancer {
  pick(candidates: readonly Backend[], ctx: PickContext): Backend {
    if (ctx.affinity) for (const b of candidates) if (b.affinityId === ctx.affinity) return b;
    return smoothWeightedPick(candidates, performance.now());
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
