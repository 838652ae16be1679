// The event log of a failover run and what is computed from it. Pure functions over plain data (times in ms since
// the run began), so that the figures a user reads (when a server stopped taking traffic, when it took traffic again,
// when long-lived clients were back) are tested on synthetic logs, apart from the processes that produce real ones.

/**
 * What happened to a server: an action the run carried out, or (against a remote casgate without a schedule) a change
 * the run saw in casgate's admin API: `seen-down` when the server left one of its pools, `seen-up` when it was back in
 * all of them. Outages take a server out; recoveries bring it back.
 */
export type EventAction = 'kill' | 'restart' | 'maintenance-on' | 'maintenance-off' | 'drain' | 'enable' | 'seen-down' | 'seen-up';
export const OUTAGES: ReadonlySet<EventAction> = new Set(['kill', 'maintenance-on', 'drain', 'seen-down']);

/**
 * Observed events from availability changes: a server leaving a pool it was in, and back in as many as it was in
 * before (a pool that was never up for it, such as a bridged pool it fails TLS verification in, does not count).
 */
export function observedEvents(availability: readonly AvailabilityChange[]): FailoverEvent[] {
  const full = new Map<string, number>();
  const down = new Set<string>();
  const events: FailoverEvent[] = [];
  for (const c of availability) {
    const most = Math.max(full.get(c.backend) ?? 0, c.available);
    full.set(c.backend, most);
    if (c.available < most && !down.has(c.backend)) {
      down.add(c.backend);
      events.push({ at: c.t, action: 'seen-down', server: c.backend });
    } else if (c.available === most && down.delete(c.backend)) {
      events.push({ at: c.t, action: 'seen-up', server: c.backend });
    }
  }
  return events;
}

export interface FailoverEvent {
  /** ms since the run began, when the action was started. */
  at: number;
  action: EventAction;
  server: string;
}

/** One HTTP request of the client load (request mix or ActiveSync Ping), joined with the gateway's record of it. */
export interface RequestSample {
  kind: string;
  /** When the gateway took it (its record's start; the client's send time when the gateway kept no record). */
  sentAt: number;
  /** When the client saw it end (answer read, or error). */
  endAt: number;
  /** HTTP status the client saw; 0 for a connection error. */
  status: number;
  /** Client-side error kind (reset, connect-refused...) or status-<code> for anything but 2xx/3xx. */
  failure?: string;
  /** The CAS that served it (last attempt), from the gateway record or X-FEServer. */
  backend?: string;
  /** Backend attempts the gateway made (2 or more: retried on another server). */
  attempts: number;
}

/** A long-lived client (ActiveSync Ping slot or RPC tunnel) whose connection was lost. */
export interface HeldLoss {
  type: 'activesync' | 'rpc';
  slot: number;
  lostAt: number;
  /** The CAS it was on when lost, when known. */
  backend?: string;
  failure: string;
  /** When its replacement was in place (Ping held again, tunnel open again); absent: never by the end. */
  reconnectedAt?: number;
  reconnectedTo?: string;
}

/** A change in how many of a server's pools consider it available (sampled from the gateway). */
export interface AvailabilityChange {
  t: number;
  backend: string;
  available: number;
  pools: number;
}

/**
 * Turns snapshots of "is backend X in service in pool P" into AvailabilityChange records: per backend, in how many of
 * its pools it is in service, recorded only when that number changes. Shared by the lab (the gateway's own backends)
 * and a remote casgate (its admin API).
 */
export class AvailabilityRecorder {
  private readonly last = new Map<string, number>();
  constructor(readonly changes: AvailabilityChange[]) {}

  record(t: number, memberships: Iterable<{ backend: string; inService: boolean }>): void {
    const counts = new Map<string, { available: number; pools: number }>();
    for (const m of memberships) {
      const c = counts.get(m.backend) ?? { available: 0, pools: 0 };
      c.pools++;
      if (m.inService) c.available++;
      counts.set(m.backend, c);
    }
    for (const [backend, c] of counts) {
      if (this.last.get(backend) === c.available) continue;
      this.last.set(backend, c.available);
      this.changes.push({ t, backend, ...c });
    }
  }
}

