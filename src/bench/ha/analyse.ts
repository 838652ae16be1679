// Turns the client's event log and the parent's own observations (who held the address when, what it did when) into
// the figures of each scenario. Pure functions over plain data, so that they are tested without namespaces.
import type { ClientEvent } from './client.js';

export interface VipSample {
  /** Date.now() */
  at: number;
  lb1: boolean;
  lb2: boolean;
}

export interface ScenarioWindow {
  name: string;
  /** What was done, for the report. */
  action: string;
  /** Node that held the address when the action was taken. */
  master: 'lb1' | 'lb2';
  /** When the action was taken (Date.now()) and how long the scenario was watched. */
  at: number;
  windowMs: number;
  /** Whether the address is expected to move to the other node. */
  expectMove: boolean;
}

export interface ScenarioFigures {
  name: string;
  action: string;
  from: 'lb1' | 'lb2';
  /** Seconds from the action until the other node held the address (keepalived's side), or null: it did not move. */
  vipMovedS: number | null;
  /** Seconds until a new connection to the address was answered by the other node (the client's side). */
  answeredS: number | null;
  /** Where the address was at the end of the window. */
  holderAtEnd: 'lb1' | 'lb2' | 'none' | 'both';
  requests: number;
  /** Failed requests by kind (owa, ews, activesync) and by when: in flight at the fault, sent afterwards on a
   *  connection to the old node, or on a connection opened after the address moved (should never happen). */
  failed: Record<string, { inFlight: number; oldConnection: number; newConnection: number }>;
  /** Connection attempts that failed (refused, timed out) before any request was sent, and the last of them (s). */
  connectFailures: number;
  lastConnectFailureS: number | null;
  /** Held connections cut and how long until each was back (seconds from the action). */
  longLived: Record<'activesync' | 'rpc', { cut: number; reconnected: number; maxReconnectS: number | null }>;
  /** TLS handshakes of reconnecting clients (request loops, Pings, RPC channels) in the window, and how many resumed. */
  handshakes: number;
  resumed: number;
}

const s3 = (ms: number) => Math.round(ms) / 1000;

export function holderOf(sample: VipSample | undefined): 'lb1' | 'lb2' | 'none' | 'both' {
  if (!sample) return 'none';
  return sample.lb1 && sample.lb2 ? 'both' : sample.lb1 ? 'lb1' : sample.lb2 ? 'lb2' : 'none';
}

export function analyseScenario(w: ScenarioWindow, events: readonly ClientEvent[], vip: readonly VipSample[], addresses: Record<'lb1' | 'lb2', string>): ScenarioFigures {
  const end = w.at + w.windowMs;
  const other = w.master === 'lb1' ? 'lb2' : 'lb1';
  const inWindow = (t: number) => t >= w.at && t < end;

  const moved = vip.find((v) => v.at >= w.at && v.at < end && v[other]);
  const vipMovedAt = w.expectMove ? moved?.at : undefined;
  const probes = events.filter((e): e is Extract<ClientEvent, { e: 'probe' }> => e.e === 'probe' && e.sent >= w.at && e.end < end && e.ok);
  const answered = w.expectMove ? probes.find((p) => p.node === addresses[other]) : undefined;
  const lastSample = [...vip].reverse().find((v) => v.at < end);

  const failed: ScenarioFigures['failed'] = {};
  let requests = 0;
  let connectFailures = 0;
  let lastConnectFailure: number | undefined;
  // A connection opened before the address moved went to the node that failed (or, without a move, to the holder).
  const movedAt = vipMovedAt ?? w.at;
  for (const e of events) {
    if (e.e !== 'req' || !inWindow(e.end)) continue;
    requests++;
    if (e.ok) continue;
    if (e.connect) {
      connectFailures++;
      lastConnectFailure = Math.max(lastConnectFailure ?? 0, e.end);
      continue;
    }
    const f = (failed[e.kind] ??= { inFlight: 0, oldConnection: 0, newConnection: 0 });
    if (e.sent < w.at) f.inFlight++;
    else if (e.connOpened !== undefined && e.connOpened >= movedAt && w.expectMove) f.newConnection++;
    else if (!w.expectMove && e.connOpened !== undefined && e.connOpened >= w.at) f.newConnection++;
    else f.oldConnection++;
  }

  const longLived: ScenarioFigures['longLived'] = {
    activesync: { cut: 0, reconnected: 0, maxReconnectS: null },
    rpc: { cut: 0, reconnected: 0, maxReconnectS: null },
  };
  for (const e of events) {
    if (e.e !== 'lost' || !inWindow(e.at)) continue;
    const l = longLived[e.kind];
    l.cut++;
    const back = events.find((b): b is Extract<ClientEvent, { e: 'back' }> => b.e === 'back' && b.kind === e.kind && b.slot === e.slot && b.at >= e.at);
    if (back && back.at < end) {
      l.reconnected++;
      l.maxReconnectS = Math.max(l.maxReconnectS ?? 0, s3(back.at - w.at));
    }
  }

  const conns = events.filter((e): e is Extract<ClientEvent, { e: 'conn' }> => e.e === 'conn' && inWindow(e.at));
  return {
    name: w.name,
    action: w.action,
    from: w.master,
    vipMovedS: vipMovedAt !== undefined ? s3(vipMovedAt - w.at) : null,
    answeredS: answered ? s3(answered.end - w.at) : null,
    holderAtEnd: holderOf(lastSample),
    requests,
    failed,
    connectFailures,
    lastConnectFailureS: lastConnectFailure !== undefined ? s3(lastConnectFailure - w.at) : null,
    longLived,
    handshakes: conns.length,
    resumed: conns.filter((c) => c.resumed).length,
  };
}

/** Records changes only: who holds the address, sampled by the parent. */
export class VipRecorder {
  readonly samples: VipSample[] = [];
  record(at: number, lb1: boolean, lb2: boolean): void {
    const last = this.samples.at(-1);
    if (!last || last.lb1 !== lb1 || last.lb2 !== lb2) this.samples.push({ at, lb1, lb2 });
  }
}
