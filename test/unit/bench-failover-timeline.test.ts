// The figures of `casgate bench failover` come from an event log: these pin the computations on synthetic logs, where
// the right answer is known, apart from the processes that produce real ones.
import { describe, expect, it } from 'vitest';
import {
  availabilityAfter,
  bucketize,
  observedEvents,
  stoppedReceivingAfter,
  summarizeEvents,
  summarizeWindow,
  tookTrafficAfter,
  type AvailabilityChange,
  type HeldLoss,
  type RequestSample,
} from '../../src/bench/failover/timeline.js';

const req = (sentAt: number, backend: string | undefined, extra: Partial<RequestSample> = {}): RequestSample => ({
  kind: 'owa',
  sentAt,
  endAt: sentAt + 20,
  status: 200,
  attempts: 1,
  ...(backend !== undefined ? { backend } : {}),
  ...extra,
});

describe('bucketize', () => {
  it('counts requests per backend per bucket as requests per second, by the time the gateway took them', () => {
    const samples = [req(0, 'cas1'), req(100, 'cas1'), req(499, 'cas2'), req(500, 'cas1'), req(1999, 'cas2'), req(2000, 'cas1')];
    const tl = bucketize(samples, { startMs: 0, endMs: 2000, widthMs: 500 });
    expect(tl.buckets).toBe(4);
    expect(tl.backends).toEqual(['cas1', 'cas2']);
    expect(tl.rates.cas1).toEqual([4, 2, 0, 0]); // 2 requests in 500 ms = 4/s; the one at 2000 is outside
    expect(tl.rates.cas2).toEqual([2, 0, 0, 2]);
  });

  it('keeps a line for a backend that took nothing and leaves out requests without a backend', () => {
    const tl = bucketize([req(10, undefined, { status: 503, failure: 'status-503' }), req(20, 'cas2')], { startMs: 0, endMs: 1000, widthMs: 1000, backends: ['cas1', 'cas2', 'cas3'] });
    expect(tl.backends).toEqual(['cas1', 'cas2', 'cas3']);
    expect(tl.rates.cas1).toEqual([0]);
    expect(tl.rates.cas2).toEqual([1]);
  });

  it('refuses a bucket of zero', () => {
    expect(() => bucketize([], { startMs: 0, endMs: 10, widthMs: 0 })).toThrow(/widthMs/);
  });
});

describe('when a server stopped taking traffic and took it again', () => {
  // cas1 goes into maintenance at 1000; the gateway still sends it requests until 1450 (probes fall), then none.
  const samples = [req(900, 'cas1'), req(1100, 'cas1'), req(1450, 'cas1'), req(1460, 'cas2'), req(1500, 'cas1', { status: 502, failure: 'status-502' }), req(3000, 'cas2'), req(4300, 'cas1'), req(4200, 'cas1', { status: 0, failure: 'reset' })];

  it('stopped: the last new request it answered after the event', () => {
    expect(stoppedReceivingAfter(samples, 'cas1', 1000, 4000)).toBe(450);
  });

  it('stopped: 0 when it took nothing after the event (a killed server, a drain)', () => {
    expect(stoppedReceivingAfter(samples, 'cas2', 3500, 4000)).toBe(0);
  });

  it('took traffic again: the first request it answered after the recovery, failures not counted', () => {
    expect(tookTrafficAfter(samples, 'cas1', 4000)).toBe(300);
    expect(tookTrafficAfter(samples, 'cas1', 4400)).toBeUndefined();
  });
});

describe('availabilityAfter', () => {
  const changes: AvailabilityChange[] = [
    { t: 0, backend: 'cas1', available: 7, pools: 7 },
    { t: 1200, backend: 'cas1', available: 3, pools: 7 },
    { t: 1500, backend: 'cas1', available: 0, pools: 7 },
    { t: 5100, backend: 'cas1', available: 4, pools: 7 },
    { t: 5300, backend: 'cas1', available: 7, pools: 7 },
    { t: 0, backend: 'cas2', available: 7, pools: 7 },
  ];
  it('out: when the server had left every pool', () => expect(availabilityAfter(changes, 'cas1', 1000, 'out')).toBe(500));
  it('in: when it was back in all of them', () => expect(availabilityAfter(changes, 'cas1', 5000, 'in')).toBe(300));
  it('0 when it already was', () => expect(availabilityAfter(changes, 'cas1', 2000, 'out')).toBe(0));
  it('undefined when it never was before the window ended', () => expect(availabilityAfter(changes, 'cas2', 0, 'out', 9000)).toBeUndefined());
});