/** 5xx or a connection error: what a user sees as a failure caused by the outage. */
export function isLost(s: RequestSample): boolean {
  return s.failure !== undefined && (s.status === 0 || s.status >= 500);
}

export interface Timeline {
  startMs: number;
  widthMs: number;
  backends: string[];
  /** Requests per second taken by each backend, one value per bucket (by the time the gateway took the request). */
  rates: Record<string, number[]>;
  buckets: number;
}

/** Requests per second per backend in buckets of `widthMs` over [startMs, endMs). Requests without a backend are left out. */
export function bucketize(samples: readonly RequestSample[], opts: { startMs: number; endMs: number; widthMs: number; backends?: readonly string[] }): Timeline {
  const { startMs, endMs, widthMs } = opts;
  if (!(widthMs > 0)) throw new Error('widthMs: expected a positive number');
  const buckets = Math.max(1, Math.ceil((endMs - startMs) / widthMs));
  const names = new Set(opts.backends ?? []);
  for (const s of samples) if (s.backend !== undefined) names.add(s.backend);
  const backends = [...names].sort();
  const rates: Record<string, number[]> = {};
  for (const b of backends) rates[b] = new Array<number>(buckets).fill(0);
  const perRequest = 1000 / widthMs;
  for (const s of samples) {
    if (s.backend === undefined || s.sentAt < startMs || s.sentAt >= endMs) continue;
    const i = Math.floor((s.sentAt - startMs) / widthMs);
    rates[s.backend]![i]! += perRequest;
  }
  return { startMs, widthMs, backends, rates, buckets };
}

/**
 * How long after `from` the server took its last new request before `until` (ms), counting only requests it served
 * itself; 0 when it took none at all after `from`. A killed server serves nothing: its time out shows in markedOutAfter.
 */
export function stoppedReceivingAfter(samples: readonly RequestSample[], server: string, from: number, until = Infinity): number {
  let last = from;
  for (const s of samples) if (s.backend === server && s.sentAt >= from && s.sentAt < until && !isLost(s) && s.sentAt > last) last = s.sentAt;
  return last - from;
}

/** How long after `from` the server answered its first new request (ms); undefined when it took none before `until`. */
export function tookTrafficAfter(samples: readonly RequestSample[], server: string, from: number, until = Infinity): number | undefined {
  let first: number | undefined;
  for (const s of samples) {
    if (s.backend !== server || s.sentAt < from || s.sentAt >= until || s.failure !== undefined) continue;
    if (first === undefined || s.sentAt < first) first = s.sentAt;
  }
  return first === undefined ? undefined : first - from;
}

/** First time at or after `from` that the server was out of every pool (out) or back in all of them (in), as ms after `from`. */
export function availabilityAfter(changes: readonly AvailabilityChange[], server: string, from: number, want: 'out' | 'in', until = Infinity): number | undefined {
  // The state at `from` is the last change at or before it.
  let state: AvailabilityChange | undefined;
  const mine = changes.filter((c) => c.backend === server).sort((a, b) => a.t - b.t);
  for (const c of mine) {
    if (c.t > from) break;
    state = c;
  }
  const matches = (c: AvailabilityChange) => (want === 'out' ? c.available === 0 : c.available === c.pools);
  if (state && matches(state)) return 0;
  for (const c of mine) if (c.t > from && c.t < until && matches(c)) return c.t - from;
  return undefined;
}

export interface KindCounts {
  sent: number;
  /** Lost (5xx or connection error) while on the server the event was about. */
  lostOnServer: number;
  /** Lost elsewhere, or with no backend (503 with the pool empty). */
  lostElsewhere: number;
  /** Other non-2xx/3xx answers (4xx). */
  otherErrors: number;
  /** Answered after the gateway tried another server. */
  retriedOk: number;
}

