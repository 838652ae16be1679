// Source-IP affinity (Exchange 2010 coexistence: Outlook Anywhere by client address). Weighted rendezvous hashing
// (highest random weight): every (client, backend) pair gets a score, the highest wins. A client stays on its
// server while the candidates are unchanged; when one server leaves, only its own clients move; when it comes
// back (slow start raises its weight), only the clients that belong to it return.
import type { Backend } from '../backend.js';
import type { Balancer, PickContext } from './balancer.js';

/** FNV-1a over the address text, 32 bits. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finalizer: spreads a 32-bit value over all bits. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Rendezvous score of `key` on `b`: -w / ln(u) with u uniform in (0, 1); higher wins. */
export function rendezvousScore(key: number, b: Backend, now: number): number {
  const w = b.effectiveWeight(now);
  if (w <= 0) return -1;
  const u = (mix32(key ^ b.hashSeed) + 0.5) / 4294967296;
  return -w / Math.log(u);
}

export function rendezvousPick(candidates: readonly Backend[], key: number): Backend {
  const now = performance.now();
  let best = candidates[0]!;
  let bestScore = rendezvousScore(key, best, now);
  for (let i = 1; i < candidates.length; i++) {
    const b = candidates[i]!;
    const score = rendezvousScore(key, b, now);
    if (score > bestScore) [best, bestScore] = [b, score];
  }
  return best;
}

export class SourceIpBalancer implements Balancer {
  pick(candidates: readonly Backend[], ctx: PickContext): Backend {
    return rendezvousPick(candidates, hashString(ctx.clientIp));
  }
}