describe('summarizeWindow and summarizeEvents', () => {
  const samples: RequestSample[] = [
    req(500, 'cas1'),
    req(900, 'cas1', { kind: 'ews', endAt: 1010, status: 502, failure: 'status-502' }), // in flight on cas1 at the kill
    req(950, 'cas1', { kind: 'activesync', endAt: 1005, status: 0, failure: 'reset' }),
    req(1020, 'cas2', { attempts: 2 }), // tried cas1 first, answered by cas2
    req(1100, undefined, { kind: 'mapi', status: 503, failure: 'status-503' }), // no backend: elsewhere
    req(1200, 'cas3', { kind: 'mapi', status: 400, failure: 'status-400' }), // not lost: a 4xx
    req(6000, 'cas1'),
  ];
  const losses: HeldLoss[] = [
    { type: 'activesync', slot: 1, lostAt: 1005, backend: 'cas1', failure: 'reset', reconnectedAt: 1300, reconnectedTo: 'cas2' },
    { type: 'rpc', slot: 0, lostAt: 1008, backend: 'cas1', failure: 'closed', reconnectedAt: 1800, reconnectedTo: 'cas3' },
    { type: 'rpc', slot: 1, lostAt: 1009, backend: 'cas1', failure: 'closed' },
  ];

  it('splits losses into on the failed server and elsewhere, by kind, and counts retried-then-OK', () => {
    const w = summarizeWindow(samples, losses, 'cas1', 1000, 5000);
    expect(w.kinds.ews).toMatchObject({ lostOnServer: 1, lostElsewhere: 0 });
    expect(w.kinds.activesync).toMatchObject({ lostOnServer: 1 });
    expect(w.kinds.mapi).toMatchObject({ sent: 2, lostElsewhere: 1, otherErrors: 1 });
    expect(w.total).toMatchObject({ sent: 3, lostOnServer: 2, lostElsewhere: 1, otherErrors: 1, retriedOk: 1 });
    expect(w.activesyncLost).toBe(1);
    expect(w.rpcLost).toBe(2);
    expect(w.heldReconnected).toBe(2);
    expect(w.heldNotReconnected).toBe(1);
    expect(w.heldReconnectedAfter).toBe(800);
    expect(w.heldReconnectMedian).toBe(295);
  });

  it('gives each event its window up to the next, with the out/back times', () => {
    const availability: AvailabilityChange[] = [
      { t: 0, backend: 'cas1', available: 2, pools: 2 },
      { t: 1450, backend: 'cas1', available: 0, pools: 2 },
      { t: 5600, backend: 'cas1', available: 2, pools: 2 },
    ];
    const [kill, restart] = summarizeEvents(
      [{ at: 5000, action: 'restart', server: 'cas1' }, { at: 1000, action: 'kill', server: 'cas1' }],
      samples,
      losses,
      availability,
      8000,
    );
    expect(kill!.event.action).toBe('kill');
    expect(kill!.until).toBe(5000);
    expect(kill!.stateChangedAfter).toBe(450);
    expect(kill!.lastNewRequestAfter).toBe(0);
    expect(restart!.stateChangedAfter).toBe(600);
    expect(restart!.tookTrafficAfter).toBe(1000);
    expect(restart!.total.lostOnServer + restart!.total.lostElsewhere).toBe(0);
  });
});

describe('observedEvents (a remote casgate watched without a schedule)', () => {
  it('a server leaving any pool it was in is seen-down; back in all of them, seen-up', () => {
    const a: AvailabilityChange[] = [
      { t: 0, backend: 'cas1', available: 9, pools: 10 }, // one bridged pool never up for it: its normal state
      { t: 0, backend: 'cas2', available: 10, pools: 10 },
      { t: 500, backend: 'cas1', available: 5, pools: 10 },
      { t: 700, backend: 'cas1', available: 0, pools: 10 },
      { t: 2000, backend: 'cas1', available: 4, pools: 10 },
      { t: 2500, backend: 'cas1', available: 9, pools: 10 },
      { t: 3000, backend: 'cas2', available: 9, pools: 10 },
    ];
    expect(observedEvents(a).map((e) => `${e.at} ${e.action} ${e.server}`)).toEqual(['500 seen-down cas1', '2500 seen-up cas1', '3000 seen-down cas2']);
  });
});
