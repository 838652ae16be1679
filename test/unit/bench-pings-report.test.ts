// bench pings writes its section below the line bench peers keeps: replacing its own earlier section, never the others.
import { describe, expect, it } from 'vitest';
import { KEPT_MARKER } from '../../bench/peers/results.js';
import { renderPings, replaceSection, type PingsRun } from '../../bench/pings/report.js';

const peers = '# casgate against its peers\n\nfigures\n\n';
const failover = '## Failover\n\nkill 1.51 s\n';

describe('replaceSection', () => {
  it('appends the section after the kept sections the first time', () => {
    const out = replaceSection(`${peers}${KEPT_MARKER}\n\n${failover}`, '## 20,000 idle ActiveSync Pings\n\nheld 20,000\n');
    expect(out).toBe(`${peers}${KEPT_MARKER}\n\n${failover}\n## 20,000 idle ActiveSync Pings\n\nheld 20,000\n`);
  });

  it('replaces its own section in place, whatever the count, and keeps what follows', () => {
    const before = `${peers}${KEPT_MARKER}\n\n## 500 idle ActiveSync Pings\n\nold\n\n${failover}`;
    const out = replaceSection(before, '## 20,000 idle ActiveSync Pings\n\nnew\n');
    expect(out).toBe(`${peers}${KEPT_MARKER}\n\n## 20,000 idle ActiveSync Pings\n\nnew\n\n${failover}`);
    expect(replaceSection(out, '## 20,000 idle ActiveSync Pings\n\nnew\n')).toBe(out);
  });

  it('adds the marker to a file that has none, so that bench peers keeps the section', () => {
    const out = replaceSection(peers, '## 20,000 idle ActiveSync Pings\n\nx\n');
    expect(out.indexOf(KEPT_MARKER)).toBeLessThan(out.indexOf('## 20,000 idle'));
    expect(out.startsWith(peers.trimEnd())).toBe(true);
  });
});

describe('renderPings', () => {
  const KB = 1024;
  const run: PingsRun = {
    date: '2026-12-01T00:00:00.000Z', command: 'npm run bench:pings --', node: 'v20', cpus: 2, pings: 1_000, processes: 1, mocks: 1,
    holders: 1, holdS: 5, limits: { casgate: 20_000, mock: 20_000 }, notes: [], sent: 1_000, failedOpening: 0, rampS: 2, rampCpuS: 1,
    heldAtStart: 1_000, heldAtEnd: 1_000, mockHeld: 1_000, cutDuringHold: 0, answeredEarly: 0, answered: 1_000, answerS: 1,
    failedAtAnswer: 0, closedCleanly: 1_000, failures: {}, rssBefore: 100 * 1024 * KB, rssHeld: 100 * 1024 * KB + 45_000 * KB,
    rssPeak: 0, rssAfter: 0, mockRssHeld: 0, fdsBefore: 0, fdsHeld: 0, fdsAfter: 0, idleCpuS: 0, mockHeldAfter: 0,
  };

  it('gives RSS per held Ping, and with --reference the reference proxy’s and casgate’s ratio to it', () => {
    expect(renderPings(run)).toContain('| casgate RSS per held Ping (client TLS + CAS connection + request) | 45.0 KB |');
    expect(renderPings(run)).not.toContain('smallest Node proxy');
    const withRef = renderPings({ ...run, reference: { held: 1_000, failed: 0, rssBefore: 60 * 1024 * KB, rssHeld: 60 * 1024 * KB + 50_000 * KB } });
    expect(withRef).toMatch(/smallest Node proxy .*1,000 held, 0 failed\) \| 50\.0 KB \(casgate: 0\.90 × it\) \|/);
  });
});
