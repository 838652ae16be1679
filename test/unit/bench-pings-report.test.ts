// bench pings writes its section below the line bench peers keeps: replacing its own earlier section, never the others.
import { describe, expect, it } from 'vitest';
import { KEPT_MARKER } from '../../bench/peers/results.js';
import { replaceSection } from '../../bench/pings/report.js';

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
