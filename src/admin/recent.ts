// Requests and server errors per pool over the last minute, for the status page (Prometheus has the long view).
// Sixty one-second buckets per pool in a ring: a request costs a map lookup and two additions.
const SECONDS = 60;

interface Ring {
  /** Which second (Date.now()/1000, floored) each bucket holds; a stale bucket is reset when reused. */
  second: Float64Array;
  requests: Float64Array;
  errors: Float64Array;
}

export interface RecentCounts {
  requests: number;
  /** Answers with a 5xx status (casgate's own 502/503/504 included), not client aborts. */
  errors: number;
  /** errors / requests, 0 when there were none. */
  errorRate: number;
}

export class RecentPoolCounts {
  private readonly rings = new Map<string, Ring>();

  observe(pool: string, status: number, nowMs = Date.now()): void {
    let ring = this.rings.get(pool);
    if (!ring) this.rings.set(pool, (ring = { second: new Float64Array(SECONDS).fill(-1), requests: new Float64Array(SECONDS), errors: new Float64Array(SECONDS) }));
    const second = Math.floor(nowMs / 1000);
    const i = second % SECONDS;
    if (ring.second[i] !== second) {
      ring.second[i] = second;
      ring.requests[i] = 0;
      ring.errors[i] = 0;
    }
    ring.requests[i]!++;
    if (status >= 500 && status < 600) ring.errors[i]!++;
  }

  /** Counts of the last 60 s (the current second included). */
  lastMinute(pool: string, nowMs = Date.now()): RecentCounts {
    const ring = this.rings.get(pool);
    let requests = 0;
    let errors = 0;
    if (ring) {
      const oldest = Math.floor(nowMs / 1000) - SECONDS;
      for (let i = 0; i < SECONDS; i++) {
        if (ring.second[i]! > oldest) {
          requests += ring.requests[i]!;
          errors += ring.errors[i]!;
        }
      }
    }
    return { requests, errors, errorRate: requests ? errors / requests : 0 };
  }
}
