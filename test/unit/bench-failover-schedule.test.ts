// The schedule decides what a failover run does and when: defaults, a file replacing them, and mistakes caught early.
import { describe, expect, it } from 'vitest';
import { defaultSchedule, parseSchedule, validateSchedule } from '../../src/bench/failover/schedule.js';

describe('failover schedule', () => {
  it('default: kill/restart cas1, maintenance cas2, drain cas3, one phase apart after a phase of load', () => {
    const s = defaultSchedule(3, 5000);
    expect(s.durationMs).toBe(35_000);
    expect(s.events.map((e) => `${e.at} ${e.action} ${e.server}`)).toEqual([
      '5000 kill cas1',
      '10000 restart cas1',
      '15000 maintenance-on cas2',
      '20000 maintenance-off cas2',
      '25000 drain cas3',
      '30000 enable cas3',
    ]);
    expect(() => validateSchedule(s, 3)).not.toThrow();
  });

  it('with two servers the third scenario uses cas2', () => {
    expect(defaultSchedule(2, 1000).events.map((e) => e.server)).toEqual(['cas1', 'cas1', 'cas2', 'cas2', 'cas2', 'cas2']);
  });

  it('reads durations as text or seconds, sorts events, defaults the end to 8 s after the last', () => {
    const s = parseSchedule({ events: [{ at: '12s', action: 'enable', server: 'cas2' }, { at: 4, action: 'drain', server: 'cas2' }] }, 'x.yaml');
    expect(s.events.map((e) => e.at)).toEqual([4000, 12_000]);
    expect(s.durationMs).toBe(20_000);
  });

  it('names the bad key', () => {
    expect(() => parseSchedule({ events: [{ at: 'soon', action: 'kill', server: 'cas1' }] }, 'x.yaml')).toThrow(/x.yaml: events.0.at: expected a duration/);
    expect(() => parseSchedule({ events: [{ at: '1s', action: 'reboot', server: 'cas1' }] }, 'x.yaml')).toThrow(/events.0.action/);
  });

  it('rejects unknown servers, events after the end, and restarts without a kill', () => {
    expect(() => validateSchedule({ durationMs: 10_000, events: [{ at: 1000, action: 'kill', server: 'cas4' }] }, 3)).toThrow(/cas4 is not one of cas1..cas3/);
    expect(() => validateSchedule({ durationMs: 1000, events: [{ at: 1000, action: 'drain', server: 'cas1' }] }, 3)).toThrow(/not before the end/);
    expect(() => validateSchedule({ durationMs: 9000, events: [{ at: 1000, action: 'restart', server: 'cas1' }] }, 3)).toThrow(/not killed/);
  });

  it('against a remote casgate: only drain and enable, on the servers its admin API names', () => {
    const drain = { durationMs: 9000, events: [{ at: 1000, action: 'drain' as const, server: 'EXCH01' }] };
    expect(() => validateSchedule(drain, ['EXCH01', 'EXCH02'], ['drain', 'enable'])).not.toThrow();
    expect(() => validateSchedule(drain, ['EXCH02'], ['drain', 'enable'])).toThrow(/events\[0\].server: EXCH01 is not one of EXCH02/);
    // Names unknown (no --admin): not checked.
    expect(() => validateSchedule(drain, [], ['drain', 'enable'])).not.toThrow();
    const kill = { durationMs: 9000, events: [{ at: 1000, action: 'kill' as const, server: 'EXCH01' }] };
    expect(() => validateSchedule(kill, ['EXCH01'], ['drain', 'enable'])).toThrow(/events\[0\].action: kill needs the built-in lab/);
  });
});
