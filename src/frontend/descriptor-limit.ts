// How many long-lived requests the process's descriptor limit allows. Each proxied request holds 2 descriptors while it
// waits (the client's socket and the CAS's), and ActiveSync Pings wait for up to an hour, so the limit, not memory,
// is what a busy gateway runs out of first (bench pings: 20,000 Pings need 40,000 descriptors). Node raises its soft
// limit to the hard one at start; only the hard limit (systemd LimitNOFILE, ulimit -Hn) can give more.
import { readFileSync } from 'node:fs';

/** Descriptors kept aside for listeners, logs, health probes and Node itself. */
export const RESERVED_DESCRIPTORS = 1_000;
/** Below this many concurrent long-lived requests, `casgate run` warns at start (issue 5's target: 20,000 Pings). */
export const WANTED_LONG_LIVED = 20_000;

/** The soft `Max open files` of this process (Linux), or undefined where /proc does not say. */
export function descriptorLimit(limits = (): string => readFileSync('/proc/self/limits', 'utf8')): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits());
    if (!m) return undefined;
    return m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** Long-lived requests (Pings, RPC channels, MAPI waits) the limit holds at once. */
export function longLivedCapacity(limit: number): number {
  return Math.max(0, Math.floor((limit - RESERVED_DESCRIPTORS) / 2));
}

/** A warning for the start-up log when the limit holds fewer than WANTED_LONG_LIVED long-lived requests. */
export function descriptorLimitWarning(limit: number | undefined): string | undefined {
  if (limit === undefined || limit === Infinity) return undefined;
  const capacity = longLivedCapacity(limit);
  if (capacity >= WANTED_LONG_LIVED) return undefined;
  const wanted = 2 * WANTED_LONG_LIVED + RESERVED_DESCRIPTORS;
  return (
    `descriptor limit ${limit} holds about ${capacity} long-lived requests at once (ActiveSync Pings, RPC channels: 2 descriptors ` +
    `each, client and CAS); beyond that new connections are reset or answered 503 GATEWAY_EXHAUSTED. Raise it (systemd LimitNOFILE=${wanted} or more)`
  );
}

/**
 * Where the HTTPS listener starts shedding and refusing client connections, from the descriptor limit (issue 15).
 * Clients that may each hold a CAS connection too are admitted up to `shedAt` (the long-lived capacity: 2 descriptors
 * each after the reserve); from there to `refuseAt`, a new connection is answered `503 GATEWAY_EXHAUSTED` and closed
 * (it holds 1 descriptor for a moment); past `refuseAt` it is closed at accept. Half the reserve is never used by
 * clients at all, so the admin listener, health probes and logs keep working, and the gateway recovers by itself as
 * soon as the flood's connections close or hit their deadlines. The reserve is scaled down for small limits
 * (a quarter of the limit, at least 32) so that a test with `ulimit -n 256` still admits clients.
 */
export function connectionCeilings(limit: number | undefined): { shedAt: number; refuseAt: number } | undefined {
  if (limit === undefined || limit === Infinity) return undefined;
  const reserve = Math.min(RESERVED_DESCRIPTORS, Math.max(32, Math.floor(limit / 4)));
  const shedAt = Math.max(1, Math.floor((limit - reserve) / 2));
  return { shedAt, refuseAt: shedAt + Math.floor(reserve / 2) };
}
