// The figures of an HA scenario from the client's events and the parent's address samples: which failures count as
// sent to the failed node, when the address answered from the other node, when held connections were back.
import { expect, test } from 'vitest';
import { analyseScenario, VipRecorder, type ScenarioWindow } from '../../src/bench/ha/analyse.js';
import type { ClientEvent } from '../../src/bench/ha/client.js';
import { HA_HEADING, replaceHaSection } from '../../src/bench/ha/report.js';

const T = 1_000_000;
const window: ScenarioWindow = { name: '1. kill', action: 'kill -9', master: 'lb1', at: T, windowMs: 10_000, expectMove: true };
const addresses = { lb1: '10.98.0.1', lb2: '10.98.0.2' };

function vip(): VipRecorder {
  const r = new VipRecorder();
  r.record(T - 5_000, true, false);
  r.record(T - 4_000, true, false); // unchanged: not recorded
  r.record(T + 1_500, false, false);
  r.record(T + 1_800, false, true);
  return r;
}

test('the recorder keeps changes only', () => {
  expect(vip().samples.map((s) => s.at)).toEqual([T - 5_000, T + 1_500, T + 1_800]);
});

test('failures are split by when they were sent and on which connection; connects are counted apart', () => {
  const events: ClientEvent[] = [
    { e: 'req', kind: 'ews', sent: T - 10, end: T + 5, ok: false, failure: 'reset', status: 0, connect: false, connOpened: T - 3_000 },
    { e: 'req', kind: 'owa', sent: T + 100, end: T + 1_900, ok: false, failure: 'reset', status: 0, connect: false, connOpened: T - 3_000 },
    { e: 'req', kind: 'owa', sent: T + 200, end: T + 210, ok: false, failure: 'connect-refused', status: 0, connect: true },
    { e: 'req', kind: 'owa', sent: T + 2_000, end: T + 2_050, ok: false, failure: 'reset', status: 0, connect: false, connOpened: T + 1_950 },
    { e: 'req', kind: 'owa', sent: T + 2_100, end: T + 2_150, ok: true, status: 200, connect: false, connOpened: T + 1_950 },
    { e: 'req', kind: 'owa', sent: T + 11_000, end: T + 11_010, ok: false, status: 0, connect: false, failure: 'reset' }, // after the window
    { e: 'probe', sent: T + 1_000, end: T + 1_010, ok: true, node: '10.98.0.1' },
    { e: 'probe', sent: T + 1_900, end: T + 1_960, ok: true, node: '10.98.0.2' },
    { e: 'lost', kind: 'activesync', slot: 0, at: T + 10, failure: 'reset' },
    { e: 'back', kind: 'activesync', slot: 0, at: T + 2_300 },
    { e: 'lost', kind: 'rpc', slot: 1, at: T + 20, failure: 'closed' },
    { e: 'conn', kind: 'owa', at: T + 1_950, resumed: true },
    { e: 'conn', kind: 'rpc', at: T + 2_400, resumed: false },
  ];
  const f = analyseScenario(window, events, vip().samples, addresses);
  expect(f.vipMovedS).toBe(1.8);
  expect(f.answeredS).toBe(1.96);
  expect(f.holderAtEnd).toBe('lb2');
  expect(f.requests).toBe(5);
  expect(f.failed).toEqual({ ews: { inFlight: 1, oldConnection: 0, newConnection: 0 }, owa: { inFlight: 0, oldConnection: 1, newConnection: 1 } });
  expect(f.connectFailures).toBe(1);
  expect(f.lastConnectFailureS).toBe(0.21);
  expect(f.longLived.activesync).toEqual({ cut: 1, reconnected: 1, maxReconnectS: 2.3 });
  expect(f.longLived.rpc).toEqual({ cut: 1, reconnected: 0, maxReconnectS: null });
  expect([f.handshakes, f.resumed]).toEqual([2, 1]);
});

test('a scenario where the address must not move reports no move even if the other node holds it', () => {
  const f = analyseScenario({ ...window, master: 'lb2', expectMove: false }, [], vip().samples, addresses);
  expect(f.vipMovedS).toBeNull();
  expect(f.answeredS).toBeNull();
});

test('the HA section replaces its earlier self below the kept-sections marker and keeps what follows', () => {
  const marker = '<!-- Sections below this line are kept when `npm run bench:peers` rewrites the file. -->';
  const before = `# Results\n\n${marker}\n\n## Failover\n\nold\n\n${HA_HEADING}\n\nfirst run\n\n## 20,000 idle ActiveSync Pings\n\npings\n`;
  const after = replaceHaSection(before, `${HA_HEADING}\n\nsecond run\n`);
  expect(after).toContain('second run');
  expect(after).not.toContain('first run');
  expect(after).toContain('## Failover\n\nold');
  expect(after).toContain('## 20,000 idle ActiveSync Pings\n\npings');
  expect(replaceHaSection(`# Results\n\n${marker}\n`, `${HA_HEADING}\n\nx\n`)).toMatch(new RegExp(`${marker}\\n\\n${HA_HEADING.replace(/[()]/g, '\\$&')}\\n\\nx\\n$`));
});