export interface WindowSummary {
  from: number;
  until: number;
  kinds: Record<string, KindCounts>;
  total: KindCounts;
  activesyncLost: number;
  rpcLost: number;
  /** Of the long-lived clients lost in the window: how many had a replacement, and when the last one came (ms after `from`). */
  heldReconnected: number;
  heldNotReconnected: number;
  heldReconnectedAfter?: number;
  /** Median reconnect time of the lost long-lived clients, from their own loss (ms). */
  heldReconnectMedian?: number;
}

const zero = (): KindCounts => ({ sent: 0, lostOnServer: 0, lostElsewhere: 0, otherErrors: 0, retriedOk: 0 });

/** Requests and long-lived clients in [from, until): sent (by the time taken) and lost (by the time they ended). */
export function summarizeWindow(
  samples: readonly RequestSample[],
  losses: readonly HeldLoss[],
  server: string | undefined,
  from: number,
  until: number,
): WindowSummary {
  const kinds: Record<string, KindCounts> = {};
  const total = zero();
  const add = (kind: string, f: (k: KindCounts) => void) => {
    f((kinds[kind] ??= zero()));
    f(total);
  };
  for (const s of samples) {
    if (s.sentAt >= from && s.sentAt < until) {
      add(s.kind, (k) => {
        k.sent++;
        if (s.failure === undefined && s.attempts > 1) k.retriedOk++;
      });
    }
    if (s.failure !== undefined && s.endAt >= from && s.endAt < until) {
      if (!isLost(s)) add(s.kind, (k) => k.otherErrors++);
      else if (server !== undefined && s.backend === server) add(s.kind, (k) => k.lostOnServer++);
      else add(s.kind, (k) => k.lostElsewhere++);
    }
  }
  const mine = losses.filter((l) => l.lostAt >= from && l.lostAt < until);
  const back = mine.filter((l) => l.reconnectedAt !== undefined);
  const delays = back.map((l) => l.reconnectedAt! - l.lostAt).sort((a, b) => a - b);
  return {
    from,
    until,
    kinds,
    total,
    activesyncLost: mine.filter((l) => l.type === 'activesync').length,
    rpcLost: mine.filter((l) => l.type === 'rpc').length,
    heldReconnected: back.length,
    heldNotReconnected: mine.length - back.length,
    ...(back.length ? { heldReconnectedAfter: Math.max(...back.map((l) => l.reconnectedAt!)) - from } : {}),
    ...(delays.length ? { heldReconnectMedian: delays[Math.floor((delays.length - 1) / 2)]! } : {}),
  };
}

export interface EventSummary extends WindowSummary {
  event: FailoverEvent;
  /** Outages: until the gateway had the server out of every pool. Recoveries: until it was back in all of them. */
  stateChangedAfter?: number;
  /** Outages: the last new request the server took and answered, after the event. */
  lastNewRequestAfter?: number;
  /** Recoveries: the first request the server answered after the event. */
  tookTrafficAfter?: number;
}

/** One summary per event, each over the time until the next event (the last: until `endMs`). */
export function summarizeEvents(
  events: readonly FailoverEvent[],
  samples: readonly RequestSample[],
  losses: readonly HeldLoss[],
  availability: readonly AvailabilityChange[],
  endMs: number,
): EventSummary[] {
  const sorted = [...events].sort((a, b) => a.at - b.at);
  return sorted.map((event, i) => {
    const until = sorted[i + 1]?.at ?? endMs;
    const w = summarizeWindow(samples, losses, event.server, event.at, until);
    const outage = OUTAGES.has(event.action);
    const changed = availabilityAfter(availability, event.server, event.at, outage ? 'out' : 'in', until);
    const s: EventSummary = { ...w, event, ...(changed !== undefined ? { stateChangedAfter: changed } : {}) };
    if (outage) s.lastNewRequestAfter = stoppedReceivingAfter(samples, event.server, event.at, until);
    else {
      const took = tookTrafficAfter(samples, event.server, event.at, until);
      if (took !== undefined) s.tookTrafficAfter = took;
    }
    return s;
  });
}
